package caddyciba

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/caddyciba/gateway/notifier"
)

// TestWithdrawEndsPendingRequest: a consent deleted by its TPP or revoked by the bank ends
// its pending backchannel request at once, in every delivery mode: the poll hears
// access_denied, a ping client its ping, a push client the access_denied push, and the
// device link and the decision API 410.
func TestWithdrawEndsPendingRequest(t *testing.T) {
	ping, push := newReceiver(t, nil), newReceiver(t, nil)
	hook := cibaGateway(t, deliveryClient("tpp-ping", "ping", ping.URL+"/cb")+deliveryClient("tpp-push", "push", push.URL+"/cb"))
	for _, tc := range []struct {
		name, client, secret, mode, end string
	}{
		{"poll, TPP delete", basicID, basicSecret, "poll", "delete"},
		{"poll, admin revoke", basicID, basicSecret, "poll", "revoke"},
		{"ping, TPP delete", "tpp-ping", "tpp-ping-secret", "ping", "delete"},
		{"push, TPP delete", "tpp-push", "tpp-push-secret", "push", "delete"},
		{"push, admin revoke", "tpp-push", "tpp-push-secret", "push", "revoke"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			consentID := newConsent(t, tc.client, tc.secret)
			ack := bcBasic(t, tc.client, tc.secret, "scope", "openid accounts", "login_hint", "alice@example.com",
				"openbanking_intent_id", consentID, "client_notification_token", "notify-token-1234567890")
			if ack.status != http.StatusOK {
				t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
			}
			id, n := ack.str("auth_req_id"), notification(t, hook)
			if tc.mode != "push" {
				errorOnly(t, pollBasic(t, tc.client, tc.secret, id), 400, "authorization_pending")
			}

			switch tc.end {
			case "delete":
				tpp := ccToken(t, nil, nil, tc.client, tc.secret)
				if r := consentCall(t, client(nil), http.MethodDelete, consentsURL+"/"+consentID, tpp, ""); r.status != http.StatusNoContent {
					t.Fatalf("delete consent: %d %s", r.status, r.raw)
				}
			case "revoke":
				var one map[string]any
				if adminCall(t, "POST", "/ciba/consents/"+consentID+"/revoke", &one) != 200 || one["status"] != "Rejected" {
					t.Fatalf("revoke: %v", one)
				}
			}

			switch tc.mode {
			case "ping":
				var body map[string]any
				if got := ping.next(t); json.Unmarshal(got.body, &body) != nil || len(body) != 1 || body["auth_req_id"] != id {
					t.Fatalf("ping body %s", got.body)
				}
			case "push":
				var body map[string]string
				got := push.next(t)
				if json.Unmarshal(got.body, &body) != nil || body["error"] != "access_denied" || body["auth_req_id"] != id {
					t.Fatalf("push body %s", got.body)
				}
				if got.header.Get("Authorization") != "Bearer notify-token-1234567890" {
					t.Fatalf("push headers %v", got.header)
				}
			}
			switch tc.mode {
			case "poll":
				time.Sleep(1100 * time.Millisecond) // past the 1s poll interval
				fallthrough
			case "ping": // the ping lifts the throttle
				errorOnly(t, pollBasic(t, tc.client, tc.secret, id), 400, "access_denied")
			}
			assertWithdrawnLink(t, n)
		})
	}
}

// assertWithdrawnLink checks the device link and the decision API answer 410.
func assertWithdrawnLink(t *testing.T, n *notifier.Notification) {
	t.Helper()
	if r := deviceGet(t, n, "Authorization", "Bearer "+n.DeviceToken); r.status != http.StatusGone || r.str("error") != "request_withdrawn" {
		t.Fatalf("device link: %d %s", r.status, r.raw)
	}
	for _, body := range []string{`{"decision":"approve","accounts":["acc-1"]}`, `{"decision":"deny"}`} {
		if r := decide(t, n, n.DeviceToken, body); r.status != http.StatusGone || r.str("error") != "request_withdrawn" {
			t.Fatalf("decision %s: %d %s", body, r.status, r.raw)
		}
	}
}

// TestDisabledUserEndsPendingRequests: when the reloaded users file disables a user, their
// pending requests end as a withdrawn consent's do: the ping goes out, the poll hears
// access_denied, the link 410. Another user's request stays pending.
func TestDisabledUserEndsPendingRequests(t *testing.T) {
	ping := newReceiver(t, nil)
	hook := newReceiver(t, nil)
	path := writeUsers(t)
	startGateway(t, gatewayConfig(t.TempDir(), fmt.Sprintf(`users %s
		poll_interval 1s
		notifier webhook %s {
			secret %s
		}
		%s`, path, hook.URL, webhookSecret, deliveryClient("tpp-ping", "ping", ping.URL+"/cb"))))

	aliceID, alice := startDelivery(t, hook, "tpp-ping", "ping-token-1234567890")
	carolConsent := newConsent(t, basicID, basicSecret)
	ack := bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "carol@example.com",
		"openbanking_intent_id", carolConsent)
	if ack.status != http.StatusOK {
		t.Fatalf("bc-authorize for carol: %d %s", ack.status, ack.raw)
	}
	carolID := ack.str("auth_req_id")
	notification(t, hook)

	var users []map[string]any
	buf, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(buf, &users) != nil {
		t.Fatalf("users file: %v", err)
	}
	for _, u := range users {
		if u["subject"] == "sub-alice" {
			u["disabled"] = true
		}
	}
	buf, _ = json.Marshal(users)
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}

	var body map[string]any
	if got := ping.next(t); json.Unmarshal(got.body, &body) != nil || body["auth_req_id"] != aliceID {
		t.Fatalf("ping body %s", got.body)
	}
	errorOnly(t, pollBasic(t, "tpp-ping", "tpp-ping-secret", aliceID), 400, "access_denied")
	assertWithdrawnLink(t, alice)
	errorOnly(t, pollBasic(t, basicID, basicSecret, carolID), 400, "authorization_pending")
}
