package caddyciba

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/testpki"
	"github.com/caddyciba/gateway/internal/token"
)

// TestClientAuthentication runs each of the five methods over real TLS: one success and
// the failures each method must refuse, all as 401 invalid_client with the same message.
func TestClientAuthentication(t *testing.T) {
	startGateway(t, gatewayConfig(t.TempDir(), ""))
	cc := formOf("grant_type", "client_credentials")
	withID := func(id string, kv ...string) url.Values {
		f := formOf(append([]string{"grant_type", "client_credentials", "client_id", id}, kv...)...)
		return f
	}
	pkj := func(aud string, edit func(jwt.Token)) url.Values {
		return assertionForm(assertion(t, fx.pkjKey, jwa.ES256, "tpp-pkj", aud, edit))
	}
	replayed := pkj(httpBase, nil)

	for _, tc := range []struct {
		name   string
		cert   *testpki.Cert
		form   url.Values
		basic  []string
		client string // the authenticated client on success, "" for a refusal
	}{
		{name: "basic", form: cc, basic: []string{"tpp-basic", "b@sic secret+/:~"}, client: "tpp-basic"},
		{name: "basic with matching body client_id", form: withID("tpp-basic"), basic: []string{"tpp-basic", "b@sic secret+/:~"}, client: "tpp-basic"},
		{name: "basic wrong secret", form: cc, basic: []string{"tpp-basic", "wrong"}},
		{name: "basic unknown client", form: cc, basic: []string{"nobody", "b@sic secret+/:~"}},
		{name: "basic with another body client_id", form: withID("tpp-post"), basic: []string{"tpp-basic", "b@sic secret+/:~"}},
		{name: "basic secret sent by post", form: withID("tpp-basic", "client_secret", "b@sic secret+/:~")},

		{name: "post", form: withID("tpp-post", "client_secret", "post-secret"), client: "tpp-post"},
		{name: "post wrong secret", form: withID("tpp-post", "client_secret", "post-secret2")},
		{name: "post no secret", form: withID("tpp-post")},
		{name: "post secret sent as basic", form: cc, basic: []string{"tpp-post", "post-secret"}},
		{name: "no credentials at all", form: cc},

		{name: "private_key_jwt aud issuer", form: pkj(httpBase, nil), client: "tpp-pkj"},
		{name: "private_key_jwt aud token endpoint", form: pkj(httpBase+"/token", nil), client: "tpp-pkj"},
		{name: "private_key_jwt aud backchannel endpoint", form: pkj(httpBase+"/bc-authorize", nil), client: "tpp-pkj"},
		{name: "private_key_jwt aud mtls token alias", form: pkj(httpsBase+"/token", nil), client: "tpp-pkj"},
		{name: "private_key_jwt aud as array", form: pkj("", func(tok jwt.Token) { tok.Set(jwt.AudienceKey, []string{"https://elsewhere", httpBase}) }), client: "tpp-pkj"},
		{name: "private_key_jwt first use", form: replayed, client: "tpp-pkj"},
		{name: "private_key_jwt replayed jti", form: replayed},
		{name: "private_key_jwt wrong aud", form: pkj("https://other.example", nil)},
		{name: "private_key_jwt wrong key", form: assertionForm(assertion(t, fx.otherKey, jwa.ES256, "tpp-pkj", httpBase, nil))},
		{name: "private_key_jwt RS256", form: assertionForm(assertion(t, fx.rsKey, jwa.RS256, "tpp-pkj", httpBase, nil))},
		{name: "private_key_jwt PS256 with the registered RSA key", form: assertionForm(assertion(t, fx.rsKey, jwa.PS256, "tpp-pkj", httpBase, nil)), client: "tpp-pkj"},
		{name: "private_key_jwt expired", form: pkj(httpBase, func(tok jwt.Token) { tok.Set(jwt.ExpirationKey, time.Now().Add(-5*time.Minute)) })},
		{name: "private_key_jwt without exp", form: pkj(httpBase, func(tok jwt.Token) { tok.Remove(jwt.ExpirationKey) })},
		{name: "private_key_jwt without jti", form: pkj(httpBase, func(tok jwt.Token) { tok.Remove(jwt.JwtIDKey) })},
		{name: "private_key_jwt oversized jti", form: pkj(httpBase, func(tok jwt.Token) { tok.Set(jwt.JwtIDKey, strings.Repeat("j", 300)) })},
		{name: "private_key_jwt sub differs", form: pkj(httpBase, func(tok jwt.Token) { tok.Set(jwt.SubjectKey, "tpp-basic") })},
		{name: "private_key_jwt not yet valid", form: pkj(httpBase, func(tok jwt.Token) { tok.Set(jwt.NotBeforeKey, time.Now().Add(10*time.Minute)) })},
		{name: "private_key_jwt wrong assertion type", form: func() url.Values {
			f := pkj(httpBase, nil)
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			return f
		}()},
		{name: "private_key_jwt not a JWT", form: assertionForm("not.a.jwt")},

		{name: "private_key_jwt configured certificate_bound, over mTLS", cert: fx.otherCACert,
			form: assertionForm(assertion(t, fx.pkjKey, jwa.ES256, "tpp-pkj-bound", httpsBase+"/token", nil)), client: "tpp-pkj-bound"},
		{name: "private_key_jwt configured certificate_bound, without certificate",
			form: assertionForm(assertion(t, fx.pkjKey, jwa.ES256, "tpp-pkj-bound", httpsBase+"/token", nil))},

		{name: "tls_client_auth", cert: fx.mtlsCert, form: withID("tpp-mtls"), client: "tpp-mtls"},
		{name: "tls_client_auth certificate of another client", cert: fx.otherCACert, form: withID("tpp-mtls")},
		{name: "tls_client_auth self-signed certificate with the right subject", cert: fx.forgedMTLS, form: withID("tpp-mtls")},
		{name: "tls_client_auth without certificate", form: withID("tpp-mtls")},

		{name: "self_signed_tls_client_auth", cert: fx.selfCert, form: withID("tpp-self"), client: "tpp-self"},
		{name: "self_signed_tls_client_auth another self-signed certificate", cert: fx.otherSelf, form: withID("tpp-self")},
		{name: "self_signed_tls_client_auth CA certificate of another client", cert: fx.mtlsCert, form: withID("tpp-self")},
		{name: "self_signed_tls_client_auth without certificate", form: withID("tpp-self")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := postForm(t, client(tc.cert), httpsBase+"/token", tc.form, tc.basic...)
			if tc.client != "" {
				if resp.status != http.StatusOK || resp.str("access_token") == "" {
					t.Fatalf("got %d %s, want a token", resp.status, resp.raw)
				}
				rec, err := activeApp(t).provider.LookupAccess(resp.str("access_token"), time.Now())
				if err != nil || rec.ClientID != tc.client || rec.Grant != token.ClientCredentials {
					t.Fatalf("token record %+v, %v; want client %s", rec, err, tc.client)
				}
				wantBound := ""
				if tc.cert != nil {
					wantBound = token.Thumbprint(tc.cert.Leaf)
				}
				if rec.CertThumbprint != wantBound {
					t.Errorf("x5t#S256 = %q, want %q", rec.CertThumbprint, wantBound)
				}
				return
			}
			if resp.status != http.StatusUnauthorized || resp.str("error") != "invalid_client" ||
				resp.str("error_description") != "client authentication failed" {
				t.Fatalf("got %d %s, want 401 invalid_client", resp.status, resp.raw)
			}
			if len(resp.body) != 2 {
				t.Errorf("error body has extra members: %s", resp.raw)
			}
			challenge := resp.header.Get("WWW-Authenticate")
			if usedBasic := len(tc.basic) == 2; usedBasic != strings.HasPrefix(challenge, "Basic ") {
				t.Errorf("WWW-Authenticate = %q with Basic credentials %v", challenge, usedBasic)
			}
		})
	}
}
