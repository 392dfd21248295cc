package op

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/users"
)

// fuzzProvider is a provider over a Badger store in a temp dir, with one client
// (tpp/secret), one user (alice) and one consent awaiting authorisation (aac-fuzz).
func fuzzProvider(f testing.TB) *Provider {
	s, err := store.OpenBadger(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ring, err := keys.LoadOrCreate(s, jwa.ES256)
	if err != nil {
		f.Fatal(err)
	}
	c := &clients.Client{ID: "tpp", Method: clients.SecretBasic, DeliveryMode: clients.Poll, Scopes: []string{"openid", "accounts"}}
	if err := c.SetSecret("secret"); err != nil {
		f.Fatal(err)
	}
	reg, _ := clients.NewRegistry([]*clients.Client{c}, nil)
	p := New(Config{Issuer: "https://bank.example", AuthReqTTL: 60e9, MaxAuthReqTTL: 600e9, PollInterval: 5e9, AccessTokenTTL: 600e9}, s, ring, reg)
	dir, err := users.Parse([]byte(`[{"subject":"sub-alice","login_hints":["alice"],"accounts":[{"AccountId":"a1"}]}]`))
	if err != nil {
		f.Fatal(err)
	}
	p.Users = dir
	req, err := consent.ParseRequest([]byte(`{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	if _, err := p.Consents.Create("tpp", req); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(p.Close)
	return p
}

// FuzzBackchannelForm posts arbitrary form bodies to /bc-authorize as an authenticated
// client: never a panic, only the statuses CIBA names, and every error body holds only
// error, error_description and error_uri, in ASCII.
func FuzzBackchannelForm(f *testing.F) {
	for _, seed := range []string{
		"scope=openid+accounts&login_hint=alice&openbanking_intent_id=aac-1",
		"scope=openid&login_hint=alice&login_hint=bob",
		"scope=openid+accounts&login_hint=alice&binding_message=%F0%9F%99%82&requested_expiry=-1",
		"request=eyJhbGciOiJub25lIn0.e30.&scope=openid",
		"scope=openid+accounts&login_hint_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.&openbanking_intent_id=x",
		"scope=openid+accounts&id_token_hint=a.b.c&user_code=1&acr_values=urn%3Aopenbanking%3Apsd2%3Asca",
		"%zz=1",
	} {
		f.Add(seed)
	}
	p := fuzzProvider(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/bc-authorize", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("tpp", "secret")
		w := httptest.NewRecorder()
		p.ServeBackchannel(w, r)
		checkAnswer(t, w, body, 200, 400, 401, 403)
	})
}

// checkAnswer holds a fuzzed answer to the statuses allowed, and an error answer to the
// RFC 6749 body: error, error_description and error_uri only, in ASCII.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, input string, ok int, errs ...int) {
	t.Helper()
	if w.Code == ok || (w.Code >= 200 && w.Code < 300 && ok >= 200 && ok < 300) {
		return
	}
	if !slices.Contains(errs, w.Code) {
		t.Fatalf("status %d for %q: %s", w.Code, input, w.Body)
	}
	var answer map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	for k, v := range answer {
		s, _ := v.(string)
		if (k != "error" && k != "error_description" && k != "error_uri") || strings.ContainsAny(s, "\"\\") {
			t.Fatalf("error body %s", w.Body)
		}
		for _, c := range s {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("non-ASCII error body %q", w.Body)
			}
		}
	}
}
