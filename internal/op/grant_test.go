package op

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
	"github.com/caddyciba/gateway/internal/users"
)

// TestIntrospectionAgreesWithGate: for each state of a grant, the gate's decision on the
// access token and introspection's active for the access and the refresh token agree.
func TestIntrospectionAgreesWithGate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, p *Provider, consentID, rt string)
		holds  bool
	}{
		{"grant holds", func(*testing.T, *Provider, string, string) {}, true},
		{"consent deleted", func(t *testing.T, p *Provider, id, _ string) {
			if err := p.Consents.Delete("tpp", id); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"consent revoked", func(t *testing.T, p *Provider, id, _ string) {
			changeConsent(t, p, id, func(c *consent.Consent) error { return c.Revoke(time.Now()) })
		}, false},
		{"consent expired", func(t *testing.T, p *Provider, id, _ string) {
			changeConsent(t, p, id, func(c *consent.Consent) error {
				c.Expiration = &consent.Date{Time: time.Now().Add(-time.Second)}
				return nil
			})
		}, false},
		{"user disabled", func(t *testing.T, p *Provider, _, _ string) {
			dir, err := users.Parse([]byte(`[{"subject":"sub-alice","login_hints":["alice"],"disabled":true,"accounts":[{"AccountId":"a1"}]}]`))
			if err != nil {
				t.Fatal(err)
			}
			p.Users = dir
		}, false},
		{"user gone", func(t *testing.T, p *Provider, _, _ string) { p.Users = users.Empty() }, false},
		{"refresh token revoked", func(t *testing.T, p *Provider, _, rt string) {
			if err := p.Store.Update(func(t store.Txn) error { return token.RevokeRefresh(t, rt) }); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fuzzProvider(t)
			consentID, at, rt := userTokens(t, p)
			tc.change(t, p, consentID, rt)
			r := httptest.NewRequest("GET", "https://bank.example"+consent.APIPrefix+"/accounts/a1", nil)
			r.Header.Set("Authorization", "Bearer "+at)
			_, refusal := p.Admit(r)
			if admitted := refusal == nil; admitted != tc.holds {
				t.Fatalf("gate admitted %v, want %v", admitted, tc.holds)
			}
			for name, tok := range map[string]string{"access": at, "refresh": rt} {
				if active := introspectActive(t, p, tok); active != tc.holds {
					t.Fatalf("%s token introspects active %v, the gate says %v", name, active, tc.holds)
				}
			}
		})
	}
}

// userTokens authorises the provider's consent for alice's a1 and issues her token set.
func userTokens(t *testing.T, p *Provider) (consentID, at, rt string) {
	t.Helper()
	if err := p.Store.Scan("consent/", func(key string, _ []byte) error { consentID = key[len("consent/"):]; return nil }); err != nil {
		t.Fatal(err)
	}
	p.RefreshTokenTTL = time.Hour
	now := time.Now()
	err := p.Store.Update(func(tx store.Txn) error {
		if _, err := consent.Change(tx, consentID, now, func(c *consent.Consent) error { return c.Authorise("sub-alice", []string{"a1"}, now) }); err != nil {
			return err
		}
		g := &userGrant{clientID: "tpp", subject: "sub-alice", consentID: consentID, scope: "openid accounts", authTime: now}
		resp, _, err := p.issue(tx, g, now, true, nil)
		if err == nil {
			at, rt = resp.AccessToken, resp.RefreshToken
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return consentID, at, rt
}

func changeConsent(t *testing.T, p *Provider, id string, fn func(*consent.Consent) error) {
	t.Helper()
	if err := p.Store.Update(func(tx store.Txn) error { _, err := consent.Change(tx, id, time.Now(), fn); return err }); err != nil {
		t.Fatal(err)
	}
}

// introspectActive posts tok to the introspection endpoint as the client and reads active.
func introspectActive(t *testing.T, p *Provider, tok string) bool {
	t.Helper()
	r := httptest.NewRequest("POST", PathIntrospection, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("tpp", "secret")
	w := httptest.NewRecorder()
	p.ServeIntrospection(w, r)
	var out struct {
		Active bool `json:"active"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		t.Fatalf("introspection: %d %s", w.Code, w.Body)
	}
	return out.Active
}
