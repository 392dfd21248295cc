package op

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
	"github.com/caddyciba/gateway/internal/users"
	"github.com/caddyciba/gateway/notifier"
	"github.com/caddyciba/gateway/payment"
)

// recorder is a device channel that hands each notification to the test.
type recorder chan *notifier.Notification

func (r recorder) Name() string { return "test" }
func (r recorder) Notify(_ context.Context, n *notifier.Notification) error {
	r <- n
	return nil
}

func (r recorder) next(t *testing.T) *notifier.Notification {
	t.Helper()
	select {
	case n := <-r:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
		return nil
	}
}

// The users file of these tests: alice holds two accounts with sort code and account
// numbers; dave is disabled.
const paymentUsers = `[
 {"subject":"sub-alice","login_hints":["alice"],"accounts":[
  {"AccountId":"acc-bills","Nickname":"Bills","Account":[{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345"}]},
  {"AccountId":"acc-home","Nickname":"Household","Account":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203348"}}]},
 {"subject":"sub-dave","login_hints":["dave"],"disabled":true,"accounts":[]}]`

// cibaPayments is a provider over Badger with alice, a recording device channel and
// clients: "tpp" (openid accounts payments fundsconfirmations, with a JWKS for signed
// requests), "aisp" (openid accounts), "other" (openid payments fundsconfirmations).
type cibaPayments struct {
	*Provider
	key     jwk.Key
	devices recorder
}

func newCIBAPayments(t *testing.T) *cibaPayments {
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
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := jwk.FromRaw(raw)
	_ = priv.Set(jwk.KeyIDKey, "tpp-1")
	pub, _ := priv.PublicKey()
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	var list []*clients.Client
	for id, scopes := range map[string][]string{
		"tpp":   {"openid", "accounts", "payments", "fundsconfirmations"},
		"aisp":  {"openid", "accounts"},
		"other": {"openid", "payments", "fundsconfirmations"},
	} {
		c := &clients.Client{ID: id, Name: "Client " + id, Method: clients.SecretBasic, DeliveryMode: clients.Poll, Scopes: scopes}
		if id == "tpp" {
			c.JWKS = set
		}
		if err := c.SetSecret("secret"); err != nil {
			t.Fatal(err)
		}
		list = append(list, c)
	}
	reg, err := clients.NewRegistry(list, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Issuer: "https://bank.example", AuthReqTTL: 60e9, MaxAuthReqTTL: 600e9, PollInterval: 5e9,
		AccessTokenTTL: 600e9, RefreshTokenTTL: 24 * time.Hour}, s, ring, reg)
	dir, err := users.Parse([]byte(paymentUsers))
	if err != nil {
		t.Fatal(err)
	}
	p.Users = dir
	devices := make(recorder, 16)
	p.Channels = []notifier.Channel{devices}
	t.Cleanup(p.Close)
	return &cibaPayments{Provider: p, key: priv, devices: devices}
}

const (
	creditor   = `"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"}`
	fixedBills = `"DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345"}`
	notAlices  = `"DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"11223344556677"}`
)

// paymentBody is a payment consent's body, with the Initiation's extra members.
func paymentBody(extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"Data":{"Initiation":{"InstructionIdentification":"ACME412","EndToEndIdentification":"E2E-1",` +
		`"InstructedAmount":{"Amount":"165.88","Currency":"GBP"},` + creditor +
		`,"RemittanceInformation":{"Reference":"FRESCO-101"}` + extra + `}},"Risk":{}}`
}

// payConsent stores a payment consent of the client, created at `at`.
func (p *cibaPayments) payConsent(t *testing.T, clientID, extra string, at time.Time) *payment.Consent {
	t.Helper()
	req, err := payment.ParseDomesticConsent([]byte(paymentBody(extra)), at, payment.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	c := payment.NewDomestic(clientID, req, at, payment.Policy{})
	if err := p.paymentRepo().SaveDomestic(c, at); err != nil {
		t.Fatal(err)
	}
	return c
}

// fundsConsent stores a funds consent of the client on alice's Bills account (or another
// debtor account), created at `at`, expiring at expiry (none when zero).
func (p *cibaPayments) fundsConsent(t *testing.T, clientID, debtor string, at, expiry time.Time) *payment.FundsConsent {
	t.Helper()
	if debtor == "" {
		debtor = fixedBills
	}
	exp := ""
	if !expiry.IsZero() {
		exp = `"ExpirationDateTime":"` + expiry.UTC().Format(payment.TimeLayout) + `",`
	}
	req, err := payment.ParseFundsConsent([]byte(`{"Data":{`+exp+debtor+`}}`), at)
	if err != nil {
		t.Fatal(err)
	}
	f := payment.NewFunds(clientID, req, at)
	if err := p.paymentRepo().SaveFunds(f, at); err != nil {
		t.Fatal(err)
	}
	return f
}

// backchannel posts the form to /bc-authorize as the client.
func (p *cibaPayments) backchannel(clientID string, form url.Values) (int, map[string]any) {
	r := httptest.NewRequest(http.MethodPost, PathBackchannel, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(clientID, "secret")
	w := httptest.NewRecorder()
	p.ServeBackchannel(w, r)
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

// signed is a request object of tpp for alice with the claims edited.
func (p *cibaPayments) signed(t *testing.T, scope string, edit func(map[string]any)) url.Values {
	t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": "tpp", "aud": "https://bank.example", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "jti": uuid.NewString(), "scope": scope, "login_hint": "alice",
		"binding_message": "PAY 4F2Q"}
	edit(claims)
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, p.key))
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"request": {string(buf)}}
}

func unsigned(scope, consentID string) url.Values {
	return url.Values{"scope": {scope}, "login_hint": {"alice"}, "openbanking_intent_id": {consentID}}
}

// TestBackchannelPaymentRules: /bc-authorize takes a payment or funds consent in each of
// the three claim forms with its kind's scope, and refuses a scope of another kind, a
// client without the scope, another client's consent, a consent not awaiting
// authorisation, one past its cut-off or expiry, and a second live request.
func TestBackchannelPaymentRules(t *testing.T) {
	p := newCIBAPayments(t)
	p.MaxPendingPerUser = 100
	now := time.Now()
	pay := func() string { return p.payConsent(t, "tpp", "", now).ID }
	fund := func() string { return p.fundsConsent(t, "tpp", "", now, time.Time{}).ID }
	authorised := p.payConsent(t, "tpp", "", now)
	if _, err := p.paymentRepo().AuthoriseDomestic(authorised.ID, "sub-alice", payment.Debtor{AccountID: "acc-bills"}, now); err != nil {
		t.Fatal(err)
	}
	rejected := p.fundsConsent(t, "tpp", "", now, time.Time{})
	if _, err := p.paymentRepo().RejectFunds(rejected.ID, now); err != nil {
		t.Fatal(err)
	}
	form := func(scope, id string) func() (string, url.Values) {
		return func() (string, url.Values) { return "tpp", unsigned(scope, id) }
	}
	claim := func(scope string, id func() string, put func(m map[string]any, id string)) func() (string, url.Values) {
		return func() (string, url.Values) {
			return "tpp", p.signed(t, scope, func(m map[string]any) { put(m, id()) })
		}
	}
	wso2 := func(m map[string]any, id string) {
		m["openbanking_intent_id"] = map[string]any{"value": id, "essential": true}
	}
	ukob := func(m map[string]any, id string) { m["openbanking-intent-id"] = id }
	idToken := func(m map[string]any, id string) {
		m["claims"] = map[string]any{"id_token": map[string]any{"openbanking_intent_id": map[string]any{"value": id, "essential": true}}}
	}
	for _, tc := range []struct {
		name    string
		request func() (clientID string, form url.Values)
		status  int
		code    string
		why     string
	}{
		{"payment, WSO2 claim", claim("openid payments", pay, wso2), 200, "", ""},
		{"payment, UK OB claim", claim("openid payments", pay, ukob), 200, "", ""},
		{"payment, id_token claim", claim("openid payments", pay, idToken), 200, "", ""},
		{"funds, WSO2 claim", claim("openid fundsconfirmations", fund, wso2), 200, "", ""},
		{"funds, UK OB claim", claim("openid fundsconfirmations", fund, ukob), 200, "", ""},
		{"funds, id_token claim", claim("openid fundsconfirmations", fund, idToken), 200, "", ""},
		{"payment, form", func() (string, url.Values) { return "tpp", unsigned("openid payments", pay()) }, 200, "", ""},

		{"payment with the funds scope", func() (string, url.Values) { return "tpp", unsigned("openid fundsconfirmations", pay()) }, 400, "invalid_scope", "kind"},
		{"payment with the accounts scope", func() (string, url.Values) { return "tpp", unsigned("openid accounts", pay()) }, 400, "invalid_scope", "kind"},
		{"payment without its scope", func() (string, url.Values) { return "tpp", unsigned("openid", pay()) }, 400, "invalid_scope", "kind"},
		{"payment with both scopes", func() (string, url.Values) { return "tpp", unsigned("openid payments fundsconfirmations", pay()) }, 400, "invalid_scope", "kind"},
		{"funds with the payments scope", func() (string, url.Values) { return "tpp", unsigned("openid payments", fund()) }, 400, "invalid_scope", "kind"},
		{"account consent with the payments scope", func() (string, url.Values) { return "tpp", unsigned("openid payments", accountConsent(p)) }, 400, "invalid_scope", "kind"},
		{"account consent still takes openid accounts", func() (string, url.Values) { return "tpp", unsigned("openid accounts", accountConsent(p)) }, 200, "", ""},
		{"client without the scope", func() (string, url.Values) {
			return "aisp", unsigned("openid payments", p.payConsent(t, "aisp", "", now).ID)
		}, 400, "invalid_scope", "not allowed"},
		{"another client's payment", func() (string, url.Values) {
			return "tpp", unsigned("openid payments", p.payConsent(t, "other", "", now).ID)
		}, 400, "invalid_request", "unknown"},
		{"another client's funds consent", func() (string, url.Values) {
			return "tpp", unsigned("openid fundsconfirmations", p.fundsConsent(t, "other", "", now, time.Time{}).ID)
		}, 400, "invalid_request", "unknown"},
		{"unknown payment", form("openid payments", payment.NewDomesticID()), 400, "invalid_request", "unknown"},
		{"authorised payment", form("openid payments", authorised.ID), 400, "invalid_request", "not awaiting"},
		{"rejected funds consent", form("openid fundsconfirmations", rejected.ID), 400, "invalid_request", "not awaiting"},
		{"payment past its cut-off", func() (string, url.Values) {
			return "tpp", unsigned("openid payments", p.payConsent(t, "tpp", "", now.Add(-payment.DefaultCutOff-time.Minute)).ID)
		}, 400, "invalid_request", "cut-off"},
		{"funds consent expired", func() (string, url.Values) {
			f := p.fundsConsent(t, "tpp", "", now.Add(-2*time.Hour), now.Add(-time.Hour))
			return "tpp", unsigned("openid fundsconfirmations", f.ID)
		}, 400, "invalid_request", "not awaiting"},
		{"funds consent past its authorisation window", func() (string, url.Values) {
			return "tpp", unsigned("openid fundsconfirmations", p.fundsConsent(t, "tpp", "", now.Add(-payment.FundsAuthorisationWindow-time.Minute), time.Time{}).ID)
		}, 400, "invalid_request", "not awaiting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientID, f := tc.request()
			status, body := p.backchannel(clientID, f)
			desc, _ := body["error_description"].(string)
			if status != tc.status || (tc.code != "" && body["error"] != tc.code) || !strings.Contains(desc, tc.why) {
				t.Fatalf("got %d %v, want %d %s (%q)", status, body, tc.status, tc.code, tc.why)
			}
			if status == 200 && body["auth_req_id"] == "" {
				t.Fatalf("no auth_req_id: %v", body)
			}
		})
	}

	t.Run("one live request per consent", func(t *testing.T) {
		for _, tc := range []struct{ scope, id string }{{"openid payments", pay()}, {"openid fundsconfirmations", fund()}} {
			if status, body := p.backchannel("tpp", unsigned(tc.scope, tc.id)); status != 200 {
				t.Fatalf("first: %d %v", status, body)
			}
			status, body := p.backchannel("tpp", unsigned(tc.scope, tc.id))
			if desc, _ := body["error_description"].(string); status != 400 || !strings.Contains(desc, "already has a pending") {
				t.Fatalf("second: %d %v", status, body)
			}
		}
	})

	t.Run("the request ends at the cut-off", func(t *testing.T) {
		c := p.payConsent(t, "tpp", "", now.Add(-payment.DefaultCutOff+30*time.Second))
		status, body := p.backchannel("tpp", unsigned("openid payments", c.ID))
		if exp, _ := body["expires_in"].(float64); status != 200 || exp > 30 || exp < 25 {
			t.Fatalf("near the cut-off: %d %v", status, body)
		}
	})

	t.Run("the pending cap counts every kind", func(t *testing.T) {
		p := newCIBAPayments(t)
		p.MaxPendingPerUser = 2 // a client's share is 1
		if status, body := p.backchannel("tpp", unsigned("openid accounts", accountConsent(p))); status != 200 {
			t.Fatalf("account request: %d %v", status, body)
		}
		status, body := p.backchannel("tpp", unsigned("openid payments", p.payConsent(t, "tpp", "", now).ID))
		if desc, _ := body["error_description"].(string); status != 400 || !strings.Contains(desc, "too many pending") {
			t.Fatalf("payment request over the cap: %d %v", status, body)
		}
	})
}

// accountConsent stores an account-access consent of tpp awaiting authorisation.
func accountConsent(p *cibaPayments) string {
	req, err := consent.ParseRequest([]byte(`{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`), time.Now())
	if err != nil {
		panic(err)
	}
	c, err := p.Consents.Create("tpp", req)
	if err != nil {
		panic(err)
	}
	return c.ID
}

// deviceCall answers the device link of n with the app token: GET (the view) or POST.
func deviceCall(p *Provider, n *notifier.Notification, method, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, n.DecisionURL, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+n.DeviceToken)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	p.ServeDevice(w, r)
	return w
}

// poll redeems the auth_req_id as tpp.
func (p *cibaPayments) poll(authReqID string) (int, TokenResponse, string) {
	return p.tokenCall(url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {authReqID}})
}

func (p *cibaPayments) refresh(rt string) (int, TokenResponse, string) {
	return p.tokenCall(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func (p *cibaPayments) tokenCall(form url.Values) (int, TokenResponse, string) {
	r := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("tpp", "secret")
	w := httptest.NewRecorder()
	p.ServeToken(w, r)
	var out TokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out, w.Body.String()
}

// TestPaymentDecisions: the device sees the payment (payee, masked accounts, amount,
// reference) and the accounts to pay from; the decision authorises the consent with the
// debtor account chosen (or the one it fixes, which the user must hold) or rejects it,
// and the poll gets an access token bound to the consent — a refresh token for funds,
// none for a payment.
func TestPaymentDecisions(t *testing.T) {
	p := newCIBAPayments(t)
	now := time.Now()
	start := func(scope, id string) (string, *notifier.Notification) {
		t.Helper()
		status, body := p.backchannel("tpp", unsigned(scope, id))
		if status != 200 {
			t.Fatalf("bc-authorize: %d %v", status, body)
		}
		return body["auth_req_id"].(string), p.devices.next(t)
	}

	t.Run("payment, debtor chosen", func(t *testing.T) {
		c := p.payConsent(t, "tpp", "", now)
		authReqID, n := start("openid payments", c.ID)
		want := notifier.PaymentSummary{Kind: notifier.KindPayment, PayeeName: "ACME Inc", PayeeAccount: "••••5698",
			Amount: "165.88", Currency: "GBP", Reference: "FRESCO-101", Until: c.CutOff.UTC().Format(payment.TimeLayout)}
		if n.Payment == nil || *n.Payment != want || len(n.Accounts) != 2 || n.Scope != "openid payments" || n.Consent.ConsentID != c.ID {
			t.Fatalf("notification %+v payment %+v", n, n.Payment)
		}
		w := deviceCall(p.Provider, n, http.MethodGet, "")
		var view DeviceView
		if err := json.Unmarshal(w.Body.Bytes(), &view); err != nil || view.Payment == nil || *view.Payment != want ||
			len(view.Accounts) != 2 || view.Accounts[0].Masked != "••••3345" || view.Permissions == nil {
			t.Fatalf("view %d %s", w.Code, w.Body)
		}
		if !strings.Contains(w.Body.String(), `"permissions":[]`) {
			t.Fatalf("permissions not an empty list: %s", w.Body)
		}
		for _, bad := range []struct{ body, code string }{
			{`{"decision":"approve","accounts":[]}`, "invalid_request"},
			{`{"decision":"approve","accounts":["acc-bills","acc-home"]}`, "invalid_request"},
			{`{"decision":"approve","accounts":["acc-bob"]}`, "invalid_request"},
		} {
			if w := deviceCall(p.Provider, n, http.MethodPost, bad.body); w.Code != 400 || !strings.Contains(w.Body.String(), bad.code) {
				t.Fatalf("%s: %d %s", bad.body, w.Code, w.Body)
			}
		}
		if w := deviceCall(p.Provider, n, http.MethodPost, `{"decision":"approve","accounts":["acc-home"]}`); w.Code != 204 {
			t.Fatalf("approve: %d %s", w.Code, w.Body)
		}
		got, err := p.paymentRepo().Domestic(c.ID)
		if err != nil || got.Status != payment.Authorised || got.Subject != "sub-alice" || got.DebtorAccountID != "acc-home" ||
			got.Debtor == nil || got.Debtor.Identification != "80200110203348" {
			t.Fatalf("consent %+v %v", got, err)
		}
		status, tokens, raw := p.poll(authReqID)
		if status != 200 || tokens.AccessToken == "" || tokens.RefreshToken != "" || tokens.Scope != "openid payments" || tokens.IDToken == "" {
			t.Fatalf("tokens %d %s", status, raw)
		}
		rec, err := token.LookupAccess(p.Store, tokens.AccessToken, time.Now())
		if err != nil || rec.ConsentID != c.ID || rec.Subject != "sub-alice" || rec.Grant != token.CIBA || rec.ExpiresAt > c.CutOff.Unix() {
			t.Fatalf("access token %+v %v", rec, err)
		}
		if !introspectActive(t, p.Provider, tokens.AccessToken) {
			t.Fatal("the token of an authorised payment consent introspects as inactive")
		}
	})

	t.Run("payment, debtor fixed", func(t *testing.T) {
		c := p.payConsent(t, "tpp", fixedBills, now)
		authReqID, n := start("openid payments", c.ID)
		if n.Payment.DebtorAccount != "••••3345" || n.Payment.DebtorNotHeld || len(n.Accounts) != 1 {
			t.Fatalf("notification %+v %+v", n.Payment, n.Accounts)
		}
		if w := deviceCall(p.Provider, n, http.MethodPost, `{"decision":"approve","accounts":["acc-home"]}`); w.Code != 400 {
			t.Fatalf("another account than the fixed one: %d %s", w.Code, w.Body)
		}
		if w := deviceCall(p.Provider, n, http.MethodPost, `{"decision":"approve"}`); w.Code != 204 {
			t.Fatalf("approve: %d %s", w.Code, w.Body)
		}
		if got, _ := p.paymentRepo().Domestic(c.ID); got.Status != payment.Authorised || got.DebtorAccountID != "acc-bills" {
			t.Fatalf("consent %+v", got)
		}
		if status, _, raw := p.poll(authReqID); status != 200 {
			t.Fatalf("poll %s", raw)
		}
	})

	t.Run("payment from an account the user does not hold", func(t *testing.T) {
		c := p.payConsent(t, "tpp", notAlices, now)
		_, n := start("openid payments", c.ID)
		if !n.Payment.DebtorNotHeld || len(n.Accounts) != 0 {
			t.Fatalf("notification %+v %+v", n.Payment, n.Accounts)
		}
		w := deviceCall(p.Provider, n, http.MethodPost, `{"decision":"approve","accounts":["acc-bills"]}`)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "account_not_held") {
			t.Fatalf("approve: %d %s", w.Code, w.Body)
		}
		if got, _ := p.paymentRepo().Domestic(c.ID); got.Status != payment.AwaitingAuthorisation {
			t.Fatalf("consent %+v", got)
		}
		if w := deviceCall(p.Provider, n, http.MethodPost, `{"decision":"deny"}`); w.Code != 204 {
			t.Fatalf("deny: %d %s", w.Code, w.Body)
		}
	})

	t.Run("payment denied", func(t *testing.T) {
		c := p.payConsent(t, "tpp", "", now)
		authReqID, n := start("openid payments", c.ID)
		if w := deviceCall(p.Provider, n, http.MethodPost, `{"decision":"deny"}`); w.Code != 204 {
			t.Fatalf("deny: %d %s", w.Code, w.Body)
		}
		if got, _ := p.paymentRepo().Domestic(c.ID); got.Status != payment.Rejected {
			t.Fatalf("consent %+v", got)
		}
		if status, _, raw := p.poll(authReqID); status != 400 || !strings.Contains(raw, "access_denied") {
			t.Fatalf("poll %d %s", status, raw)
		}
	})

	t.Run("funds", func(t *testing.T) {
		expiry := now.Add(48 * time.Hour).Truncate(time.Second)
		f := p.fundsConsent(t, "tpp", "", now, expiry)
		authReqID, n := start("openid fundsconfirmations", f.ID)
		if n.Payment == nil || n.Payment.Kind != notifier.KindFunds || n.Payment.DebtorAccount != "••••3345" ||
			n.Payment.Until != f.Expiration.Raw || n.Consent.ExpirationDateTime != f.Expiration.Raw || len(n.Accounts) != 1 {
			t.Fatalf("notification %+v %+v", n.Payment, n.Consent)
		}
		if w := deviceCall(p.Provider, n, http.MethodPost, `{"decision":"approve","accounts":["acc-bills"]}`); w.Code != 204 {
			t.Fatalf("approve: %d %s", w.Code, w.Body)
		}
		if got, _ := p.paymentRepo().Funds(f.ID); got.Status != payment.Authorised || got.AccountID != "acc-bills" {
			t.Fatalf("consent %+v", got)
		}
		status, tokens, raw := p.poll(authReqID)
		if status != 200 || tokens.RefreshToken == "" || tokens.Scope != "openid fundsconfirmations" {
			t.Fatalf("tokens %d %s", status, raw)
		}
		if rec, err := token.LookupAccess(p.Store, tokens.AccessToken, time.Now()); err != nil || rec.ConsentID != f.ID {
			t.Fatalf("access token %+v %v", rec, err)
		}
		// The grant of a funds consent is judged like any other: introspection and the
		// refresh grant answer what the gate would decide.
		if !introspectActive(t, p.Provider, tokens.AccessToken) || !introspectActive(t, p.Provider, tokens.RefreshToken) {
			t.Fatal("the tokens of an authorised funds consent introspect as inactive")
		}
		status, again, raw := p.refresh(tokens.RefreshToken)
		if status != 200 || again.AccessToken == "" {
			t.Fatalf("refresh: %d %s", status, raw)
		}
		if rec, err := token.LookupAccess(p.Store, again.AccessToken, time.Now()); err != nil || rec.ExpiresAt > expiry.Unix() {
			t.Fatalf("refreshed token %+v %v: it outlives the consent's expiry", rec, err)
		}
		err := p.Store.Update(func(tx store.Txn) error {
			_, err := payment.ChangeFunds(tx, f.ID, time.Now(), func(f *payment.FundsConsent) error { return f.Revoke(time.Now()) })
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if introspectActive(t, p.Provider, again.AccessToken) || introspectActive(t, p.Provider, tokens.RefreshToken) {
			t.Fatal("the tokens of a revoked funds consent introspect as active")
		}
		if status, _, raw := p.refresh(tokens.RefreshToken); status != 400 || !strings.Contains(raw, "invalid_grant") {
			t.Fatalf("refresh after revocation: %d %s", status, raw)
		}
	})

	t.Run("funds withdrawn before the decision", func(t *testing.T) {
		f := p.fundsConsent(t, "tpp", "", now, time.Time{})
		authReqID, n := start("openid fundsconfirmations", f.ID)
		tok, _ := clientToken(t, p.Provider, "tpp", "fundsconfirmations")
		if w := (call{"DELETE", PathFundsConsents + "/" + f.ID, tok, "", ""}).do(p.Provider, funds); w.Code != 204 {
			t.Fatalf("delete: %d %s", w.Code, w.Body)
		}
		if w := deviceCall(p.Provider, n, http.MethodPost, `{"decision":"approve","accounts":["acc-bills"]}`); w.Code != http.StatusGone {
			t.Fatalf("approve after withdrawal: %d %s", w.Code, w.Body)
		}
		if status, _, raw := p.poll(authReqID); status != 400 || !strings.Contains(raw, "access_denied") {
			t.Fatalf("poll %d %s", status, raw)
		}
	})
}
