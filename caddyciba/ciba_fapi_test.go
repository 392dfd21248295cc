package caddyciba

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/testpki"
	"github.com/caddyciba/gateway/internal/token"
)

// TestFAPIMode: with fapi, unsigned requests, EdDSA, a missing binding message and a
// missing client certificate are refused; tokens are bound to the certificate presented
// at the token endpoint; discovery advertises no push; a push client does not start.
func TestFAPIMode(t *testing.T) {
	hook := cibaGateway(t, "fapi")
	mtls := client(fx.mtlsCert)
	bc := func(cert *testpki.Cert, request string) response {
		return postForm(t, client(cert), httpsBase+"/bc-authorize", pkjForm(t, httpsBase+"/bc-authorize", "request", request))
	}
	consentID := func() string {
		f := pkjForm(t, httpsBase+"/token", "grant_type", "client_credentials", "scope", "accounts")
		tok := postForm(t, mtls, httpsBase+"/token", f)
		if tok.status != 200 {
			t.Fatalf("token: %d %s", tok.status, tok.raw)
		}
		r := consentCall(t, mtls, http.MethodPost, strings.Replace(consentsURL, httpBase, httpsBase, 1), tok.str("access_token"), consentBody)
		if r.status != http.StatusCreated {
			t.Fatalf("consent: %d %s", r.status, r.raw)
		}
		return r.body["Data"].(map[string]any)["ConsentId"].(string)
	}

	errorOnly(t, postForm(t, mtls, httpsBase+"/bc-authorize", formOf("scope", "openid accounts", "login_hint", "alice@example.com",
		"binding_message", "1234", "openbanking_intent_id", consentID()), basicID, basicSecret), 400, "invalid_request")
	errorOnly(t, bc(fx.mtlsCert, signedWith(t, consentID(), func(c map[string]any) { delete(c, "binding_message") })), 400, "invalid_request")
	errorOnly(t, bc(nil, signedWith(t, consentID(), nil)), 401, "invalid_client")

	id := consentID()
	ack := bc(fx.mtlsCert, signedWith(t, id, nil))
	if ack.status != 200 {
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	approve(t, notification(t, hook))
	poll := pkjForm(t, httpsBase+"/token", "grant_type", "urn:openid:params:grant-type:ciba", "auth_req_id", ack.str("auth_req_id"))
	tokens := postForm(t, mtls, httpsBase+"/token", poll)
	if tokens.status != 200 {
		t.Fatalf("tokens: %d %s", tokens.status, tokens.raw)
	}
	rec, err := token.LookupAccess(activeApp(t).Store(), tokens.str("access_token"), time.Now())
	if err != nil || rec.CertThumbprint != token.Thumbprint(fx.mtlsCert.Leaf) {
		t.Fatalf("token not bound to the certificate: %+v %v", rec, err)
	}
	call := func(cert *testpki.Cert) int {
		return consentCall(t, client(cert), http.MethodGet, httpsBase+"/open-banking/v3.1/aisp/accounts/acc-1", tokens.str("access_token"), "").status
	}
	if got := call(fx.mtlsCert); got != http.StatusOK {
		t.Fatalf("gate with the bound certificate: %d", got)
	}
	if got := call(fx.otherCACert); got != http.StatusUnauthorized {
		t.Fatalf("gate with another certificate: %d", got)
	}

	md := get(t, client(nil), httpBase+"/.well-known/openid-configuration")
	if containsAll(md.body["backchannel_token_delivery_modes_supported"], "push") ||
		containsAll(md.body["backchannel_authentication_request_signing_alg_values_supported"], "EdDSA") {
		t.Errorf("FAPI discovery: %s", md.raw)
	}

	app := &App{Issuer: httpBase, FAPI: true, Clients: []ClientConfig{{ID: "p", Auth: "client_secret_basic", Secret: "s",
		DeliveryMode: "push", NotificationEndpoint: "https://tpp.example/cb"}}}
	if err := app.Validate(); err == nil || !strings.Contains(err.Error(), "push") {
		t.Fatalf("fapi with a push client: %v", err)
	}
}
