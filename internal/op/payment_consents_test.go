package op

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/payment"
)

// paymentProvider is a provider over Badger in a temp dir with three clients: "tpp" may
// ask for payments and fundsconfirmations, "tpp2" for payments, "aisp" for accounts only.
func paymentProvider(t *testing.T) *Provider {
	t.Helper()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ring, err := keys.LoadOrCreate(s, jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	tpp := &clients.Client{ID: "tpp", Method: clients.SecretBasic, DeliveryMode: clients.Poll, Scopes: []string{"openid", "payments", "fundsconfirmations"}}
	aisp := &clients.Client{ID: "aisp", Method: clients.SecretBasic, DeliveryMode: clients.Poll, Scopes: []string{"openid", "accounts"}}
	tpp2 := &clients.Client{ID: "tpp2", Method: clients.SecretBasic, DeliveryMode: clients.Poll, Scopes: []string{"payments"}}
	for _, c := range []*clients.Client{tpp, aisp, tpp2} {
		if err := c.SetSecret("secret"); err != nil {
			t.Fatal(err)
		}
	}
	reg, _ := clients.NewRegistry([]*clients.Client{tpp, aisp, tpp2}, nil)
	p := New(Config{Issuer: "https://bank.example", AuthReqTTL: 60e9, MaxAuthReqTTL: 600e9, PollInterval: 5e9, AccessTokenTTL: 600e9}, s, ring, reg)
	t.Cleanup(p.Close)
	return p
}

// clientToken gets a client-credentials token at /token; the status when refused.
func clientToken(t *testing.T, p *Provider, client, scope string) (string, int) {
	t.Helper()
	r := httptest.NewRequest("POST", PathToken, strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(client, "secret")
	w := httptest.NewRecorder()
	p.ServeToken(w, r)
	var out TokenResponse
	if w.Code != http.StatusOK {
		return "", w.Code
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Scope != scope {
		t.Fatalf("token %s: %v", w.Body, err)
	}
	return out.AccessToken, w.Code
}

type call struct {
	method, path, token, body, idempotency string
}

func (c call) do(p *Provider, handler func(*Provider) http.HandlerFunc) *httptest.ResponseRecorder {
	r := httptest.NewRequest(c.method, "https://bank.example"+c.path, strings.NewReader(c.body))
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.idempotency != "" {
		r.Header.Set(IdempotencyHeader, c.idempotency)
	}
	w := httptest.NewRecorder()
	handler(p)(w, r)
	return w
}

func payments(p *Provider) http.HandlerFunc { return p.ServePaymentConsents }
func funds(p *Provider) http.HandlerFunc    { return p.ServeFundsConsents }

const paymentConsentBody = `{"Data":{"Initiation":{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20",
 "LocalInstrument":"UK.OBIE.FPS","InstructedAmount":{"Amount":"165.88","Currency":"GBP"},
 "CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"},
 "RemittanceInformation":{"Reference":"FRESCO-101"}}},"Risk":{"PaymentContextCode":"EcommerceGoods"}}`

func errorCodes(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Errors []struct{ ErrorCode, Path string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	var out []string
	for _, e := range body.Errors {
		out = append(out, e.ErrorCode+"@"+e.Path)
	}
	return strings.Join(out, " ")
}

func TestPaymentConsentEndpoints(t *testing.T) {
	p := paymentProvider(t)
	tok, _ := clientToken(t, p, "tpp", "payments")
	fundsTok, _ := clientToken(t, p, "tpp", "fundsconfirmations")
	if _, status := clientToken(t, p, "aisp", "payments"); status != http.StatusBadRequest {
		t.Fatalf("a client without payments got the scope: %d", status)
	}
	aispTok, _ := clientToken(t, p, "aisp", "accounts")

	w := call{"POST", PathPaymentConsents, tok, paymentConsentBody, "key-1"}.do(p, payments)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct {
		Data struct {
			ConsentID, Status, CreationDateTime, CutOffDateTime string
			Initiation                                          map[string]any
		}
		Risk  map[string]any
		Links struct{ Self string }
		Meta  map[string]any
	}
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	id := created.Data.ConsentID
	if !strings.HasPrefix(id, payment.DomesticIDPrefix) || created.Data.Status != "AwaitingAuthorisation" || created.Data.CutOffDateTime == "" ||
		created.Links.Self != "https://bank.example"+PathPaymentConsents+"/"+id || created.Meta == nil ||
		created.Risk["PaymentContextCode"] != "EcommerceGoods" || created.Data.Initiation["EndToEndIdentification"] != "FRESCO.21302.GFX.20" {
		t.Fatalf("created %s", w.Body)
	}
	first := w.Body.String()

	// The same key and body: the first answer, no second consent; member order is no change.
	reordered := `{"Risk":{"PaymentContextCode":"EcommerceGoods"},` + strings.TrimPrefix(strings.TrimSuffix(paymentConsentBody, `,"Risk":{"PaymentContextCode":"EcommerceGoods"}}`), "{") + "}"
	w = call{"POST", PathPaymentConsents, tok, reordered, "key-1"}.do(p, payments)
	if w.Code != http.StatusCreated || w.Body.String() != first {
		t.Fatalf("repeat: %d %s", w.Code, w.Body)
	}
	// The same key, another body: refused.
	other := strings.Replace(paymentConsentBody, "165.88", "999.00", 1)
	w = call{"POST", PathPaymentConsents, tok, other, "key-1"}.do(p, payments)
	if w.Code != http.StatusBadRequest || errorCodes(t, w) != "UK.OBIE.Header.Invalid@x-idempotency-key" {
		t.Fatalf("other body, same key: %d %s", w.Code, w.Body)
	}
	if n := countKeys(t, p, "payconsent/"); n != 1 {
		t.Fatalf("%d consents stored", n)
	}

	w = call{"GET", PathPaymentConsents + "/" + id, tok, "", ""}.do(p, payments)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"ConsentId":"`+id+`"`) {
		t.Fatalf("get: %d %s", w.Code, w.Body)
	}

	for _, tc := range []struct {
		name   string
		c      call
		status int
		codes  string
	}{
		{"no token", call{"POST", PathPaymentConsents, "", paymentConsentBody, "k"}, 401, ""},
		{"unknown token", call{"POST", PathPaymentConsents, "nope", paymentConsentBody, "k"}, 401, ""},
		{"funds token", call{"POST", PathPaymentConsents, fundsTok, paymentConsentBody, "k"}, 403, "UK.OBIE.Header.Invalid@Authorization"},
		{"accounts token", call{"GET", PathPaymentConsents + "/" + id, aispTok, "", ""}, 403, "UK.OBIE.Header.Invalid@Authorization"},
		{"no idempotency key", call{"POST", PathPaymentConsents, tok, paymentConsentBody, ""}, 400, "UK.OBIE.Header.Missing@x-idempotency-key"},
		{"long idempotency key", call{"POST", PathPaymentConsents, tok, paymentConsentBody, strings.Repeat("k", 41)}, 400, "UK.OBIE.Header.Invalid@x-idempotency-key"},
		{"invalid body", call{"POST", PathPaymentConsents, tok, strings.Replace(paymentConsentBody, "08080021325698", "0808", 1), "k2"}, 400,
			"UK.OBIE.Field.Invalid@Data.Initiation.CreditorAccount.Identification"},
		{"unknown member", call{"POST", PathPaymentConsents, tok, strings.Replace(paymentConsentBody, `"Initiation":{`, `"Initiation":{"Foo":1,`, 1), "k2"}, 400,
			"UK.OBIE.Field.Unexpected@Data.Initiation.Foo"},
		{"unknown consent", call{"GET", PathPaymentConsents + "/pdc-nope", tok, "", ""}, 400, "UK.OBIE.Resource.NotFound@ConsentId"},
		{"DELETE", call{"DELETE", PathPaymentConsents + "/" + id, tok, "", ""}, 405, "UK.OBIE.Header.Invalid@"},
		{"GET collection", call{"GET", PathPaymentConsents, tok, "", ""}, 405, "UK.OBIE.Header.Invalid@"},
	} {
		w := tc.c.do(p, payments)
		if w.Code != tc.status {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
			continue
		}
		if tc.codes != "" && errorCodes(t, w) != tc.codes {
			t.Errorf("%s: %s", tc.name, errorCodes(t, w))
		}
	}
	// Another client's token finds nothing.
	tok2, _ := clientToken(t, p, "tpp2", "payments")
	if w := (call{"GET", PathPaymentConsents + "/" + id, tok2, "", ""}).do(p, payments); w.Code != 400 || errorCodes(t, w) != "UK.OBIE.Resource.NotFound@ConsentId" {
		t.Fatalf("another client's GET: %d %s", w.Code, w.Body)
	}
	if _, _, ok := ConsentResource(PathPaymentConsents+"/"+id+"/funds-confirmation", PathPaymentConsents); ok {
		t.Fatal("the funds-confirmation sub-resource is served by the gateway, not the gate")
	}
}

// TestPaymentConsentRepeatsRace: 50 concurrent POSTs with one key and body make one
// consent, and all 50 answers are the same 201.
func TestPaymentConsentRepeatsRace(t *testing.T) {
	p := paymentProvider(t)
	tok, _ := clientToken(t, p, "tpp", "payments")
	var wg sync.WaitGroup
	var mu sync.Mutex
	bodies := map[string]int{}
	statuses := map[int]int{}
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			w := call{"POST", PathPaymentConsents, tok, paymentConsentBody, "race"}.do(p, payments)
			mu.Lock()
			defer mu.Unlock()
			statuses[w.Code]++
			if w.Code == http.StatusCreated {
				bodies[w.Body.String()]++
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := countKeys(t, p, "payconsent/"); n != 1 || len(bodies) != 1 || statuses[201] != 50 {
		t.Fatalf("%d consents, %d distinct answers, statuses %v", n, len(bodies), statuses)
	}
}

func TestFundsConsentEndpoints(t *testing.T) {
	p := paymentProvider(t)
	tok, _ := clientToken(t, p, "tpp", "fundsconfirmations")
	payTok, _ := clientToken(t, p, "tpp", "payments")
	body := `{"Data":{"ExpirationDateTime":"2099-05-02T00:00:00+00:00","DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"40400422390112","Name":"Mrs B Smith"}}}`
	w := call{"POST", PathFundsConsents, tok, body, ""}.do(p, funds)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct {
		Data struct {
			ConsentID, Status, ExpirationDateTime string
			DebtorAccount                         payment.Account
		}
		Links struct{ Self string }
	}
	_ = json.Unmarshal(w.Body.Bytes(), &created)
	id := created.Data.ConsentID
	if !strings.HasPrefix(id, payment.FundsIDPrefix) || created.Data.Status != "AwaitingAuthorisation" ||
		created.Data.ExpirationDateTime != "2099-05-02T00:00:00+00:00" || created.Data.DebtorAccount.Name != "Mrs B Smith" ||
		created.Links.Self != "https://bank.example"+PathFundsConsents+"/"+id {
		t.Fatalf("created %s", w.Body)
	}
	// With an idempotency key, a repeat makes nothing new.
	w1 := call{"POST", PathFundsConsents, tok, body, "f-1"}.do(p, funds)
	w2 := call{"POST", PathFundsConsents, tok, body, "f-1"}.do(p, funds)
	if w1.Code != 201 || w2.Code != 201 || w1.Body.String() != w2.Body.String() || countKeys(t, p, "fundsconsent/") != 2 {
		t.Fatalf("idempotent repeat: %d %d, %d stored", w1.Code, w2.Code, countKeys(t, p, "fundsconsent/"))
	}
	for _, tc := range []struct {
		name   string
		c      call
		status int
		codes  string
	}{
		{"payments token", call{"GET", PathFundsConsents + "/" + id, payTok, "", ""}, 403, "UK.OBIE.Header.Invalid@Authorization"},
		{"missing debtor", call{"POST", PathFundsConsents, tok, `{"Data":{}}`, ""}, 400, "UK.OBIE.Field.Missing@Data.DebtorAccount"},
		{"bad scheme", call{"POST", PathFundsConsents, tok, strings.Replace(body, "UK.OBIE.SortCodeAccountNumber", "UK.OBIE.X", 1), ""}, 400, "UK.OBIE.Unsupported.Scheme@Data.DebtorAccount.SchemeName"},
		{"past expiry", call{"POST", PathFundsConsents, tok, strings.Replace(body, "2099", "2001", 1), ""}, 400, "UK.OBIE.Field.InvalidDate@Data.ExpirationDateTime"},
		{"PUT", call{"PUT", PathFundsConsents + "/" + id, tok, "", ""}, 405, ""},
	} {
		w := tc.c.do(p, funds)
		if w.Code != tc.status {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
			continue
		}
		if tc.codes != "" && errorCodes(t, w) != tc.codes {
			t.Errorf("%s: %s", tc.name, errorCodes(t, w))
		}
	}
	w = call{"GET", PathFundsConsents + "/" + id, tok, "", ""}.do(p, funds)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"Status":"AwaitingAuthorisation"`) {
		t.Fatalf("get: %d %s", w.Code, w.Body)
	}
	if w := (call{"DELETE", PathFundsConsents + "/" + id, tok, "", ""}).do(p, funds); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if w := (call{m, PathFundsConsents + "/" + id, tok, "", ""}).do(p, funds); w.Code != 400 || errorCodes(t, w) != "UK.OBIE.Resource.NotFound@ConsentId" {
			t.Fatalf("%s after delete: %d %s", m, w.Code, w.Body)
		}
	}
}

func countKeys(t *testing.T, p *Provider, prefix string) int {
	t.Helper()
	n := 0
	if err := p.Store.Scan(prefix, func(string, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
