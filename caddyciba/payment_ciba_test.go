package caddyciba

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddyciba/gateway/notifier"
	"github.com/caddyciba/gateway/payment"
)

var fundsConsentsURL = httpBase + "/open-banking/v3.1/cbpii/funds-confirmation-consents"

const (
	// payID is a private_key_jwt client (tpp-pkj's key) for payments and funds
	// confirmations, added to gatewayConfig by paymentGateway.
	payID = "tpp-pay"
)

// payConsentBody is a payment consent of 165.88 GBP to ACME Inc whose payer picks the
// account to pay from.
const payConsentBody = `{"Data":{"Initiation":{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20",` +
	`"LocalInstrument":"UK.OBIE.FPS","InstructedAmount":{"Amount":"165.88","Currency":"GBP"},` +
	`"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"},` +
	`"RemittanceInformation":{"Reference":"FRESCO-101"}}},"Risk":{"PaymentContextCode":"EcommerceGoods"}}`

// writePayUsers writes a users file where alice (PIN alicePIN) holds two accounts with
// sort code and account numbers: acc-1 80200110203345 and acc-2 80200110203348.
func writePayUsers(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(alicePIN), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := []map[string]any{{"subject": "sub-alice", "login_hints": []string{"alice@example.com"}, "name": "Alice",
		"password_hash": string(hash), "accounts": []map[string]any{
			{"AccountId": "acc-1", "Nickname": "Bills", "Currency": "GBP",
				"Account": []map[string]any{{"SchemeName": payment.SchemeSortCodeAccountNumber, "Identification": "80200110203345"}}},
			{"AccountId": "acc-2", "Nickname": "Household", "Currency": "GBP",
				"Account": []map[string]any{{"SchemeName": payment.SchemeSortCodeAccountNumber, "Identification": "80200110203348"}}}}}}
	buf, _ := json.Marshal(users)
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// paymentGateway starts the gateway with tpp-pay, a webhook notifier to the receiver it
// returns, a 1s poll interval, and a users file where alice (PIN alicePIN) holds two
// accounts with sort code and account numbers.
func paymentCIBAGateway(t *testing.T) *receiver {
	t.Helper()
	path := writePayUsers(t)
	hook := newReceiver(t, nil)
	startGateway(t, gatewayConfig(t.TempDir(), fmt.Sprintf(`users %s
		poll_interval 1s
		client %s {
			name      "Pay TPP"
			auth      private_key_jwt
			jwks_file %s/pkj.jwks.json
			scopes    openid payments fundsconfirmations
		}
		notifier webhook %s {
			secret %s
		}`, path, payID, fx.dir, hook.URL, webhookSecret)))
	return hook
}

// payForm is tpp-pay's client authentication at an endpoint, with the form's values.
func payForm(t *testing.T, endpoint string, kv ...string) url.Values {
	f := formOf(kv...)
	f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	f.Set("client_assertion", assertion(t, fx.pkjKey, jwa.ES256, payID, endpoint, nil))
	return f
}

// payToken is a client-credentials token of tpp-pay.
func payToken(t *testing.T, scope string) string {
	t.Helper()
	r := postForm(t, client(nil), httpBase+"/token", payForm(t, httpBase+"/token", "grant_type", "client_credentials", "scope", scope))
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.raw)
	}
	return r.str("access_token")
}

// createConsent posts a consent with the token and returns its ConsentId.
func createConsent(t *testing.T, collection, tok, body string) string {
	t.Helper()
	r := consentCall(t, client(nil), http.MethodPost, collection, tok, body, "x-idempotency-key", "key-"+fmt.Sprint(time.Now().UnixNano()))
	if r.status != http.StatusCreated {
		t.Fatalf("consent: %d %s", r.status, r.raw)
	}
	return r.body["Data"].(map[string]any)["ConsentId"].(string)
}

// bcPay asks for the consent with a request object signed by tpp-pay, the consent in the
// given claim form, and returns the auth_req_id.
func bcPay(t *testing.T, scope, consentID, form string) string {
	t.Helper()
	claims := requestClaims(payID, consentID)
	claims["scope"], claims["binding_message"] = scope, "PAY 4F2Q"
	switch form {
	case "ukob":
		delete(claims, "openbanking_intent_id")
		claims["openbanking-intent-id"] = consentID
	case "id_token":
		delete(claims, "openbanking_intent_id")
		claims["claims"] = map[string]any{"id_token": map[string]any{"openbanking_intent_id": map[string]any{"value": consentID, "essential": true}}}
	}
	request := signRequest(t, fx.pkjKey, jwa.ES256, "", claims)
	r := postForm(t, client(nil), httpBase+"/bc-authorize", payForm(t, httpBase+"/bc-authorize", "request", request))
	if r.status != http.StatusOK {
		t.Fatalf("bc-authorize: %d %s", r.status, r.raw)
	}
	return r.str("auth_req_id")
}

// pollPay polls for tpp-pay's tokens once the interval has passed.
func pollPay(t *testing.T, authReqID string) response {
	t.Helper()
	time.Sleep(1100 * time.Millisecond)
	return postForm(t, client(nil), httpBase+"/token",
		payForm(t, httpBase+"/token", "grant_type", "urn:openid:params:grant-type:ciba", "auth_req_id", authReqID))
}

// consentData is the Data of the consent as its TPP reads it.
func consentData(t *testing.T, collection, tok, id string) map[string]any {
	t.Helper()
	r := consentCall(t, client(nil), http.MethodGet, collection+"/"+id, tok, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET consent: %d %s", r.status, r.raw)
	}
	return r.body["Data"].(map[string]any)
}

// TestPaymentCIBA: a payment authorised through CIBA on the real Caddy: client
// credentials (payments) → payment consent → signed bc-authorize → the webhook shows the
// payment → the decision API approves with a chosen account → the poll gets an access
// token of the consent and no refresh token → the consent reads Authorised with that
// debtor account. A denial rejects the next one; a funds-confirmation consent goes the
// same way with its fixed account and gets a refresh token.
func TestPaymentCIBA(t *testing.T) {
	hook := paymentCIBAGateway(t)
	tok := payToken(t, "payments")

	t.Run("approve", func(t *testing.T) {
		id := createConsent(t, paymentConsentsURL, tok, payConsentBody)
		authReqID := bcPay(t, "openid payments", id, "wso2")
		n := notification(t, hook)
		if n.Payment == nil {
			t.Fatalf("webhook without the payment: %+v", n)
		}
		want := notifier.PaymentSummary{Kind: notifier.KindPayment, PayeeName: "ACME Inc", PayeeAccount: "••••5698",
			Amount: "165.88", Currency: "GBP", Reference: "FRESCO-101", Until: n.Payment.Until}
		if n.Payment == nil || *n.Payment != want || n.Consent.ConsentID != id || n.ClientName != "Pay TPP" || len(n.Accounts) != 2 {
			t.Fatalf("webhook %+v, payment %+v", n, n.Payment)
		}
		errorOnly(t, pollPay(t, authReqID), http.StatusBadRequest, "authorization_pending")
		if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-2"]}`); r.status != http.StatusNoContent {
			t.Fatalf("approve: %d %s", r.status, r.raw)
		}
		tokens := pollPay(t, authReqID)
		if tokens.status != http.StatusOK || tokens.str("access_token") == "" || tokens.str("id_token") == "" ||
			tokens.str("scope") != "openid payments" || tokens.body["refresh_token"] != nil {
			t.Fatalf("tokens: %d %s", tokens.status, tokens.raw)
		}
		data := consentData(t, paymentConsentsURL, tok, id)
		debtor, _ := data["Debtor"].(map[string]any)
		if data["Status"] != "Authorised" || debtor["Identification"] != "80200110203348" || debtor["SchemeName"] != payment.SchemeSortCodeAccountNumber {
			t.Fatalf("consent after approval: %v", data)
		}
		again := postForm(t, client(nil), httpBase+"/token", payForm(t, httpBase+"/token", "grant_type", "urn:openid:params:grant-type:ciba", "auth_req_id", authReqID))
		errorOnly(t, again, http.StatusBadRequest, "invalid_grant")
	})

	t.Run("deny", func(t *testing.T) {
		id := createConsent(t, paymentConsentsURL, tok, payConsentBody)
		authReqID := bcPay(t, "openid payments", id, "ukob")
		n := notification(t, hook)
		if r := decide(t, n, n.DeviceToken, `{"decision":"deny"}`); r.status != http.StatusNoContent {
			t.Fatalf("deny: %d %s", r.status, r.raw)
		}
		errorOnly(t, pollPay(t, authReqID), http.StatusBadRequest, "access_denied")
		if data := consentData(t, paymentConsentsURL, tok, id); data["Status"] != "Rejected" {
			t.Fatalf("consent after denial: %v", data)
		}
	})

	t.Run("funds", func(t *testing.T) {
		fundsTok := payToken(t, "fundsconfirmations")
		id := createConsent(t, fundsConsentsURL, fundsTok,
			`{"Data":{"DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345"}}}`)
		authReqID := bcPay(t, "openid fundsconfirmations", id, "id_token")
		n := notification(t, hook)
		if n.Payment == nil || n.Payment.Kind != notifier.KindFunds || n.Payment.DebtorAccount != "••••3345" || len(n.Accounts) != 1 {
			t.Fatalf("webhook payment %+v, accounts %v", n.Payment, n.Accounts)
		}
		if r := decide(t, n, n.DeviceToken, `{"decision":"approve"}`); r.status != http.StatusNoContent {
			t.Fatalf("approve: %d %s", r.status, r.raw)
		}
		tokens := pollPay(t, authReqID)
		if tokens.status != http.StatusOK || tokens.str("refresh_token") == "" || tokens.str("scope") != "openid fundsconfirmations" {
			t.Fatalf("tokens: %d %s", tokens.status, tokens.raw)
		}
		if data := consentData(t, fundsConsentsURL, fundsTok, id); data["Status"] != "Authorised" {
			t.Fatalf("funds consent after approval: %v", data)
		}
	})

	t.Run("scope of another kind", func(t *testing.T) {
		id := createConsent(t, paymentConsentsURL, tok, payConsentBody)
		claims := requestClaims(payID, id)
		claims["scope"] = "openid fundsconfirmations"
		r := postForm(t, client(nil), httpBase+"/bc-authorize",
			payForm(t, httpBase+"/bc-authorize", "request", signRequest(t, fx.pkjKey, jwa.ES256, "", claims)))
		errorOnly(t, r, http.StatusBadRequest, "invalid_scope")
	})
}

// TestPaymentApprovalPage: the approval page in headless Chromium at a phone's size shows
// the payee, the amount, the reference and the accounts to pay from; with one picked and
// the PIN the payment consent is Authorised with that account and the TPP gets its token.
// A payment from an account the user does not hold says so and can only be denied, which
// rejects it.
func TestPaymentApprovalPage(t *testing.T) {
	hook := paymentCIBAGateway(t)
	newTab := phone(t)
	tok := payToken(t, "payments")
	id := createConsent(t, paymentConsentsURL, tok, payConsentBody)
	authReqID := bcPay(t, "openid payments", id, "wso2")
	n := notification(t, hook)

	ctx := newTab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(n.DeviceURL), chromedp.WaitVisible(chromedp.CSS("#payment"))); err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{}
	for _, sel := range []string{"#ask", "#pay-amount", "#payee", "#reference", "#accounts-legend", "#binding-message"} {
		shown[sel] = textOf(t, ctx, sel)
	}
	screenshot(t, ctx, filepath.Join(t.TempDir(), "payment-request.png"))
	if shown["#pay-amount"] != "165.88 GBP" || shown["#payee"] != "ACME Inc · ••••5698" || shown["#reference"] != "FRESCO-101" ||
		!strings.Contains(shown["#ask"], "payment") || !strings.Contains(shown["#accounts-legend"], "pay from") || shown["#binding-message"] != "PAY 4F2Q" {
		t.Fatalf("the page shows %q", shown)
	}
	radios, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#accounts input"), i => i.type + ":" + i.value)`))
	if err != nil || strings.Join(radios, ",") != "radio:acc-1,radio:acc-2" {
		t.Fatalf("accounts offered %q, %v", radios, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#accounts input[value="acc-1"]`)),
		chromedp.SendKeys(chromedp.CSS("#password"), alicePIN),
		chromedp.Click(chromedp.CSS("#approve")),
	); err != nil {
		t.Fatal(err)
	}
	if state, title := ending(t, ctx); state != "approved" || title != "Payment approved" {
		t.Fatalf("after approval the page is %q %q", state, title)
	}
	if tokens := pollPay(t, authReqID); tokens.status != http.StatusOK || tokens.str("access_token") == "" {
		t.Fatalf("poll: %d %s", tokens.status, tokens.raw)
	}
	data := consentData(t, paymentConsentsURL, tok, id)
	if debtor, _ := data["Debtor"].(map[string]any); data["Status"] != "Authorised" || debtor["Identification"] != "80200110203345" {
		t.Fatalf("consent after approval on the page: %v", data)
	}

	// A consent that pays from an account alice does not hold can only be denied.
	notHers := strings.Replace(payConsentBody, `"CreditorAccount"`,
		`"DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"11223344556677"},"CreditorAccount"`, 1)
	id = createConsent(t, paymentConsentsURL, tok, notHers)
	authReqID = bcPay(t, "openid payments", id, "ukob")
	n = notification(t, hook)
	ctx = newTab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(n.DeviceURL), chromedp.WaitVisible(chromedp.CSS("#not-held"))); err != nil {
		t.Fatal(err)
	}
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("approve").disabled && document.getElementById("choose").hidden`))
	if warning := textOf(t, ctx, "#not-held"); err != nil || !disabled || !strings.Contains(warning, "••••6677") || textOf(t, ctx, "#debtor") != "••••6677" {
		t.Fatalf("not-held page: warning %q, approve disabled %v (%v)", warning, disabled, err)
	}
	screenshot(t, ctx, filepath.Join(t.TempDir(), "payment-not-held.png"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#deny"))); err != nil {
		t.Fatal(err)
	}
	if state, title := ending(t, ctx); state != "denied" || title != "Payment denied" {
		t.Fatalf("after denial the page is %q %q", state, title)
	}
	errorOnly(t, pollPay(t, authReqID), http.StatusBadRequest, "access_denied")
	if data := consentData(t, paymentConsentsURL, tok, id); data["Status"] != "Rejected" {
		t.Fatalf("consent after denial on the page: %v", data)
	}
}
