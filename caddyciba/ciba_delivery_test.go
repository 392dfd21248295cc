package caddyciba

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/notifier"
)

func deliveryClient(id, mode, endpoint string) string {
	return fmt.Sprintf(`
		client %[1]s {
			auth                  client_secret_basic
			secret                %[1]s-secret
			scopes                openid accounts
			delivery_mode         %[2]s
			notification_endpoint %[3]s
		}`, id, mode, endpoint)
}

// startDelivery starts a request of a ping or push client with its notification token.
func startDelivery(t *testing.T, hook *receiver, clientID, notificationToken string) (string, *notifier.Notification) {
	t.Helper()
	consentID := newConsent(t, clientID, clientID+"-secret")
	ack := bcBasic(t, clientID, clientID+"-secret", "scope", "openid accounts", "login_hint", "alice@example.com",
		"openbanking_intent_id", consentID, "client_notification_token", notificationToken)
	if ack.status != http.StatusOK {
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	return ack.str("auth_req_id"), notification(t, hook)
}

func halfSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// TestCIBAPing: the ping is a POST of exactly {"auth_req_id"} with the Bearer notification
// token; a 401 is not retried, a redirect is not followed, and the flow completes anyway;
// the first poll after the ping is not throttled.
func TestCIBAPing(t *testing.T) {
	ping := newReceiver(t, func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) })
	elsewhere := newReceiver(t, nil)
	redirecting := newReceiver(t, func(n int, w http.ResponseWriter) {
		w.Header().Set("Location", elsewhere.URL+"/stolen")
		w.WriteHeader(http.StatusFound)
	})
	hook := cibaGateway(t, deliveryClient("tpp-ping", "ping", ping.URL+"/cb")+deliveryClient("tpp-redirect", "ping", redirecting.URL+"/cb"))

	id, n := startDelivery(t, hook, "tpp-ping", "ping-token-1234567890")
	errorOnly(t, pollBasic(t, "tpp-ping", "tpp-ping-secret", id), 400, "authorization_pending")
	approve(t, n)
	got := ping.next(t)
	if got.header.Get("Authorization") != "Bearer ping-token-1234567890" || got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("ping headers %v", got.header)
	}
	var body map[string]any
	if err := json.Unmarshal(got.body, &body); err != nil || len(body) != 1 || body["auth_req_id"] != id {
		t.Fatalf("ping body %s", got.body)
	}
	// Polled less than the interval ago, but pinged since: tokens, not slow_down.
	if r := pollBasic(t, "tpp-ping", "tpp-ping-secret", id); r.status != http.StatusOK {
		t.Fatalf("poll after ping: %d %s", r.status, r.raw)
	}

	id2, n2 := startDelivery(t, hook, "tpp-redirect", "ping-token-abcdefghij")
	approve(t, n2)
	redirecting.next(t)
	time.Sleep(time.Second)
	if ping.count() != 1 || redirecting.count() != 1 || elsewhere.count() != 0 {
		t.Fatalf("deliveries: ping %d (401 must not be retried), redirecting %d, redirect target %d",
			ping.count(), redirecting.count(), elsewhere.count())
	}
	if r := pollBasic(t, "tpp-redirect", "tpp-redirect-secret", id2); r.status != http.StatusOK {
		t.Fatalf("poll after a refused ping: %d %s", r.status, r.raw)
	}
}

// approve approves acc-1 through the decision API.
func approve(t *testing.T, n *notifier.Notification) {
	t.Helper()
	if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-1"]}`); r.status != http.StatusNoContent {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
}

// TestCIBAPush: a push client gets the tokens POSTed, with at_hash, rt_hash and the
// auth_req_id claim in the ID token; it may not poll; a denial is pushed as an error.
func TestCIBAPush(t *testing.T) {
	push := newReceiver(t, nil)
	hook := cibaGateway(t, deliveryClient("tpp-push", "push", push.URL+"/cb"))

	id, n := startDelivery(t, hook, "tpp-push", "push-token-1234567890")
	approve(t, n)
	got := push.next(t)
	if got.header.Get("Authorization") != "Bearer push-token-1234567890" {
		t.Fatalf("push headers %v", got.header)
	}
	var tokens struct {
		AuthReqID    string `json:"auth_req_id"`
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
		IDToken      string `json:"id_token"`
	}
	if err := json.Unmarshal(got.body, &tokens); err != nil || tokens.AuthReqID != id || tokens.AccessToken == "" ||
		tokens.RefreshToken == "" || tokens.TokenType != "Bearer" || tokens.ExpiresIn <= 0 {
		t.Fatalf("pushed %s", got.body)
	}
	idt, err := jwt.Parse([]byte(tokens.IDToken), jwt.WithKeySet(gatewayKeys(t)), jwt.WithAudience("tpp-push"))
	if err != nil {
		t.Fatalf("pushed id token: %v", err)
	}
	for claim, want := range map[string]string{
		"at_hash":                                 halfSHA256(tokens.AccessToken),
		"urn:openid:params:jwt:claim:rt_hash":     halfSHA256(tokens.RefreshToken),
		"urn:openid:params:jwt:claim:auth_req_id": id,
	} {
		if v, _ := idt.Get(claim); v != want {
			t.Errorf("%s = %v, want %s", claim, v, want)
		}
	}
	if r := accountCall(t, "/accounts/acc-1", tokens.AccessToken); r.status != http.StatusOK {
		t.Fatalf("gate with the pushed token: %d %s", r.status, r.raw)
	}
	errorOnly(t, pollBasic(t, "tpp-push", "tpp-push-secret", id), 400, "unauthorized_client")

	id2, n2 := startDelivery(t, hook, "tpp-push", "push-token-abcdefghij")
	if r := decide(t, n2, n2.DeviceToken, `{"decision":"deny"}`); r.status != http.StatusNoContent {
		t.Fatalf("deny: %d %s", r.status, r.raw)
	}
	var denied map[string]string
	if err := json.Unmarshal(push.next(t).body, &denied); err != nil || denied["error"] != "access_denied" || denied["auth_req_id"] != id2 {
		t.Fatalf("pushed denial %v", denied)
	}
}
