package op

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzTokenForms posts arbitrary form bodies as an authenticated client to /token,
// /revoke and /introspect: never a panic, never a 5xx, and every error in the RFC 6749
// shape.
func FuzzTokenForms(f *testing.F) {
	for _, seed := range []string{
		"grant_type=client_credentials&scope=accounts",
		"grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id=abc",
		"grant_type=refresh_token&refresh_token=" + strings.Repeat("A", 43),
		"grant_type=authorization_code&code=x",
		"token=abc&token_type_hint=refresh_token",
		"grant_type=client_credentials&grant_type=refresh_token",
		"scope=%00&grant_type=client_credentials",
	} {
		for _, endpoint := range []byte{0, 1, 2} {
			f.Add(endpoint, seed)
		}
	}
	p := fuzzProvider(f)
	f.Fuzz(func(t *testing.T, endpoint byte, body string) {
		serve, path := p.ServeToken, PathToken
		switch endpoint % 3 {
		case 1:
			serve, path = p.ServeRevocation, PathRevocation
		case 2:
			serve, path = p.ServeIntrospection, PathIntrospection
		}
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("tpp", "secret")
		w := httptest.NewRecorder()
		serve(w, r)
		checkAnswer(t, w, body, 200, 400, 401)
	})
}
