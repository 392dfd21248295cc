package caddyciba

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/caddyciba/gateway/internal/obsig"
)

// TestMessageSigningOptions: jws_signature (a flag, with the client's iss optionally) and
// the gateway's jws_issuer, jws_trust_anchor and jws_version adapt to their JSON, and a
// version without a signature form is refused.
func TestMessageSigningOptions(t *testing.T) {
	src := `{
	ciba {
		issuer https://bank.example
		jws_issuer       org-bank/ssa-gw
		jws_trust_anchor example.org
		jws_version      v3.1.2
		client a {
			auth      private_key_jwt
			jwks_file a.jwks.json
			jws_signature
		}
		client b {
			auth      private_key_jwt
			jwks_file b.jwks.json
			jws_signature org-b/ssa-b
		}
	}
}
`
	out, err := adapt(src)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Apps struct {
			Ciba App `json:"ciba"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	app := cfg.Apps.Ciba
	if app.JWSIssuer != "org-bank/ssa-gw" || app.JWSTrustAnchor != "example.org" || app.JWSVersion != "v3.1.2" {
		t.Fatalf("app: %+v", app)
	}
	if a, b := app.Clients[0], app.Clients[1]; !a.JWSSignature || a.JWSIssuer != "" || !b.JWSSignature || b.JWSIssuer != "org-b/ssa-b" {
		t.Fatalf("clients: %+v %+v", a, b)
	}
	for name, bad := range map[string]string{
		"two iss":       strings.Replace(src, "jws_signature org-b/ssa-b", "jws_signature org-b/ssa-b more", 1),
		"version 3.2":   strings.Replace(src, "v3.1.2", "v3.2", 1),
		"no issuer arg": strings.Replace(src, "jws_issuer       org-bank/ssa-gw", "jws_issuer", 1),
	} {
		if _, err := adapt(bad); err == nil {
			if name == "version 3.2" {
				// Validated when the app is provisioned.
				var a App
				a.Issuer, a.JWSVersion = "https://bank.example", "v3.2"
				if a.Validate() == nil {
					t.Errorf("%s: accepted", name)
				}
				continue
			}
			t.Errorf("%s: adapted", name)
		}
	}
}

// TestMessageSigningES256: with signing_alg ES256 the payment APIs still sign PS256, with
// a key of their own that /jwks publishes beside the ES256 ones.
func TestMessageSigningES256(t *testing.T) {
	bank := newPayBank(t)
	dir := t.TempDir()
	cfg := gatewayConfig(filepath.Join(dir, "store"), `signing_alg ES256
		client tpp-pay {
			auth   client_secret_basic
			secret pay-secret
			scopes openid payments fundsconfirmations
		}`)
	cfg = strings.ReplaceAll(cfg, "route /open-banking/v3.1/aisp/* {", "route /open-banking/v3.1/* {")
	startGateway(t, strings.ReplaceAll(cfg, accountAPI, "reverse_proxy "+strings.TrimPrefix(bank.srv.URL, "http://")))
	id, tok := authorisedPayment(t, "tpp-pay", testInitiation)
	r := pay(t, tok, paymentBody(id, testInitiation, testRisk), "k")
	if r.status != http.StatusCreated {
		t.Fatalf("payment: %d %s", r.status, r.raw)
	}
	keys := get(t, client(nil), httpBase+"/jwks")
	set, err := jwk.Parse([]byte(keys.raw))
	if err != nil {
		t.Fatal(err)
	}
	algs := map[string]bool{}
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		algs[k.Algorithm().String()] = true
	}
	if !algs["ES256"] || !algs["PS256"] {
		t.Fatalf("jwks: %s", keys.raw)
	}
	if err := obsig.Verify(r.header.Get("X-Jws-Signature"), []byte(r.raw), set, obsig.Options{Issuer: httpBase}); err != nil {
		t.Fatalf("the answer's signature does not verify with /jwks: %v", err)
	}
}
