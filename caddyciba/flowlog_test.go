package caddyciba

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// withInteraction posts a form as tpp-basic with an x-fapi-interaction-id.
func withInteraction(t *testing.T, path, interaction string, form url.Values) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, httpBase+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(interactionHeader, interaction)
	req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	return do(t, client(nil), req)
}

// TestFlowLogs: through Caddy's logger, each step of a flow writes one structured line
// with the step, the x-fapi-interaction-id, the client, the consent and the outcome — and
// no line holds a token, a secret, a device link or a password.
func TestFlowLogs(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "flow.log")
	hook := newReceiver(t, nil)
	cfg := gatewayConfig(t.TempDir(), "users "+writeUsers(t)+"\n\t\tpoll_interval 1s\n\t\tnotifier webhook "+hook.URL+
		" {\n\t\t\tsecret "+webhookSecret+"\n\t\t}")
	cfg = strings.Replace(cfg, "\tgrace_period 1ns\n", "\tgrace_period 1ns\n\tlog flow {\n\t\toutput file "+logFile+
		"\n\t\tformat json\n\t\tlevel INFO\n\t\tinclude ciba\n\t}\n", 1)
	startGateway(t, cfg)

	consentID := newConsent(t, basicID, basicSecret)
	bcID, tokenID := uuid.NewString(), uuid.NewString()
	ack := withInteraction(t, "/bc-authorize", bcID, formOf("scope", "openid accounts", "login_hint", "alice@example.com",
		"binding_message", "Approve 4F2Q", "openbanking_intent_id", consentID))
	if ack.status != http.StatusOK || ack.header.Get(interactionHeader) != bcID {
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	n := notification(t, hook)
	if r := decide(t, n, pageToken(n), `{"decision":"approve","accounts":["acc-1"],"password":"`+alicePIN+`"}`); r.status != http.StatusNoContent {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	time.Sleep(1100 * time.Millisecond)
	tokens := withInteraction(t, "/token", tokenID, formOf("grant_type", "urn:openid:params:grant-type:ciba", "auth_req_id", ack.str("auth_req_id")))
	if tokens.status != http.StatusOK {
		t.Fatalf("token: %d %s", tokens.status, tokens.raw)
	}
	withInteraction(t, "/token", tokenID, formOf("grant_type", "urn:openid:params:grant-type:ciba", "auth_req_id", ack.str("auth_req_id")))

	type line struct {
		Msg, Step, Outcome string
		Logger             string
		Interaction        string `json:"interaction_id"`
		Client             string `json:"client_id"`
		Consent            string `json:"consent_id"`
	}
	var steps []line
	var raw string
	waitFor(t, func() bool {
		buf, _ := os.ReadFile(logFile)
		raw, steps = string(buf), nil
		for sc := bufio.NewScanner(strings.NewReader(raw)); sc.Scan(); {
			var l line
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "ciba flow step" {
				steps = append(steps, l)
			}
		}
		return len(steps) >= 7
	})
	want := []line{
		{Step: "token", Outcome: "ok", Client: basicID}, // the client-credentials token of the consent call
		{Step: "consent_create", Outcome: "ok", Client: basicID, Consent: consentID},
		{Step: "backchannel", Outcome: "ok", Client: basicID, Consent: consentID, Interaction: bcID},
		{Step: "device_notify", Outcome: "ok", Client: basicID, Consent: consentID, Interaction: bcID},
		{Step: "decision", Outcome: "ok", Client: basicID, Consent: consentID},
		{Step: "token", Outcome: "ok", Client: basicID, Consent: consentID, Interaction: tokenID},
		{Step: "token", Outcome: "invalid_grant", Client: basicID, Interaction: tokenID},
	}
	for i, w := range want {
		got := steps[i]
		if got.Step != w.Step || got.Outcome != w.Outcome || got.Client != w.Client || got.Consent != w.Consent ||
			(w.Interaction != "" && got.Interaction != w.Interaction) || got.Interaction == "" || got.Logger != "ciba.flow" {
			t.Errorf("line %d: %+v, want %+v", i, got, w)
		}
	}
	for name, secret := range map[string]string{
		"access token": tokens.str("access_token"), "refresh token": tokens.str("refresh_token"), "ID token": tokens.str("id_token"),
		"auth_req_id": ack.str("auth_req_id"), "device token": n.DeviceToken, "page token": pageToken(n),
		"password": alicePIN, "client secret": basicSecret,
	} {
		if strings.Contains(raw, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}
