package ciba

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/oauth"
)

// FuzzRequestClaims feeds arbitrary claim sets to the parameter reader: no panic, and
// every refusal is invalid_request.
func FuzzRequestClaims(f *testing.F) {
	for _, s := range []string{
		`{"scope":"openid accounts","login_hint":"alice","requested_expiry":"30","openbanking_intent_id":{"value":"aac-1","essential":true}}`,
		`{"claims":{"id_token":{"openbanking-intent-id":"aac-2"}},"requested_expiry":10}`,
		`{"openbanking_intent_id":{"value":7},"binding_message":["x"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		tok := jwt.New()
		if json.Unmarshal(payload, tok) != nil {
			return
		}
		p, err := paramsFromClaims(tok)
		if err != nil {
			if oe, ok := err.(*oauth.Error); !ok || oe.Code != "invalid_request" {
				t.Fatalf("error %v", err)
			}
			return
		}
		if p.RequestedExpiry < 0 {
			t.Fatalf("negative requested_expiry from %s", payload)
		}
	})
}

// FuzzRequestObjectVerify: arbitrary compact strings never panic and never verify.
func FuzzRequestObjectVerify(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.sig")
	f.Add("a.b.c.d.e")
	f.Add("")
	s, err := newStoreForFuzz(f)
	if err != nil {
		f.Fatal(err)
	}
	ro := &RequestObject{Issuer: issuer, Algs: RequestObjectAlgs, Replay: s}
	set := jwk.NewSet()
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := ro.Verify(raw, "tpp", set, time.Now()); err == nil {
			t.Fatalf("verified %q with no keys", raw)
		}
	})
}
