package caddyciba

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/store"
)

// grantGateway starts the gateway over storage with the users file at usersPath, a
// webhook receiver and the extra options; it returns the receiver.
func grantGateway(t *testing.T, storage, usersPath, hookURL, extra string) {
	t.Helper()
	startGateway(t, gatewayConfig(storage, fmt.Sprintf(`users %s
		poll_interval 1s
		notifier webhook %s {
			secret %s
		}
		%s`, usersPath, hookURL, webhookSecret, extra)))
}

// introspected is the active member of the introspection of tok by tpp-basic.
func introspected(t *testing.T, tok string) any {
	t.Helper()
	r := postForm(t, client(nil), httpBase+"/introspect", formOf("token", tok), basicID, basicSecret)
	if r.status != http.StatusOK {
		t.Fatalf("introspection: %d %s", r.status, r.raw)
	}
	return r.body["active"]
}

// TestGrantValidity: a user's tokens count only while their whole grant does. After each
// way a grant ends — through the real endpoints, the admin API, the users file — the
// very next gated request is refused, and introspection of both the access and the
// refresh token answers what the gate decides: inactive.
func TestGrantValidity(t *testing.T) {
	hook := newReceiver(t, nil)
	usersPath := writeUsers(t)
	grantGateway(t, t.TempDir(), usersPath, hook.URL, "")
	orig, err := os.ReadFile(usersPath)
	if err != nil {
		t.Fatal(err)
	}
	cc := ccToken(t, nil, nil, basicID, basicSecret)

	for _, tc := range []struct {
		name string
		end  func(t *testing.T, consentID, refresh string)
		gate int
	}{
		{"consent deleted by the TPP", func(t *testing.T, id, _ string) {
			if r := consentCall(t, client(nil), http.MethodDelete, consentsURL+"/"+id, cc, ""); r.status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", r.status, r.raw)
			}
		}, http.StatusUnauthorized},
		{"consent revoked by the bank", func(t *testing.T, id, _ string) {
			if s := adminCall(t, "POST", "/ciba/consents/"+id+"/revoke", nil); s != http.StatusOK {
				t.Fatalf("admin revoke: %d", s)
			}
		}, http.StatusForbidden},
		{"consent expired", func(t *testing.T, id, _ string) {
			err := activeApp(t).Store().Update(func(tx store.Txn) error {
				_, err := consent.Change(tx, id, time.Now(), func(c *consent.Consent) error {
					past := time.Now().Add(-time.Second)
					c.Expiration = &consent.Date{Raw: past.Format(time.RFC3339), Time: past}
					return nil
				})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}, http.StatusUnauthorized},
		{"refresh token revoked", func(t *testing.T, _, rt string) {
			// An access token of the refresh grant ends with the refresh token too.
			refreshed := postForm(t, client(nil), httpBase+"/token", formOf("grant_type", "refresh_token", "refresh_token", rt), basicID, basicSecret)
			if refreshed.status != http.StatusOK {
				t.Fatalf("refresh: %d %s", refreshed.status, refreshed.raw)
			}
			second := refreshed.str("access_token")
			if r := accountCall(t, "/accounts/acc-1", second); r.status != http.StatusOK {
				t.Fatalf("refreshed token before: gate %d %s", r.status, r.raw)
			}
			r := postForm(t, client(nil), httpBase+"/revoke", formOf("token", rt, "token_type_hint", "refresh_token"), basicID, basicSecret)
			if r.status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.status, r.raw)
			}
			if r := accountCall(t, "/accounts/acc-1", second); r.status != http.StatusUnauthorized {
				t.Fatalf("refreshed token after: gate %d %s, want 401", r.status, r.raw)
			}
		}, http.StatusUnauthorized},
		{"user disabled in the users file", func(t *testing.T, _, _ string) {
			disabled := strings.Replace(string(orig), `"subject":"sub-alice"`, `"subject":"sub-alice","disabled":true`, 1)
			if disabled == string(orig) {
				t.Fatal("the users file has no sub-alice to disable")
			}
			if err := os.WriteFile(usersPath, []byte(disabled), 0o600); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return activeApp(t).users.BySubject("sub-alice").Disabled })
		}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			consentID := newConsent(t, basicID, basicSecret)
			tokens := approvedTokens(t, hook, consentID)
			at, rt := tokens.str("access_token"), tokens.str("refresh_token")
			if r := accountCall(t, "/accounts/acc-1", at); r.status != http.StatusOK {
				t.Fatalf("before: gate %d %s", r.status, r.raw)
			}
			if introspected(t, at) != true || introspected(t, rt) != true {
				t.Fatal("before: the tokens introspect as inactive")
			}
			tc.end(t, consentID, rt)
			t.Cleanup(func() {
				// The next case starts from alice enabled again.
				if err := os.WriteFile(usersPath, orig, 0o600); err != nil {
					t.Fatal(err)
				}
				waitFor(t, func() bool { return !activeApp(t).users.BySubject("sub-alice").Disabled })
			})
			if r := accountCall(t, "/accounts/acc-1", at); r.status != tc.gate {
				t.Fatalf("gate after: %d %s, want %d", r.status, r.raw, tc.gate)
			}
			if a, r := introspected(t, at), introspected(t, rt); a != false || r != false {
				t.Fatalf("introspection after: access %v, refresh %v; the gate refuses them", a, r)
			}
			refreshed := postForm(t, client(nil), httpBase+"/token", formOf("grant_type", "refresh_token", "refresh_token", rt), basicID, basicSecret)
			errorOnly(t, refreshed, http.StatusBadRequest, "invalid_grant")
		})
	}
}

// TestGrantValidityClientGone: a client removed from the config by a reload loses its
// tokens at the next gated request, though they are still in the store.
func TestGrantValidityClientGone(t *testing.T) {
	hook := newReceiver(t, nil)
	usersPath, storage := writeUsers(t), t.TempDir()
	grantGateway(t, storage, usersPath, hook.URL, extraClients)
	consentID := newConsent(t, "tpp-ping", "ping-secret")
	ack := bcBasic(t, "tpp-ping", "ping-secret", "scope", "openid accounts", "login_hint", "alice@example.com",
		"client_notification_token", "ping-token-1", "openbanking_intent_id", consentID)
	if ack.status != http.StatusOK {
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	n := notification(t, hook)
	if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-1"]}`); r.status != http.StatusNoContent {
		t.Fatalf("decision: %d %s", r.status, r.raw)
	}
	tokens := pollBasic(t, "tpp-ping", "ping-secret", ack.str("auth_req_id"))
	at := tokens.str("access_token")
	if r := accountCall(t, "/accounts/acc-1", at); tokens.status != http.StatusOK || r.status != http.StatusOK {
		t.Fatalf("before: tokens %d, gate %d %s", tokens.status, r.status, r.raw)
	}

	grantGateway(t, storage, usersPath, hook.URL, "")
	if r := accountCall(t, "/accounts/acc-1", at); r.status != http.StatusUnauthorized {
		t.Fatalf("a removed client's token at the gate: %d %s", r.status, r.raw)
	}
}
