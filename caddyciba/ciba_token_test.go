package caddyciba

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/users"
	"github.com/caddyciba/gateway/notifier"
)

// startBasic starts an unsigned request of tpp-basic for alice and returns its
// auth_req_id and the notification the device got.
func startBasic(t *testing.T, hook *receiver, kv ...string) (string, *notifier.Notification) {
	t.Helper()
	authReqID, _ := startFor(t, "alice@example.com", kv...)
	return authReqID, notification(t, hook)
}

// TestCIBATokenErrors answers each token error of CIBA Core §11 and each decision API
// refusal, and walks the denial path to access_denied and a Rejected consent.
func TestCIBATokenErrors(t *testing.T) {
	hook := cibaGateway(t, extraClients+`
		client tpp-push {
			auth                  client_secret_basic
			secret                push-secret
			scopes                openid accounts
			delivery_mode         push
			notification_endpoint http://127.0.0.1:9/cb
		}`)
	id, n := startBasic(t, hook)
	ciba := func(kv ...string) map[string][]string {
		return formOf(append([]string{"grant_type", "urn:openid:params:grant-type:ciba"}, kv...)...)
	}
	tokenURL := httpBase + "/token"
	errorOnly(t, postForm(t, client(nil), tokenURL, ciba(), basicID, basicSecret), 400, "invalid_request")
	errorOnly(t, pollBasic(t, basicID, basicSecret, "unknown-auth-req-id"), 400, "invalid_grant")
	errorOnly(t, pollBasic(t, "tpp-code", "code-secret", id), 400, "invalid_grant")
	errorOnly(t, pollBasic(t, basicID, "wrong", id), 401, "invalid_client")
	errorOnly(t, pollBasic(t, "tpp-push", "push-secret", id), 400, "unauthorized_client")
	errorOnly(t, pollBasic(t, basicID, basicSecret, id), 400, "authorization_pending")
	errorOnly(t, pollBasic(t, basicID, basicSecret, id), 400, "slow_down")

	// The decision API's refusals leave the request pending.
	for _, tc := range []struct {
		name, bearer, body string
		status             int
	}{
		{"no token", "", `{"decision":"approve","accounts":["acc-1"]}`, 401},
		{"wrong token", n.DeviceToken + "x", `{"decision":"approve","accounts":["acc-1"]}`, 401},
		{"not JSON", n.DeviceToken, `decision=approve`, 400},
		{"unknown decision", n.DeviceToken, `{"decision":"maybe"}`, 400},
		{"no account", n.DeviceToken, `{"decision":"approve","accounts":[]}`, 400},
		{"another user's account", n.DeviceToken, `{"decision":"approve","accounts":["acc-3"]}`, 400},
		{"an account twice", n.DeviceToken, `{"decision":"approve","accounts":["acc-1","acc-1"]}`, 400},
	} {
		if r := decide(t, n, tc.bearer, tc.body); r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.raw, tc.status)
		}
	}
	unknown := *n
	unknown.DecisionURL = httpBase + "/ciba/device/unknown"
	if r := decide(t, &unknown, n.DeviceToken, `{"decision":"deny"}`); r.status != 401 {
		t.Errorf("unknown device id: %d", r.status)
	}

	if r := decide(t, n, n.DeviceToken, `{"decision":"deny"}`); r.status != http.StatusNoContent {
		t.Fatalf("deny: %d %s", r.status, r.raw)
	}
	if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-1"]}`); r.status != http.StatusConflict {
		t.Fatalf("second decision: %d %s", r.status, r.raw)
	}
	time.Sleep(1100 * time.Millisecond)
	errorOnly(t, pollBasic(t, basicID, basicSecret, id), 400, "access_denied")
	c, err := activeApp(t).provider.Consents.Get(n.Consent.ConsentID)
	if err != nil || c.Status != consent.Rejected {
		t.Fatalf("consent after denial: %+v %v", c, err)
	}
}

// TestCIBAExpiredToken: a request with requested_expiry 10 expires after 10 seconds; the
// poll hears expired_token (not invalid_grant) and the device 410.
func TestCIBAExpiredToken(t *testing.T) {
	hook := cibaGateway(t, "")
	consentID := newConsent(t, basicID, basicSecret)
	ack := bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "alice@example.com",
		"openbanking_intent_id", consentID, "requested_expiry", "3")
	if ack.status != http.StatusOK || ack.body["expires_in"] != float64(3) {
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	n := notification(t, hook)
	time.Sleep(3200 * time.Millisecond)
	errorOnly(t, pollBasic(t, basicID, basicSecret, ack.str("auth_req_id")), 400, "expired_token")
	if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-1"]}`); r.status != http.StatusGone {
		t.Fatalf("late decision: %d %s", r.status, r.raw)
	}
	// The consent is free for a new request once the old one expired.
	again := bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "alice@example.com",
		"openbanking_intent_id", consentID)
	if again.status != http.StatusOK {
		t.Fatalf("new request after expiry: %d %s", again.status, again.raw)
	}
}

// TestConcurrentPollsMintOnce: 100 polls race through Caddy on an approved request; exactly
// one gets tokens, in every round.
func TestConcurrentPollsMintOnce(t *testing.T) {
	hook := cibaGateway(t, "")
	c := client(nil)
	for round := range 5 {
		id, n := startBasic(t, hook)
		if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-1"]}`); r.status != http.StatusNoContent {
			t.Fatalf("approve: %d %s", r.status, r.raw)
		}
		var mu sync.Mutex
		answers := map[string]int{}
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := postForm(t, c, httpBase+"/token",
					formOf("grant_type", "urn:openid:params:grant-type:ciba", "auth_req_id", id), basicID, basicSecret)
				key := r.str("error")
				if r.status == http.StatusOK && r.str("access_token") != "" {
					key = "tokens"
				}
				mu.Lock()
				answers[key]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if answers["tokens"] != 1 || answers["tokens"]+answers["invalid_grant"]+answers["slow_down"] != 100 {
			t.Fatalf("round %d: answers %v, want one token set", round, answers)
		}
	}
}

// TestDisabledUserAtRedemption: a user disabled between approval and the poll gets no
// tokens (access_denied), and the request cannot be redeemed later.
func TestDisabledUserAtRedemption(t *testing.T) {
	hook := cibaGateway(t, "")
	id, n := startBasic(t, hook)
	approve(t, n)
	disabled, err := users.Parse([]byte(`[{"subject":"sub-alice","login_hints":["alice@example.com"],"disabled":true,
		"accounts":[{"AccountId":"acc-1"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	activeApp(t).users.Swap(disabled)
	errorOnly(t, pollBasic(t, basicID, basicSecret, id), 400, "access_denied")
	time.Sleep(1100 * time.Millisecond)
	if r := pollBasic(t, basicID, basicSecret, id); r.status == http.StatusOK {
		t.Fatalf("a disabled user's request was redeemed: %s", r.raw)
	}
}
