package caddyciba

import (
	"net/http"
	"strings"
	"testing"
)

var paymentConsentsURL = httpBase + "/open-banking/v3.1/pisp/domestic-payment-consents"

// TestPaymentConsentRoute: ciba_endpoints serves the payment consents with a payments
// token (interaction id echoed, idempotent repeat), and leaves a consent's
// funds-confirmation sub-resource to the routes after it.
func TestPaymentConsentRoute(t *testing.T) {
	startGateway(t, gatewayConfig(t.TempDir(), ""))
	c := client(nil)
	tok := ccToken(t, nil, map[string]string{"scope": "payments"}, "tpp-basic", "b@sic secret+/:~")
	body := `{"Data":{"Initiation":{"InstructionIdentification":"ACME412","EndToEndIdentification":"E2E","InstructedAmount":{"Amount":"1.00","Currency":"GBP"},` +
		`"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"}}},"Risk":{}}`
	const interaction = "5b7e1c7e-9d8f-4c1b-8d1e-0f6a7b8c9d0e"
	first := consentCall(t, c, http.MethodPost, paymentConsentsURL, tok, body, "x-fapi-interaction-id", interaction, "x-idempotency-key", "k-1")
	if first.status != http.StatusCreated || first.header.Get("X-Fapi-Interaction-Id") != interaction {
		t.Fatalf("POST: %d %s", first.status, first.raw)
	}
	data, _ := first.body["Data"].(map[string]any)
	id, _ := data["ConsentId"].(string)
	again := consentCall(t, c, http.MethodPost, paymentConsentsURL, tok, body, "x-idempotency-key", "k-1")
	if again.status != http.StatusCreated || string(again.raw) != string(first.raw) || again.header.Get("X-Fapi-Interaction-Id") == "" {
		t.Fatalf("repeat: %d %s", again.status, again.raw)
	}
	got := consentCall(t, c, http.MethodGet, paymentConsentsURL+"/"+id, tok, "")
	if got.status != http.StatusOK || !strings.Contains(string(got.raw), `"Status":"AwaitingAuthorisation"`) {
		t.Fatalf("GET: %d %s", got.status, got.raw)
	}
	accounts := ccToken(t, nil, map[string]string{"scope": "accounts"}, "tpp-basic", "b@sic secret+/:~")
	if r := consentCall(t, c, http.MethodGet, paymentConsentsURL+"/"+id, accounts, ""); r.status != http.StatusForbidden {
		t.Fatalf("accounts token: %d %s", r.status, r.raw)
	}
	// Not the gateway's: no route serves it in this config.
	if r := consentCall(t, c, http.MethodGet, paymentConsentsURL+"/"+id+"/funds-confirmation", tok, ""); strings.Contains(string(r.raw), id) {
		t.Fatalf("funds-confirmation served by ciba_endpoints: %d %s", r.status, r.raw)
	}
}
