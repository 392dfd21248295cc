package keys

import (
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

// BenchmarkSignJWT is the ID token signature of each algorithm.
func BenchmarkSignJWT(b *testing.B) {
	for _, alg := range Supported {
		b.Run(alg.String(), func(b *testing.B) {
			s, err := store.OpenBadger(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			k, err := LoadOrCreate(s, alg)
			if err != nil {
				b.Fatal(err)
			}
			tok := jwt.New()
			_ = tok.Set(jwt.SubjectKey, "psu-1")
			_ = tok.Set(jwt.ExpirationKey, time.Now().Add(time.Minute))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.SignJWT(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
