package caddyciba

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/token"
)

// gatewayKeys fetches the published JWKS.
func gatewayKeys(t *testing.T) jwk.Set {
	t.Helper()
	resp := get(t, client(nil), httpBase+"/jwks")
	set, err := jwk.Parse([]byte(resp.raw))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestCIBAPollFlow walks the whole flow for a poll client with a signed request object:
// the webhook reaches the device, the user approves one account through the decision API,
// the poll gets tokens whose ID token verifies with the published keys, the consent is
// Authorised with that account, and the access token opens the gate. Then the refresh
// token works until the consent is deleted, and a replayed auth_req_id is refused and
// revokes what it minted.
func TestCIBAPollFlow(t *testing.T) {
	hook := cibaGateway(t, "")
	consentID := newConsent(t, basicID, basicSecret)
	claims := requestClaims(basicID, consentID)
	claims["acr_values"] = "urn:openbanking:psd2:sca"
	// tpp-basic has no keys: a basic client sends unsigned requests.
	delete(claims, "openbanking_intent_id")
	ack := bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "alice@example.com",
		"binding_message", "Approve 4F2Q", "acr_values", "urn:openbanking:psd2:sca", "openbanking_intent_id", consentID)
	if ack.status != http.StatusOK {
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	authReqID := ack.str("auth_req_id")
	if len(authReqID) < 43 || ack.body["expires_in"] != float64(120) || ack.body["interval"] != float64(1) {
		t.Fatalf("acknowledgement %s", ack.raw)
	}

	n := notification(t, hook)
	if n.Subject != "sub-alice" || n.ClientID != basicID || n.ClientName != "Basic TPP" || n.BindingMessage != "Approve 4F2Q" ||
		n.Consent.ConsentID != consentID || len(n.Accounts) != 2 || n.DeviceToken == "" || n.LoginHint != "alice@example.com" ||
		!slices.Contains(n.Consent.Permissions, "ReadAccountsDetail") || n.Consent.ExpirationDateTime == "" {
		t.Fatalf("notification %+v", n)
	}

	errorOnly(t, pollBasic(t, basicID, basicSecret, authReqID), http.StatusBadRequest, "authorization_pending")
	errorOnly(t, pollBasic(t, basicID, basicSecret, authReqID), http.StatusBadRequest, "slow_down")

	if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-2"]}`); r.status != http.StatusNoContent {
		t.Fatalf("decision: %d %s", r.status, r.raw)
	}
	time.Sleep(1100 * time.Millisecond)
	tokens := pollBasic(t, basicID, basicSecret, authReqID)
	if tokens.status != http.StatusOK || tokens.str("token_type") != "Bearer" || tokens.str("refresh_token") == "" ||
		tokens.body["expires_in"] != float64(600) || tokens.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("tokens: %d %s", tokens.status, tokens.raw)
	}

	idt, err := jwt.Parse([]byte(tokens.str("id_token")), jwt.WithKeySet(gatewayKeys(t)), jwt.WithIssuer(httpBase),
		jwt.WithAudience(basicID), jwt.WithSubject("sub-alice"))
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	authTime, _ := idt.Get("auth_time")
	acr, _ := idt.Get("acr")
	intent, _ := idt.Get("openbanking_intent_id")
	if authTime == nil || acr != "urn:openbanking:psd2:sca" || intent != consentID {
		t.Fatalf("id token claims auth_time=%v acr=%v intent=%v", authTime, acr, intent)
	}
	if _, ok := idt.Get("at_hash"); ok {
		t.Fatal("a polled ID token carries at_hash")
	}

	c, err := activeApp(t).provider.Consents.Get(consentID)
	if err != nil || c.Status != consent.Authorised || c.Subject != "sub-alice" || !slices.Equal(c.AccountIDs, []string{"acc-2"}) {
		t.Fatalf("consent %+v, %v", c, err)
	}
	at := tokens.str("access_token")
	if r := accountCall(t, "/accounts/acc-2", at); r.status != http.StatusOK {
		t.Fatalf("gate with the CIBA token: %d %s", r.status, r.raw)
	}
	if r := accountCall(t, "/accounts/acc-1", at); r.status != http.StatusForbidden {
		t.Fatalf("gate, unchosen account: %d %s", r.status, r.raw)
	}

	// Refresh, then refresh by another client, then after the consent is gone.
	refresh := formOf("grant_type", "refresh_token", "refresh_token", tokens.str("refresh_token"))
	r := postForm(t, client(nil), httpBase+"/token", refresh, basicID, basicSecret)
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("access_token") == at {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	again, _ := jwt.Parse([]byte(r.str("id_token")), jwt.WithKeySet(gatewayKeys(t)))
	if again == nil || again.Subject() != "sub-alice" {
		t.Fatalf("refreshed id token %s", r.raw)
	}
	if t2, _ := again.Get("auth_time"); t2 != authTime {
		t.Fatalf("auth_time changed on refresh: %v → %v", authTime, t2)
	}
	other := postForm(t, client(nil), httpBase+"/token", formOf("grant_type", "refresh_token", "refresh_token",
		tokens.str("refresh_token"), "client_id", "tpp-post", "client_secret", "post-secret"))
	errorOnly(t, other, http.StatusBadRequest, "invalid_grant")

	// Replay: refused, and the tokens it minted die with it.
	errorOnly(t, pollBasic(t, basicID, basicSecret, authReqID), http.StatusBadRequest, "invalid_grant")
	if _, err := token.LookupAccess(activeApp(t).Store(), at, time.Now()); err == nil {
		t.Fatal("the access token survived a replayed auth_req_id")
	}
	errorOnly(t, postForm(t, client(nil), httpBase+"/token", refresh, basicID, basicSecret), http.StatusBadRequest, "invalid_grant")
}

// TestRefreshEndsWithTheConsent: a refresh token of a deleted consent fails.
func TestRefreshEndsWithTheConsent(t *testing.T) {
	hook := cibaGateway(t, "")
	consentID := newConsent(t, basicID, basicSecret)
	tokens := approvedTokens(t, hook, consentID)
	tpp := ccToken(t, nil, nil, basicID, basicSecret)
	if r := consentCall(t, client(nil), http.MethodDelete, consentsURL+"/"+consentID, tpp, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete consent: %d %s", r.status, r.raw)
	}
	refresh := formOf("grant_type", "refresh_token", "refresh_token", tokens.str("refresh_token"))
	errorOnly(t, postForm(t, client(nil), httpBase+"/token", refresh, basicID, basicSecret), http.StatusBadRequest, "invalid_grant")
}

// approvedTokens runs an unsigned request of tpp-basic for alice, approves acc-1 and polls.
func approvedTokens(t *testing.T, hook *receiver, consentID string) response {
	t.Helper()
	ack := bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "alice@example.com",
		"openbanking_intent_id", consentID)
	if ack.status != http.StatusOK {
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	n := notification(t, hook)
	if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-1"]}`); r.status != http.StatusNoContent {
		t.Fatalf("decision: %d %s", r.status, r.raw)
	}
	tokens := pollBasic(t, basicID, basicSecret, ack.str("auth_req_id"))
	if tokens.status != http.StatusOK {
		t.Fatalf("tokens: %d %s", tokens.status, tokens.raw)
	}
	return tokens
}
