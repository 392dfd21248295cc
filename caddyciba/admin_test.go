package caddyciba

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// adminCall calls Caddy's admin endpoint and decodes the JSON answer into out.
func adminCall(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, adminBase+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func kidOf(t *testing.T, idToken string) string {
	t.Helper()
	msg, err := jws.Parse([]byte(idToken))
	if err != nil {
		t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}

// TestAdminAPI: through Caddy's admin endpoint the bank lists and reads consents and
// pending requests by client and subject and revokes a consent, whose access and refresh
// tokens stop at once.
func TestAdminAPI(t *testing.T) {
	hook := cibaGateway(t, "")
	consentID := newConsent(t, basicID, basicSecret)
	tokens := approvedTokens(t, hook, consentID)
	authReqID, pendingConsent, _ := startForAlice(t, hook)

	var list []map[string]any
	if adminCall(t, "GET", "/ciba/consents?client_id=tpp-basic&status=Authorised", &list) != 200 || len(list) != 1 || list[0]["id"] != consentID {
		t.Fatalf("authorised consents of tpp-basic: %v", list)
	}
	if adminCall(t, "GET", "/ciba/consents?subject=sub-nobody", &list) != 200 || len(list) != 0 {
		t.Fatalf("consents of an unknown subject: %v", list)
	}
	var one map[string]any
	if adminCall(t, "GET", "/ciba/consents/"+consentID, &one) != 200 || one["status"] != "Authorised" || one["subject"] != "sub-alice" {
		t.Fatalf("consent: %v", one)
	}
	if adminCall(t, "GET", "/ciba/consents/aac-unknown", nil) != http.StatusNotFound {
		t.Fatal("an unknown consent was found")
	}

	var pending []map[string]any
	if adminCall(t, "GET", "/ciba/requests?subject=sub-alice", &pending) != 200 || len(pending) != 1 ||
		pending[0]["consent_id"] != pendingConsent || pending[0]["client_id"] != basicID {
		t.Fatalf("pending requests: %v", pending)
	}
	if raw, _ := json.Marshal(pending); strings.Contains(string(raw), authReqID) {
		t.Fatal("the listing shows an auth_req_id")
	}
	if adminCall(t, "GET", "/ciba/requests?client_id=tpp-other", &pending) != 200 || len(pending) != 0 {
		t.Fatalf("requests of another client: %v", pending)
	}

	at := tokens.str("access_token")
	if r := accountCall(t, "/accounts/acc-1", at); r.status != http.StatusOK {
		t.Fatalf("before the revocation: %d", r.status)
	}
	if adminCall(t, "POST", "/ciba/consents/"+consentID+"/revoke", &one) != 200 || one["status"] != "Revoked" {
		t.Fatalf("revoke: %v", one)
	}
	if r := accountCall(t, "/accounts/acc-1", at); r.status != http.StatusForbidden {
		t.Fatalf("access token after the revocation: %d %s", r.status, r.raw)
	}
	refresh := formOf("grant_type", "refresh_token", "refresh_token", tokens.str("refresh_token"))
	errorOnly(t, postForm(t, client(nil), httpBase+"/token", refresh, basicID, basicSecret), http.StatusBadRequest, "invalid_grant")
	if adminCall(t, "POST", "/ciba/consents/"+consentID+"/revoke", nil) != http.StatusConflict {
		t.Fatal("a revoked consent was revoked again")
	}
	if adminCall(t, "POST", "/ciba/consents/"+pendingConsent+"/revoke", &one) != 200 || one["status"] != "Rejected" {
		t.Fatalf("revoking a consent awaiting authorisation: %v", one)
	}
	if adminCall(t, "DELETE", "/ciba/keys", nil) != http.StatusNotFound {
		t.Fatal("an unknown route answered")
	}
}

// TestKeyRotation: a rotation through the admin API publishes the new key at once and
// signs with it only after key_publish_lead; ID tokens signed before still verify with
// the published JWKS, and new ones carry the new kid.
func TestKeyRotation(t *testing.T) {
	hook := cibaGateway(t, "key_publish_lead 2s")
	before := approvedTokens(t, hook, newConsent(t, basicID, basicSecret))
	oldKid := kidOf(t, before.str("id_token"))

	var rotated struct {
		Kid  string           `json:"kid"`
		Keys []map[string]any `json:"keys"`
	}
	if adminCall(t, "POST", "/ciba/keys/rotate", &rotated) != 200 || rotated.Kid == "" || rotated.Kid == oldKid || len(rotated.Keys) != 2 {
		t.Fatalf("rotate: %+v", rotated)
	}
	set := gatewayKeys(t)
	if _, ok := set.LookupKeyID(rotated.Kid); !ok {
		t.Fatal("the new key is not published before it signs")
	}
	if soon := approvedTokens(t, hook, newConsent(t, basicID, basicSecret)); kidOf(t, soon.str("id_token")) != oldKid {
		t.Fatal("the new key signed before key_publish_lead")
	}

	time.Sleep(2100 * time.Millisecond)
	after := approvedTokens(t, hook, newConsent(t, basicID, basicSecret))
	if kid := kidOf(t, after.str("id_token")); kid != rotated.Kid {
		t.Fatalf("after the lead the ID token has kid %s, want %s", kid, rotated.Kid)
	}
	set = gatewayKeys(t)
	for name, tok := range map[string]string{"before": before.str("id_token"), "after": after.str("id_token")} {
		if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithIssuer(httpBase)); err != nil {
			t.Fatalf("ID token from %s the rotation does not verify: %v", name, err)
		}
	}
	var ring []map[string]any
	if adminCall(t, "GET", "/ciba/keys", &ring) != 200 || len(ring) != 2 || ring[1]["signing"] != true || ring[0]["retire_after"] == nil {
		t.Fatalf("key ring: %v", ring)
	}
}

// TestScheduledKeyRotation: with key_rotation set, the gateway makes new keys by itself.
func TestScheduledKeyRotation(t *testing.T) {
	cibaGateway(t, "key_rotation 1s\n\t\tkey_publish_lead 1s")
	waitFor(t, func() bool {
		var ring []map[string]any
		return adminCall(t, "GET", "/ciba/keys", &ring) == 200 && len(ring) >= 2
	})
}
