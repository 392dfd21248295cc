package op

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/ratelimit"
)

// BenchmarkTokenRateLimit is what the store bucket adds to a client-credentials token:
// "off" without a limit, "on" with one too high to refuse (every call counted), "refused"
// over its limit (answered from the bucket's remembered refill time).
func BenchmarkTokenRateLimit(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate *ratelimit.Rate
	}{
		{"off", nil},
		{"on", &ratelimit.Rate{Events: 1_000_000, Per: time.Second, Burst: 1_000_000}},
		{"refused", &ratelimit.Rate{Events: 1, Per: time.Minute, Burst: 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := fuzzProvider(b)
			p.Clients.Lookup("tpp").RateLimit = tc.rate
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials&scope=accounts"))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.SetBasicAuth("tpp", "secret")
					w := httptest.NewRecorder()
					p.ServeToken(w, r)
					// "refused" has one call of burst, then only 429s.
					if w.Code != http.StatusOK && (tc.name != "refused" || w.Code != http.StatusTooManyRequests) {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
