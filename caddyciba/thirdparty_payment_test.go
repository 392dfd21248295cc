package caddyciba

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caddyciba/gateway/notifier"
)

// e2eInitiation and e2eRisk are the payment of TestOpenIDClientPayment: 165.88 GBP to ACME
// Inc, the account to pay from left to the payer.
const (
	e2eInitiation = `{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20",` +
		`"LocalInstrument":"UK.OBIE.FPS","InstructedAmount":{"Amount":"165.88","Currency":"GBP"},` +
		`"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"},` +
		`"RemittanceInformation":{"Reference":"FRESCO-101"}}`
	e2eRisk        = `{"PaymentContextCode":"EcommerceGoods"}`
	e2eFundsDebtor = `{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345"}`
)

// TestOpenIDClientPayment runs a payment and a funds confirmation end to end with
// openid-client v6 (test/e2e/payment.mjs) as the TPP and Chromium as the payer's phone:
// client credentials (payments) → payment consent → signed CIBA request → the payer sees
// payee and amount on the approval page and approves from an account of their choice →
// tokens → POST /domestic-payments through the gate to a recording bank, forwarded once
// with the consent's Initiation → the consent reads Consumed; then the same for a funds
// confirmation. The TPP signs every POST (x-jws-signature with jose) and verifies the
// gateway's signature on every signed answer against its /jwks (the payment and the funds
// confirmation must be signed).
func TestOpenIDClientPayment(t *testing.T) {
	bank := newPayBank(t)
	hook := newReceiver(t, nil)
	cfg := gatewayConfig(t.TempDir(), fmt.Sprintf(`users %s
		poll_interval 1s
		client %s {
			name          "Pay TPP"
			auth          private_key_jwt
			jwks_file     %s/pkj.jwks.json
			scopes        openid payments fundsconfirmations
			jws_signature %s
		}
		notifier webhook %s {
			secret %s
		}`, writePayUsers(t), payID, fx.dir, signerISS, hook.URL, webhookSecret))
	cfg = strings.ReplaceAll(cfg, "route /open-banking/v3.1/aisp/* {", "route /open-banking/v3.1/* {")
	cfg = strings.ReplaceAll(cfg, accountAPI, "reverse_proxy "+strings.TrimPrefix(bank.srv.URL, "http://"))
	startGateway(t, cfg)
	newTab := phone(t)

	clientJWK, err := json.Marshal(fx.pkjKey)
	if err != nil {
		t.Fatal(err)
	}
	signerJWK, err := json.Marshal(fx.rsKey)
	if err != nil {
		t.Fatal(err)
	}
	wait := startClient(t, "payment.mjs", map[string]string{
		"ISSUER": httpBase, "CLIENT_ID": payID, "CLIENT_JWK": string(clientJWK), "SIGNER_JWK": string(signerJWK),
		"JWS_ISS": signerISS, "INITIATION": e2eInitiation, "RISK": e2eRisk, "FUNDS_DEBTOR": e2eFundsDebtor,
	}, 3*time.Minute)

	// The payer's phone: the payment, then the funds check, each approved on the page.
	n := nextNotification(t, hook)
	ctx := newTab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(n.DeviceURL), chromedp.WaitVisible(chromedp.CSS("#payment"))); err != nil {
		t.Fatal(err)
	}
	if amount, payee := textOf(t, ctx, "#pay-amount"), textOf(t, ctx, "#payee"); amount != "165.88 GBP" || payee != "ACME Inc · ••••5698" {
		t.Fatalf("the payment page shows amount %q, payee %q", amount, payee)
	}
	approveOnPage(t, ctx, `#accounts input[value="acc-2"]`, "Payment approved")

	n = nextNotification(t, hook)
	ctx = newTab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(n.DeviceURL), chromedp.WaitVisible(chromedp.CSS("#payment"))); err != nil {
		t.Fatal(err)
	}
	if debtor := textOf(t, ctx, "#debtor"); debtor != "••••3345" {
		t.Fatalf("the funds check page shows account %q", debtor)
	}
	approveOnPage(t, ctx, "", "Funds check approved")

	var got struct {
		Payment struct {
			ConsentID         string `json:"consent_id"`
			ConsentStatus     string `json:"consent_status"`
			ConsentSigned     bool   `json:"consent_signed"`
			AuthorisedStatus  string `json:"authorised_status"`
			Scope             string `json:"scope"`
			Sub               string `json:"sub"`
			DomesticPaymentID string `json:"domestic_payment_id"`
			PaymentConsentID  string `json:"payment_consent_id"`
			PaymentSigned     bool   `json:"payment_signed"`
			RepeatSigned      bool   `json:"repeat_signed"`
			ConsumedStatus    string `json:"consumed_status"`
		} `json:"payment"`
		Funds struct {
			ConsentID          string `json:"consent_id"`
			ConsentStatus      string `json:"consent_status"`
			ConsentSigned      bool   `json:"consent_signed"`
			Scope              string `json:"scope"`
			AuthorisedStatus   string `json:"authorised_status"`
			ConfirmationSigned bool   `json:"confirmation_signed"`
			FundsAvailable     bool   `json:"funds_available"`
			ConfirmationID     string `json:"confirmation_id"`
		} `json:"funds"`
	}
	wait(&got)
	// The consent endpoints sign their answers as the gate does (DESIGN: the gateway signs
	// its own answers on the payment APIs).
	p, f := got.Payment, got.Funds
	if !p.ConsentSigned || !f.ConsentSigned {
		t.Fatalf("consent answers signed: payment %v, funds %v", p.ConsentSigned, f.ConsentSigned)
	}
	if p.ConsentStatus != "AwaitingAuthorisation" || p.AuthorisedStatus != "Authorised" || p.Scope != "openid payments" ||
		p.Sub != "sub-alice" || p.PaymentConsentID != p.ConsentID || p.ConsumedStatus != "Consumed" ||
		!p.PaymentSigned || !p.RepeatSigned {
		t.Fatalf("the TPP's payment: %+v", p)
	}
	if f.ConsentStatus != "AwaitingAuthorisation" || f.AuthorisedStatus != "Authorised" || f.Scope != "openid fundsconfirmations" ||
		!f.FundsAvailable || f.ConfirmationID != "fc-1" || !f.ConfirmationSigned {
		t.Fatalf("the TPP's funds confirmation: %+v", f)
	}

	// The bank got the payment once, with the consent's Initiation and Risk, and the funds
	// confirmation once; nothing else.
	const paymentsPath, fundsPath = "/open-banking/v3.1/pisp/domestic-payments", "/open-banking/v3.1/cbpii/funds-confirmations"
	if bank.posts(paymentsPath) != 1 || bank.posts(fundsPath) != 1 || bank.count() != 2 {
		t.Fatalf("the bank got %d payments, %d funds confirmations, %d requests", bank.posts(paymentsPath), bank.posts(fundsPath), bank.count())
	}
	bank.mu.Lock()
	forwarded := append([]recorded(nil), bank.reqs...)
	bank.mu.Unlock()
	var sent struct {
		Data struct {
			ConsentId  string
			Initiation map[string]any
		}
		Risk map[string]any
	}
	if err := json.Unmarshal([]byte(forwarded[0].body), &sent); err != nil {
		t.Fatalf("forwarded payment %q: %v", forwarded[0].body, err)
	}
	if forwarded[0].path != paymentsPath || sent.Data.ConsentId != p.ConsentID ||
		!reflect.DeepEqual(sent.Data.Initiation, jsonObject(t, e2eInitiation)) || !reflect.DeepEqual(sent.Risk, jsonObject(t, e2eRisk)) ||
		forwarded[0].header.Get("X-Ciba-Consent-Id") != p.ConsentID || forwarded[0].header.Get("X-Ciba-Client-Id") != payID ||
		forwarded[0].header.Get("Authorization") != "" {
		t.Fatalf("forwarded payment: %+v", forwarded[0])
	}
	if !strings.HasPrefix(p.DomesticPaymentID, "dp-") {
		t.Fatalf("the TPP got payment id %q", p.DomesticPaymentID)
	}
	if fw := forwarded[1]; fw.path != fundsPath || !strings.Contains(fw.body, `"ConsentId":"`+f.ConsentID+`"`) ||
		fw.header.Get("X-Ciba-Consent-Id") != f.ConsentID {
		t.Fatalf("forwarded funds confirmation: %+v", fw)
	}

	// The consent as the API reads it: Consumed, paid from the account picked on the page.
	data := consentData(t, paymentConsentsURL, payToken(t, "payments"), p.ConsentID)
	if debtor, _ := data["Debtor"].(map[string]any); data["Status"] != "Consumed" || debtor["Identification"] != "80200110203348" {
		t.Fatalf("payment consent after the payment: %v", data)
	}
	if data := consentData(t, fundsConsentsURL, payToken(t, "fundsconfirmations"), f.ConsentID); data["Status"] != "Authorised" {
		t.Fatalf("funds consent after the confirmation: %v", data)
	}
}

// nextNotification is notification with room for node to start and reach bc-authorize on
// a busy machine.
func nextNotification(t *testing.T, hook *receiver) *notifier.Notification {
	t.Helper()
	select {
	case <-hook.arrive:
		hook.arrive <- struct{}{} // for notification's own wait
	case <-time.After(90 * time.Second):
		t.Fatal("no webhook: the client did not reach bc-authorize")
	}
	return notification(t, hook)
}

// approveOnPage picks the account (unless sel is ""), enters alice's PIN and approves,
// then waits for the page's approved ending with the title.
func approveOnPage(t *testing.T, ctx context.Context, sel, title string) {
	t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	if sel != "" {
		actions = append(actions, chromedp.Click(chromedp.CSS(sel)))
	}
	actions = append(actions, chromedp.SendKeys(chromedp.CSS("#password"), alicePIN), chromedp.Click(chromedp.CSS("#approve")))
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
	if state, got := ending(t, ctx); state != "approved" || got != title {
		t.Fatalf("after approval the page is %q %q", state, got)
	}
}

func jsonObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
