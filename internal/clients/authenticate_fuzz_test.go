package clients

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

// FuzzAuthenticate feeds arbitrary token-endpoint forms and Authorization headers to the
// authenticator: nothing panics, every failure is invalid_client, and nothing without the
// registered secret or key authenticates.
func FuzzAuthenticate(f *testing.F) {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	priv, _ := jwk.FromRaw(raw)
	pub, _ := priv.PublicKey()
	set := jwk.NewSet()
	set.AddKey(pub)
	basic := &Client{ID: "c-basic", Method: SecretBasic}
	basic.SetSecret("s3cret")
	post := &Client{ID: "c-post", Method: SecretPost}
	post.SetSecret("s3cret")
	reg, _ := NewRegistry([]*Client{basic, post, {ID: "c-pkj", Method: PrivateKeyJWT, JWKS: set}}, nil)
	s, err := store.OpenBadger(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	a := &Authenticator{Registry: reg, Audiences: []string{"https://op"}, Replay: s, Now: time.Now}

	tok := jwt.New()
	tok.Set(jwt.IssuerKey, "c-pkj")
	tok.Set(jwt.SubjectKey, "c-pkj")
	tok.Set(jwt.AudienceKey, "https://op")
	tok.Set(jwt.ExpirationKey, time.Now().Add(time.Hour))
	tok.Set(jwt.JwtIDKey, "seed")
	signed, _ := jwt.Sign(tok, jwt.WithKey(jwa.ES256, priv))
	f.Add("grant_type=client_credentials&client_id=c-post&client_secret=s3cret", "")
	f.Add("client_id=c-basic", "Basic YzpiYXNpYzpzM2NyZXQ=")
	f.Add("client_assertion_type="+url.QueryEscape(AssertionType)+"&client_assertion="+string(signed), "")
	f.Add("client_assertion_type="+url.QueryEscape(AssertionType)+"&client_assertion=e30.e30.e30", "")
	f.Add("client_id=c-pkj", "Bearer x")

	f.Fuzz(func(t *testing.T, body, authorization string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		r := httptest.NewRequest("POST", "https://op/token", strings.NewReader(body))
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		got, err := a.Authenticate(r, form)
		if err != nil {
			if err.Error() != "invalid_client: client authentication failed" && !strings.HasPrefix(err.Error(), "server_error") {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		switch got.Client.ID {
		case "c-post":
			if form.Get("client_secret") != "s3cret" {
				t.Fatalf("c-post authenticated without its secret: %q", body)
			}
		case "c-basic":
			if !strings.HasPrefix(authorization, "Basic ") {
				t.Fatalf("c-basic authenticated without Basic credentials")
			}
		case "c-pkj":
			if form.Get("client_assertion") != string(signed) {
				t.Fatalf("c-pkj authenticated with an assertion it did not sign: %q", body)
			}
		}
	})
}
