package op

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/obsig"
)

// TestSendSigned: a held answer goes out with its status, its body and a signature over
// it; one that cannot be signed (here an ES256 key where PS256 is required) is not sent
// at all, only a 500 without a signature.
func TestSendSigned(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		alg        jwa.SignatureAlgorithm
		wantStatus int
		signed     bool
	}{
		{"PS256 key", jwa.PS256, http.StatusCreated, true},
		{"unusable key", jwa.ES256, http.StatusInternalServerError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t)
			ring, err := keys.LoadOrCreate(s, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			p := New(Config{Issuer: "https://bank.example", MessageSigning: MessageSigning{Issuer: "bank", TrustAnchor: "openbanking.org.uk", Keys: ring}}, s, ring, nil)
			held := NewHeldAnswer(http.Header{})
			held.WriteHeader(http.StatusCreated)
			_, _ = held.Write([]byte(`{"Data":{"ConsentId":"pdc-1"}}`))
			rec := httptest.NewRecorder()
			p.SendSigned(rec, httptest.NewRequest(http.MethodPost, "/x", nil), held)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			sig := rec.Header().Get(obsig.HeaderName)
			if (sig != "") != tc.signed {
				t.Fatalf("signature %q, want signed %v", sig, tc.signed)
			}
			if !tc.signed && strings.Contains(rec.Body.String(), "pdc-1") {
				t.Fatalf("the unsigned answer went out: %s", rec.Body)
			}
		})
	}
}
