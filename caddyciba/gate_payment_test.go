package caddyciba

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/caddyciba/gateway/internal/obsig"
	"github.com/caddyciba/gateway/internal/token"
	"github.com/caddyciba/gateway/payment"
)

var (
	pispURL  = httpBase + "/open-banking/v3.1/pisp"
	cbpiiURL = httpBase + "/open-banking/v3.1/cbpii"
)

const (
	// signerISS is the http://openbanking.org.uk/iss of tpp-signer's signatures.
	signerISS = "org-1/ssa-1"
)

// testInitiation is a payment consent's Initiation with every kind of field.
const testInitiation = `{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20",` +
	`"LocalInstrument":"UK.OBIE.FPS","InstructedAmount":{"Amount":"165.88","Currency":"GBP"},` +
	`"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc","SecondaryIdentification":"0002"},` +
	`"RemittanceInformation":{"Reference":"FRESCO-101","Unstructured":"Internal ops code 5120101"}}`

const testRisk = `{"PaymentContextCode":"EcommerceGoods","MerchantCategoryCode":"5967"}`

// payBank is the bank's payment and funds API in the tests: it records every request
// that reaches it and answers as mode says.
type payBank struct {
	mu    sync.Mutex
	reqs  []recorded
	mode  atomic.Value // string: "" normal, "500", "200text", "slow", "bad-id"
	calls atomic.Int64
	srv   *httptest.Server
}

type recorded struct {
	method, path string
	header       http.Header
	body         string
}

func newPayBank(t *testing.T) *payBank {
	b := &payBank{}
	b.mode.Store("")
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := b.calls.Add(1)
		b.mu.Lock()
		b.reqs = append(b.reqs, recorded{r.Method, r.URL.Path, r.Header.Clone(), string(body)})
		b.mu.Unlock()
		mode := b.mode.Load().(string)
		if mode == "slow" {
			time.Sleep(100 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case mode == "500":
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"Code":"500","Message":"down"}`))
		case mode == "huge201" || mode == "huge500":
			w.WriteHeader(map[string]int{"huge201": 201, "huge500": 500}[mode])
			w.Write([]byte(`{"Data":{"DomesticPaymentId":"dp-huge","Pad":"`))
			w.Write([]byte(strings.Repeat("x", 2<<20)))
			w.Write([]byte(`"}}`))
		case mode == "200text":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("paid"))
		case r.Method == http.MethodPost && r.URL.Path == "/open-banking/v3.1/pisp/domestic-payments":
			var req struct{ Data struct{ ConsentId string } }
			_ = json.Unmarshal(body, &req)
			id := fmt.Sprintf("dp-%d", n)
			if mode == "bad-id" {
				id = "../x"
			}
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"Data":{"DomesticPaymentId":%q,"ConsentId":%q,"Status":"AcceptedSettlementInProcess"},"Links":{"Self":"x"},"Meta":{}}`, id, req.Data.ConsentId)
		case r.Method == http.MethodPost && r.URL.Path == "/open-banking/v3.1/cbpii/funds-confirmations":
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"Data":{"FundsConfirmationId":"fc-1","FundsAvailable":true},"Links":{"Self":"x"},"Meta":{}}`))
		case strings.HasSuffix(r.URL.Path, "/funds-confirmation"):
			w.Write([]byte(`{"Data":{"FundsAvailableResult":{"FundsAvailable":true}},"Links":{"Self":"x"},"Meta":{}}`))
		case strings.HasSuffix(r.URL.Path, "/payment-details"):
			w.Write([]byte(`{"Data":{"PaymentStatus":[]},"Links":{"Self":"x"},"Meta":{}}`))
		case strings.HasPrefix(r.URL.Path, "/open-banking/v3.1/pisp/domestic-payments/"):
			fmt.Fprintf(w, `{"Data":{"DomesticPaymentId":%q,"Status":"AcceptedSettlementCompleted"},"Links":{"Self":"x"},"Meta":{}}`,
				strings.TrimPrefix(r.URL.Path, "/open-banking/v3.1/pisp/domestic-payments/"))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *payBank) count() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.reqs) }

func (b *payBank) posts(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, r := range b.reqs {
		if r.method == http.MethodPost && r.path == path {
			n++
		}
	}
	return n
}

func (b *payBank) last() recorded { b.mu.Lock(); defer b.mu.Unlock(); return b.reqs[len(b.reqs)-1] }

// paymentGateway starts the gateway with one ciba_gate in front of /open-banking/v3.1/*
// and the bank behind it, and two payment clients: tpp-pay, which does not sign, and
// tpp-signer, which signs its POSTs with fx.rsKey.
func paymentGateway(t *testing.T, bank *payBank) {
	t.Helper()
	dir := t.TempDir()
	jwks := filepath.Join(dir, "signer.jwks.json")
	if err := writeJWKS(jwks, fx.rsKey); err != nil {
		t.Fatal(err)
	}
	extra := `client tpp-pay {
			auth   client_secret_basic
			secret pay-secret
			scopes openid payments fundsconfirmations
		}
		client tpp-signer {
			auth          client_secret_basic
			secret        signer-secret
			scopes        openid payments fundsconfirmations
			jwks_file     ` + jwks + `
			jws_signature ` + signerISS + `
		}`
	cfg := gatewayConfig(filepath.Join(dir, "store"), extra)
	cfg = strings.ReplaceAll(cfg, "route /open-banking/v3.1/aisp/* {", "route /open-banking/v3.1/* {")
	cfg = strings.ReplaceAll(cfg, accountAPI, "reverse_proxy "+strings.TrimPrefix(bank.srv.URL, "http://"))
	startGateway(t, cfg)
}

func payRepo(t *testing.T) *payment.Repo { return &payment.Repo{Store: activeApp(t).Store()} }

// authorisedPayment stores a payment consent of the client with the initiation, authorised
// by psu-1 from account 22289, and returns its id and a CIBA token for it.
func authorisedPayment(t *testing.T, clientID, initiation string) (string, string) {
	t.Helper()
	now := time.Now()
	req, err := payment.ParseDomesticConsent([]byte(`{"Data":{"Initiation":`+initiation+`},"Risk":`+testRisk+`}`), now, payment.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	c := payment.NewDomestic(clientID, req, now, payment.Policy{})
	repo := payRepo(t)
	if err := repo.SaveDomestic(c, now); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.AuthoriseDomestic(c.ID, "psu-1", payment.Debtor{AccountID: "22289"}, now); err != nil {
		t.Fatal(err)
	}
	return c.ID, userToken(t, clientID, c.ID, "openid payments")
}

// authorisedFunds stores a funds consent of the client authorised by psu-1 for 22289.
func authorisedFunds(t *testing.T, clientID string) (string, string) {
	t.Helper()
	now := time.Now()
	req, err := payment.ParseFundsConsent([]byte(`{"Data":{"DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"11280001234567","Name":"Ann"}}}`), now)
	if err != nil {
		t.Fatal(err)
	}
	f := payment.NewFunds(clientID, req, now)
	repo := payRepo(t)
	if err := repo.SaveFunds(f, now); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.AuthoriseFunds(f.ID, "psu-1", "22289", now); err != nil {
		t.Fatal(err)
	}
	return f.ID, userToken(t, clientID, f.ID, "openid fundsconfirmations")
}

func userToken(t *testing.T, clientID, consentID, scope string) string {
	now := time.Now()
	return mintAccess(t, token.Access{ClientID: clientID, Grant: token.CIBA, Scope: scope, Subject: "psu-1", ConsentID: consentID,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()})
}

func clientToken(t *testing.T, clientID, scope string) string {
	now := time.Now()
	return mintAccess(t, token.Access{ClientID: clientID, Grant: token.ClientCredentials, Scope: scope,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()})
}

func paymentBody(consentID, initiation, risk string) string {
	return `{"Data":{"ConsentId":"` + consentID + `","Initiation":` + initiation + `},"Risk":` + risk + `}`
}

func pay(t *testing.T, tok, body, key string, headers ...string) response {
	t.Helper()
	h := append([]string{"x-idempotency-key", key}, headers...)
	if key == "" {
		h = headers
	}
	return consentCall(t, client(nil), http.MethodPost, pispURL+"/domestic-payments", tok, body, h...)
}

// errorItem is the first error item's code and path.
func errorItem(r response) (string, string) {
	errs, _ := r.body["Errors"].([]any)
	if len(errs) == 0 {
		return "", ""
	}
	item := errs[0].(map[string]any)
	path, _ := item["Path"].(string)
	return item["ErrorCode"].(string), path
}

// gatewaySigned checks the answer carries the gateway's x-jws-signature over its body.
func gatewaySigned(t *testing.T, r response) {
	t.Helper()
	sig := r.header.Get("X-Jws-Signature")
	if sig == "" {
		t.Fatalf("answer %d not signed: %s", r.status, r.raw)
	}
	err := obsig.Verify(sig, []byte(r.raw), activeApp(t).provider.MessageSigning.Keys.PublicSet(), obsig.Options{Issuer: httpBase})
	if err != nil {
		t.Fatalf("the gateway's signature does not verify: %v", err)
	}
}

// leaves lists the JSON paths of every string leaf of v under path.
func leaves(v any, path string) []string {
	switch x := v.(type) {
	case map[string]any:
		var out []string
		for k, c := range x {
			out = append(out, leaves(c, path+"."+k)...)
		}
		sort.Strings(out)
		return out
	case string:
		return []string{path}
	}
	return nil
}

// changed is the body with the string leaf at path (Data.Initiation.… or Risk.…) changed.
func changed(t *testing.T, body, path string) string {
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(path, ".")
	obj := v
	for _, p := range parts[:len(parts)-1] {
		obj = obj[p].(map[string]any)
	}
	last := parts[len(parts)-1]
	obj[last] = obj[last].(string) + "9"
	out, _ := json.Marshal(v)
	return string(out)
}

// TestPaymentGateMismatch: every field of the Initiation and the Risk changed in turn is
// refused with ConsentMismatch and its Path, and nothing reaches the bank; the equal body
// with the members in another order pays.
func TestPaymentGateMismatch(t *testing.T) {
	bank := newPayBank(t)
	paymentGateway(t, bank)
	id, tok := authorisedPayment(t, "tpp-pay", testInitiation)
	body := paymentBody(id, testInitiation, testRisk)
	var tree map[string]any
	_ = json.Unmarshal([]byte(body), &tree)
	paths := append(leaves(tree["Data"].(map[string]any)["Initiation"], "Data.Initiation"), leaves(tree["Risk"], "Risk")...)
	if len(paths) != 13 {
		t.Fatalf("fields: %v", paths)
	}
	for i, path := range paths {
		r := pay(t, tok, changed(t, body, path), fmt.Sprintf("k-%d", i))
		code, at := errorItem(r)
		if r.status != http.StatusBadRequest || code != "UK.OBIE.Resource.ConsentMismatch" || at != path {
			t.Errorf("%s: %d %s %s: %s", path, r.status, code, at, r.raw)
		}
		gatewaySigned(t, r)
	}
	for name, bad := range map[string]string{
		"other consent":    paymentBody("pdc-other", testInitiation, testRisk),
		"field added":      strings.Replace(body, `"LocalInstrument"`, `"SupplementaryData":{},"LocalInstrument"`, 1),
		"field left out":   strings.Replace(body, `"LocalInstrument":"UK.OBIE.FPS",`, "", 1),
		"amount as digits": strings.Replace(body, `"165.88"`, `"165.880"`, 1),
	} {
		r := pay(t, tok, bad, "k-"+name)
		if code, _ := errorItem(r); r.status != http.StatusBadRequest || code != "UK.OBIE.Resource.ConsentMismatch" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if n := bank.count(); n != 0 {
		t.Fatalf("%d mismatched payments reached the bank", n)
	}
	// The same JSON value, members reordered: paid.
	reordered := `{"Risk":` + testRisk + `,"Data":{"Initiation":` + testInitiation + `,"ConsentId":"` + id + `"}}`
	r := pay(t, tok, reordered, "k-good")
	if r.status != http.StatusCreated || bank.count() != 1 {
		t.Fatalf("equal body: %d %s", r.status, r.raw)
	}
	gatewaySigned(t, r)
	if got := bank.last(); got.body != reordered || got.header.Get("X-Ciba-Consent-Id") != id || got.header.Get("X-Ciba-Accounts") != "22289" ||
		got.header.Get("X-Ciba-Client-Id") != "tpp-pay" || got.header.Get("Authorization") != "" {
		t.Fatalf("forwarded: %+v", got)
	}
}

// TestPaymentGateSingleUse: a payment consumes its consent; a repeat with the same key
// and body answers the first answer without a forward, another body under the key is
// refused, and a second payment is InvalidConsentStatus. The payment is read back only
// by the client that made it.
func TestPaymentGateSingleUse(t *testing.T) {
	bank := newPayBank(t)
	paymentGateway(t, bank)
	id, tok := authorisedPayment(t, "tpp-pay", testInitiation)
	body := paymentBody(id, testInitiation, testRisk)
	if r := pay(t, tok, body, ""); r.status != http.StatusBadRequest || obErrorCode(r) != "UK.OBIE.Header.Missing" {
		t.Fatalf("no key: %d %s", r.status, r.raw)
	}
	if r := pay(t, tok, body, strings.Repeat("k", 41)); r.status != http.StatusBadRequest || obErrorCode(r) != "UK.OBIE.Header.Invalid" {
		t.Fatalf("long key: %d %s", r.status, r.raw)
	}
	first := pay(t, tok, body, "key-1")
	if first.status != http.StatusCreated {
		t.Fatalf("payment: %d %s", first.status, first.raw)
	}
	gatewaySigned(t, first)
	paymentID := first.body["Data"].(map[string]any)["DomesticPaymentId"].(string)
	c, err := payRepo(t).Domestic(id)
	if err != nil || c.Status != payment.Consumed || c.PaymentID != paymentID {
		t.Fatalf("consent after payment: %+v %v", c, err)
	}
	again := pay(t, tok, body, "key-1")
	if again.status != http.StatusCreated || again.raw != first.raw || bank.count() != 1 {
		t.Fatalf("repeat: %d %s (bank saw %d)", again.status, again.raw, bank.count())
	}
	gatewaySigned(t, again)
	// Another payment of the client under the same key: refused, not forwarded.
	id2, tok2 := authorisedPayment(t, "tpp-pay", testInitiation)
	if r := pay(t, tok2, paymentBody(id2, testInitiation, testRisk), "key-1"); r.status != http.StatusBadRequest || obErrorCode(r) != "UK.OBIE.Header.Invalid" {
		t.Fatalf("another body under the key: %d %s", r.status, r.raw)
	}
	second := pay(t, tok, body, "key-2")
	if code, _ := errorItem(second); second.status != http.StatusBadRequest || code != "UK.OBIE.Resource.InvalidConsentStatus" {
		t.Fatalf("second payment: %d %s", second.status, second.raw)
	}
	if n := bank.posts("/open-banking/v3.1/pisp/domestic-payments"); n != 1 {
		t.Fatalf("%d payments forwarded", n)
	}

	// Reading it back: the client's credentials token only.
	mine := clientToken(t, "tpp-pay", "payments")
	for _, path := range []string{"/domestic-payments/" + paymentID, "/domestic-payments/" + paymentID + "/payment-details"} {
		r := consentCall(t, client(nil), http.MethodGet, pispURL+path, mine, "")
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.status, r.raw)
		}
		gatewaySigned(t, r)
	}
	for name, tc := range map[string]struct {
		tok, path string
		status    int
	}{
		"another client":          {clientToken(t, "tpp-basic", "payments"), "/domestic-payments/" + paymentID, 403},
		"another client, details": {clientToken(t, "tpp-basic", "payments"), "/domestic-payments/" + paymentID + "/payment-details", 403},
		"unknown payment":         {mine, "/domestic-payments/dp-none", 403},
		"the CIBA token":          {tok, "/domestic-payments/" + paymentID, 403},
		"no payments scope":       {clientToken(t, "tpp-pay", "fundsconfirmations"), "/domestic-payments/" + paymentID, 403},
		"dot segment":             {mine, "/domestic-payments/..", 404},
		"encoded":                 {mine, "/domestic-payments/dp%2D1", 404},
		"trailing slash":          {mine, "/domestic-payments/" + paymentID + "/", 404},
	} {
		before := bank.count()
		r := consentCall(t, client(nil), http.MethodGet, pispURL+tc.path, tc.tok, "")
		if r.status != tc.status || bank.count() != before {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	// Methods the endpoints do not have.
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/domestic-payments", "POST"},
		{http.MethodPut, "/domestic-payments", "POST"},
		{http.MethodDelete, "/domestic-payments/" + paymentID, "GET"},
		{http.MethodPost, "/domestic-payment-consents/" + id + "/funds-confirmation", "GET"},
	} {
		r := consentCall(t, client(nil), tc.method, pispURL+tc.path, mine, "")
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d %q %s", tc.method, tc.path, r.status, r.header.Get("Allow"), r.raw)
		}
	}
}

// TestPaymentGateRaces: 50 payments at once on one consent, each with its own key, make
// one forward; 50 repeats of one key at once make one forward and 50 equal answers.
func TestPaymentGateRaces(t *testing.T) {
	bank := newPayBank(t)
	paymentGateway(t, bank)
	bank.mode.Store("slow")
	const n = 50
	race := func(tok, body string, key func(i int) string) []response {
		out := make([]response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				out[i] = pay(t, tok, body, key(i))
			}()
		}
		close(start)
		wg.Wait()
		return out
	}

	id, tok := authorisedPayment(t, "tpp-pay", testInitiation)
	got := race(tok, paymentBody(id, testInitiation, testRisk), func(i int) string { return fmt.Sprintf("distinct-%d", i) })
	paid := 0
	for _, r := range got {
		switch code, _ := errorItem(r); {
		case r.status == http.StatusCreated:
			paid++
		case r.status == http.StatusBadRequest && code == "UK.OBIE.Resource.InvalidConsentStatus":
		default:
			t.Errorf("distinct keys: %d %s", r.status, r.raw)
		}
	}
	if f := bank.posts("/open-banking/v3.1/pisp/domestic-payments"); paid != 1 || f != 1 {
		t.Fatalf("distinct keys: %d paid, %d forwarded", paid, f)
	}

	id, tok = authorisedPayment(t, "tpp-pay", testInitiation)
	got = race(tok, paymentBody(id, testInitiation, testRisk), func(int) string { return "one-key" })
	for _, r := range got {
		if r.status != http.StatusCreated || r.raw != got[0].raw {
			t.Errorf("repeats: %d %s (first %s)", r.status, r.raw, got[0].raw)
		}
	}
	if f := bank.posts("/open-banking/v3.1/pisp/domestic-payments"); f != 2 {
		t.Fatalf("repeats: %d forwarded in all", f)
	}
}

// TestPaymentGateBankFailure: a bank error or no answer leaves the consent usable and the
// key free, and the retry pays once; a 2xx the gate cannot read spends the consent (the
// bank may have paid) and answers 502, as does its repeat.
func TestPaymentGateBankFailure(t *testing.T) {
	bank := newPayBank(t)
	paymentGateway(t, bank)
	id, tok := authorisedPayment(t, "tpp-pay", testInitiation)
	body := paymentBody(id, testInitiation, testRisk)
	bank.mode.Store("500")
	r := pay(t, tok, body, "retry-me")
	if r.status != http.StatusBadGateway || obErrorCode(r) != "UK.OBIE.UnexpectedError" {
		t.Fatalf("bank 500: %d %s", r.status, r.raw)
	}
	gatewaySigned(t, r)
	if c, _ := payRepo(t).Domestic(id); c.Status != payment.Authorised || c.Reservation != "" {
		t.Fatalf("after a bank error: %+v", c)
	}
	bank.mode.Store("")
	if r := pay(t, tok, body, "retry-me"); r.status != http.StatusCreated {
		t.Fatalf("retry: %d %s", r.status, r.raw)
	}
	if r := pay(t, tok, body, "retry-me"); r.status != http.StatusCreated {
		t.Fatalf("repeat of the retry: %d %s", r.status, r.raw)
	}
	if f := bank.posts("/open-banking/v3.1/pisp/domestic-payments"); f != 2 {
		t.Fatalf("%d forwards (one failed, one paid)", f)
	}

	// A refusal too large to read is a refusal all the same.
	id, tok = authorisedPayment(t, "tpp-pay", testInitiation)
	body = paymentBody(id, testInitiation, testRisk)
	bank.mode.Store("huge500")
	if r := pay(t, tok, body, "k-huge"); r.status != http.StatusBadGateway {
		t.Fatalf("huge 500: %d %s", r.status, r.raw)
	}
	if c, _ := payRepo(t).Domestic(id); c.Status != payment.Authorised || c.Reservation != "" {
		t.Fatalf("after a huge refusal: %+v", c)
	}
	bank.mode.Store("")

	// The bank unreachable.
	id, tok = authorisedPayment(t, "tpp-pay", testInitiation)
	body = paymentBody(id, testInitiation, testRisk)
	bank.srv.Close()
	if r := pay(t, tok, body, "k"); r.status != http.StatusBadGateway {
		t.Fatalf("no bank: %d %s", r.status, r.raw)
	}
	if c, _ := payRepo(t).Domestic(id); c.Status != payment.Authorised || c.Reservation != "" {
		t.Fatalf("after no answer: %+v", c)
	}
}

// TestPaymentGateUnreadableAcceptance: a 2xx the gate cannot read spends the consent and
// answers 502 — never released, so never paid twice.
func TestPaymentGateUnreadableAcceptance(t *testing.T) {
	bank := newPayBank(t)
	paymentGateway(t, bank)
	for _, mode := range []string{"200text", "bad-id", "huge201"} {
		bank.mode.Store(mode)
		id, tok := authorisedPayment(t, "tpp-pay", testInitiation)
		body := paymentBody(id, testInitiation, testRisk)
		r := pay(t, tok, body, "k-"+mode)
		if r.status != http.StatusBadGateway || strings.Contains(r.raw, "paid") || strings.Contains(r.raw, "../x") {
			t.Fatalf("%s: %d %s", mode, r.status, r.raw)
		}
		if c, _ := payRepo(t).Domestic(id); c.Status != payment.Consumed {
			t.Fatalf("%s: consent %s", mode, c.Status)
		}
		bank.mode.Store("")
		if again := pay(t, tok, body, "k-"+mode); again.status != http.StatusBadGateway || again.raw != r.raw {
			t.Fatalf("%s repeat: %d %s", mode, again.status, again.raw)
		}
		if other := pay(t, tok, body, "k2-"+mode); other.status != http.StatusBadRequest {
			t.Fatalf("%s another key: %d %s", mode, other.status, other.raw)
		}
	}
}

// TestPaymentGateFunds: the consent's funds confirmation with its token, and POST
// /funds-confirmations with a funds consent's token, allowed and refused.
func TestPaymentGateFunds(t *testing.T) {
	bank := newPayBank(t)
	paymentGateway(t, bank)
	id, tok := authorisedPayment(t, "tpp-pay", testInitiation)
	other, otherTok := authorisedPayment(t, "tpp-pay", testInitiation)
	r := consentCall(t, client(nil), http.MethodGet, pispURL+"/domestic-payment-consents/"+id+"/funds-confirmation", tok, "")
	if r.status != http.StatusOK || !strings.Contains(r.raw, "FundsAvailable") {
		t.Fatalf("consent funds: %d %s", r.status, r.raw)
	}
	gatewaySigned(t, r)
	if got := bank.last(); got.header.Get("X-Ciba-Subject") != "psu-1" || got.header.Get("X-Ciba-Consent-Id") != id {
		t.Fatalf("identity: %v", got.header)
	}
	before := bank.count()
	if r := consentCall(t, client(nil), http.MethodGet, pispURL+"/domestic-payment-consents/"+other+"/funds-confirmation", tok, ""); r.status != http.StatusForbidden {
		t.Fatalf("another consent's funds: %d %s", r.status, r.raw)
	}
	_ = otherTok

	fid, ftok := authorisedFunds(t, "tpp-pay")
	fundsBody := func(consentID, amount string) string {
		return `{"Data":{"ConsentId":"` + consentID + `","Reference":"Purchase01","InstructedAmount":{"Amount":"` + amount + `","Currency":"GBP"}}}`
	}
	for name, tc := range map[string]struct {
		tok, body string
		status    int
		code      string
	}{
		"payment token":     {tok, fundsBody(fid, "20.00"), 403, "UK.OBIE.Header.Invalid"},
		"another consent":   {ftok, fundsBody("fcc-other", "20.00"), 400, "UK.OBIE.Resource.ConsentMismatch"},
		"invalid amount":    {ftok, fundsBody(fid, "20,00"), 400, "UK.OBIE.Field.Invalid"},
		"not JSON":          {ftok, "{", 400, "UK.OBIE.Resource.InvalidFormat"},
		"funds token, PISP": {ftok, paymentBody(id, testInitiation, testRisk), 0, ""},
	} {
		url := cbpiiURL + "/funds-confirmations"
		if name == "funds token, PISP" {
			url, tc.status, tc.code = pispURL+"/domestic-payments", 403, "UK.OBIE.Header.Invalid"
		}
		r := consentCall(t, client(nil), http.MethodPost, url, tc.tok, tc.body, "x-idempotency-key", "f")
		if r.status != tc.status || obErrorCode(r) != tc.code {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if bank.count() != before {
		t.Fatalf("refused funds requests reached the bank")
	}
	r = consentCall(t, client(nil), http.MethodPost, cbpiiURL+"/funds-confirmations", ftok, fundsBody(fid, "20.00"))
	if r.status != http.StatusCreated || !strings.Contains(r.raw, `"FundsAvailable":true`) {
		t.Fatalf("funds confirmation: %d %s", r.status, r.raw)
	}
	gatewaySigned(t, r)
	if got := bank.last(); got.header.Get("X-Ciba-Accounts") != "22289" || got.header.Get("X-Ciba-Consent-Id") != fid {
		t.Fatalf("identity: %v", got.header)
	}
	// A withdrawn funds consent ends its token.
	if err := payRepo(t).DeleteFunds("tpp-pay", fid); err != nil {
		t.Fatal(err)
	}
	if r := consentCall(t, client(nil), http.MethodPost, cbpiiURL+"/funds-confirmations", ftok, fundsBody(fid, "20.00")); r.status != http.StatusUnauthorized {
		t.Fatalf("deleted consent: %d %s", r.status, r.raw)
	}
}

// TestPaymentGateSignatures: a client with jws_signature must sign its POSTs; a missing,
// malformed, wrongly claimed or wrong-key signature is refused with its code and never
// forwarded, a good one passes, and a signature on a GET is Unexpected.
func TestPaymentGateSignatures(t *testing.T) {
	bank := newPayBank(t)
	paymentGateway(t, bank)
	id, tok := authorisedPayment(t, "tpp-signer", testInitiation)
	body := paymentBody(id, testInitiation, testRisk)
	sign := func(key jwk.Key, c obsig.Claims, over string) string {
		t.Helper()
		if c.IssuedAt.IsZero() {
			c.IssuedAt = time.Now()
		}
		s, err := obsig.Sign([]byte(over), key, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherRSA, err := jwk.FromRaw(mustRSA(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = otherRSA.Set(jwk.KeyIDKey, fx.rsKey.KeyID())
	good := sign(fx.rsKey, obsig.Claims{Issuer: signerISS}, body)
	// A GET is never signed.
	r := consentCall(t, client(nil), http.MethodGet, pispURL+"/domestic-payment-consents/"+id+"/funds-confirmation", tok, "", "x-jws-signature", good)
	if r.status != http.StatusBadRequest || obErrorCode(r) != "UK.OBIE.Signature.Unexpected" {
		t.Fatalf("signed GET: %d %s", r.status, r.raw)
	}
	for name, tc := range map[string]struct{ sig, code string }{
		"missing":        {"", "UK.OBIE.Signature.Missing"},
		"malformed":      {"abc", "UK.OBIE.Signature.Malformed"},
		"another iss":    {sign(fx.rsKey, obsig.Claims{Issuer: "org-2/ssa-2"}, body), "UK.OBIE.Signature.InvalidClaim"},
		"another tan":    {sign(fx.rsKey, obsig.Claims{Issuer: signerISS, TrustAnchor: "example.com"}, body), "UK.OBIE.Signature.InvalidClaim"},
		"unencoded form": {sign(fx.rsKey, obsig.Claims{Issuer: signerISS, Form: obsig.Unencoded}, body), "UK.OBIE.Signature.InvalidClaim"},
		"in the future":  {sign(fx.rsKey, obsig.Claims{Issuer: signerISS, IssuedAt: time.Now().Add(time.Hour)}, body), "UK.OBIE.Signature.InvalidClaim"},
		"another body":   {sign(fx.rsKey, obsig.Claims{Issuer: signerISS}, body+" "), "UK.OBIE.Signature.Invalid"},
		"another key":    {sign(otherRSA, obsig.Claims{Issuer: signerISS}, body), "UK.OBIE.Signature.Invalid"},
	} {
		var h []string
		if tc.sig != "" {
			h = []string{"x-jws-signature", tc.sig}
		}
		r := pay(t, tok, body, "k-"+name, h...)
		if r.status != http.StatusBadRequest || obErrorCode(r) != tc.code {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if bank.count() != 0 {
		t.Fatalf("badly signed payments reached the bank")
	}
	r = pay(t, tok, body, "k-good", "x-jws-signature", good)
	if r.status != http.StatusCreated {
		t.Fatalf("signed payment: %d %s", r.status, r.raw)
	}
	gatewaySigned(t, r)
	if got := bank.last(); got.body != body {
		t.Fatalf("the bank got another body than the one signed: %s", got.body)
	}
	// A client without jws_signature is not asked for one.
	id2, tok2 := authorisedPayment(t, "tpp-pay", testInitiation)
	if r := pay(t, tok2, paymentBody(id2, testInitiation, testRisk), "k"); r.status != http.StatusCreated {
		t.Fatalf("unsigned client: %d %s", r.status, r.raw)
	}
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPaymentGateDemoBank puts the gate in front of the demo bank of Caddyfile.example as
// it is written there: its payment and funds answers, made by Caddy alone, pass the gate.
func TestPaymentGateDemoBank(t *testing.T) {
	example, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	at := strings.Index(string(example), "http://:9000 {")
	if at < 0 {
		t.Fatal("no demo bank in Caddyfile.example")
	}
	bankDir, err := filepath.Abs("../examples/bank")
	if err != nil {
		t.Fatal(err)
	}
	// Any host, as in the example: the gate's reverse_proxy passes on the TPP's Host.
	bankAddr := fmt.Sprintf("127.0.0.1:%d", bankPort)
	bank := strings.NewReplacer("http://:9000", fmt.Sprintf("http://:%d", bankPort), "examples/bank", bankDir).Replace(string(example[at:]))
	cfg := gatewayConfig(t.TempDir(), `client tpp-pay {
			auth   client_secret_basic
			secret pay-secret
			scopes openid payments fundsconfirmations
		}`)
	cfg = strings.ReplaceAll(cfg, "route /open-banking/v3.1/aisp/* {", "route /open-banking/v3.1/* {")
	startGateway(t, strings.ReplaceAll(cfg, accountAPI, "reverse_proxy "+bankAddr)+"\n"+bank)

	id, tok := authorisedPayment(t, "tpp-pay", testInitiation)
	r := pay(t, tok, paymentBody(id, testInitiation, testRisk), "demo-1")
	if r.status != http.StatusCreated {
		t.Fatalf("payment: %d %s", r.status, r.raw)
	}
	gatewaySigned(t, r)
	paymentID, _ := r.body["Data"].(map[string]any)["DomesticPaymentId"].(string)
	if c, _ := payRepo(t).Domestic(id); c.Status != payment.Consumed || c.PaymentID != paymentID || !strings.Contains(r.raw, id) {
		t.Fatalf("consent %+v after %s", c, r.raw)
	}
	mine := clientToken(t, "tpp-pay", "payments")
	for _, path := range []string{"/domestic-payments/" + paymentID, "/domestic-payments/" + paymentID + "/payment-details"} {
		if r := consentCall(t, client(nil), http.MethodGet, pispURL+path, mine, ""); r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.status, r.raw)
		}
	}
	id2, tok2 := authorisedPayment(t, "tpp-pay", testInitiation)
	if r := consentCall(t, client(nil), http.MethodGet, pispURL+"/domestic-payment-consents/"+id2+"/funds-confirmation", tok2, ""); r.status != http.StatusOK {
		t.Fatalf("consent funds: %d %s", r.status, r.raw)
	}
	fid, ftok := authorisedFunds(t, "tpp-pay")
	r = consentCall(t, client(nil), http.MethodPost, cbpiiURL+"/funds-confirmations", ftok,
		`{"Data":{"ConsentId":"`+fid+`","Reference":"Purchase01","InstructedAmount":{"Amount":"20.00","Currency":"GBP"}}}`)
	if r.status != http.StatusCreated || !strings.Contains(r.raw, fid) {
		t.Fatalf("funds confirmation: %d %s", r.status, r.raw)
	}
	gatewaySigned(t, r)
}

// TestPaymentGateTokens: the payment endpoints take a token only while its whole grant
// holds, of the grant and kind of consent the endpoint needs; none of the refusals
// reaches the bank.
func TestPaymentGateTokens(t *testing.T) {
	bank := newPayBank(t)
	paymentGateway(t, bank)
	id, _ := authorisedPayment(t, "tpp-pay", testInitiation)
	body := paymentBody(id, testInitiation, testRisk)
	now := time.Now()
	mint := func(edit func(*token.Access)) string {
		a := token.Access{ClientID: "tpp-pay", Grant: token.CIBA, Scope: "openid payments", Subject: "psu-1", ConsentID: id,
			IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}
		edit(&a)
		return mintAccess(t, a)
	}
	awaiting := func() string {
		req, _ := payment.ParseDomesticConsent([]byte(`{"Data":{"Initiation":`+testInitiation+`},"Risk":`+testRisk+`}`), now, payment.Policy{})
		c := payment.NewDomestic("tpp-pay", req, now, payment.Policy{})
		if err := payRepo(t).SaveDomestic(c, now); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}()
	_, aisp := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")
	for name, tc := range map[string]struct {
		tok    string
		status int
	}{
		"none":               {"", 401},
		"unknown":            {"nope", 401},
		"expired":            {mint(func(a *token.Access) { a.ExpiresAt = now.Add(-time.Second).Unix() }), 401},
		"client gone":        {mint(func(a *token.Access) { a.ClientID = "tpp-gone" }), 401},
		"user gone":          {mint(func(a *token.Access) { a.Subject = "psu-gone" }), 401},
		"consent gone":       {mint(func(a *token.Access) { a.ConsentID = "pdc-gone" }), 401},
		"another client's":   {mint(func(a *token.Access) { a.ClientID = "tpp-basic" }), 403},
		"another user's":     {mint(func(a *token.Access) { a.Subject = "psu-2" }), 401},
		"no payments scope":  {mint(func(a *token.Access) { a.Scope = "openid accounts" }), 403},
		"client credentials": {mint(func(a *token.Access) { a.Grant, a.Subject, a.ConsentID = token.ClientCredentials, "", "" }), 403},
		"awaiting":           {mint(func(a *token.Access) { a.ConsentID = awaiting }), 403},
		"account consent":    {aisp, 403},
	} {
		r := pay(t, tc.tok, body, "k-"+name)
		if r.status != tc.status {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	// A body on a GET, a body that is no JSON.
	mine := clientToken(t, "tpp-pay", "payments")
	if r := consentCall(t, client(nil), http.MethodGet, pispURL+"/domestic-payments/dp-1", mine, "{}"); r.status != http.StatusBadRequest {
		t.Errorf("GET with a body: %d %s", r.status, r.raw)
	}
	tok := mint(func(*token.Access) {})
	if r := pay(t, tok, body, "k-type", "Content-Type", "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text body: %d %s", r.status, r.raw)
	}
	if r := pay(t, tok, `{"Data":`+strings.Repeat(" ", payment.MaxBodyBytes)+`1}`, "k-big"); r.status != http.StatusBadRequest {
		t.Errorf("large body: %d %s", r.status, r.raw)
	}
	if n := bank.count(); n != 0 {
		t.Fatalf("%d refused requests reached the bank", n)
	}
}
