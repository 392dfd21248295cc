package caddyciba

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// upstream is the bank's account API in the tests: it records what reaches it.
type upstream struct {
	mu   sync.Mutex
	reqs []*http.Request
	srv  *httptest.Server
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Clone(r.Context()))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"Data":{},"Links":{"Self":"x"},"Meta":{"TotalPages":1}}`))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) count() int { u.mu.Lock(); defer u.mu.Unlock(); return len(u.reqs) }
func (u *upstream) last() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reqs[len(u.reqs)-1]
}

// authorisedConsent creates a consent through the API and authorises it for psu-1 with
// the accounts, as the device approval will; it returns the consent id and a CIBA token.
func authorisedConsent(t *testing.T, permissions string, accounts ...string) (string, string) {
	t.Helper()
	cc := ccToken(t, nil, nil, "tpp-basic", "b@sic secret+/:~")
	r := consentCall(t, client(nil), http.MethodPost, consentsURL, cc, `{"Data":{"Permissions":[`+permissions+`]},"Risk":{}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("consent: %d %s", r.status, r.raw)
	}
	id := r.body["Data"].(map[string]any)["ConsentId"].(string)
	now := time.Now()
	err := activeApp(t).Store().Update(func(tx store.Txn) error {
		_, err := consent.Change(tx, id, now, func(c *consent.Consent) error { return c.Authorise("psu-1", accounts, now) })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, mintCIBAToken(t, id, "")
}

// mintCIBAToken stores a CIBA-grant token of tpp-basic for the consent, bound to the
// certificate thumbprint when one is given.
func mintCIBAToken(t *testing.T, consentID, thumbprint string) string {
	t.Helper()
	now := time.Now()
	var tok string
	err := activeApp(t).Store().Update(func(tx store.Txn) error {
		var err error
		tok, err = token.MintAccess(tx, &token.Access{ClientID: "tpp-basic", Grant: token.CIBA, Scope: "openid accounts",
			Subject: "psu-1", ConsentID: consentID, CertThumbprint: thumbprint, IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}, time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func accountCall(t *testing.T, path, tok string) response {
	t.Helper()
	return consentCall(t, client(nil), http.MethodGet, httpBase+consent.APIPrefix+path, tok, "")
}

func TestGate(t *testing.T) {
	up := newUpstream(t)
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, "reverse_proxy "+strings.TrimPrefix(up.srv.URL, "http://"), -1))
	id, tok := authorisedConsent(t, `"ReadAccountsDetail","ReadBalances"`, "22289")
	cc := ccToken(t, nil, nil, "tpp-basic", "b@sic secret+/:~")

	ok := accountCall(t, "/accounts/22289", tok)
	if ok.status != http.StatusOK || up.count() != 1 {
		t.Fatalf("allowed call: %d %s (upstream saw %d)", ok.status, ok.raw, up.count())
	}
	seen := up.last()
	for h, want := range map[string]string{"X-Ciba-Subject": "psu-1", "X-Ciba-Consent-Id": id, "X-Ciba-Client-Id": "tpp-basic", "X-Ciba-Accounts": "22289"} {
		if got := seen.Header.Get(h); got != want {
			t.Errorf("upstream %s = %q, want %q", h, got, want)
		}
	}
	if seen.Header.Get("Authorization") != "" {
		t.Error("the TPP's token reached the upstream")
	}
	if seen.Header.Get("X-Fapi-Interaction-Id") == "" || seen.Header.Get("X-Fapi-Interaction-Id") != ok.header.Get("X-Fapi-Interaction-Id") {
		t.Error("x-fapi-interaction-id not passed on and echoed")
	}
	if r := accountCall(t, "/accounts/22289/balances", tok); r.status != http.StatusOK {
		t.Fatalf("balances: %d %s", r.status, r.raw)
	}

	for _, tc := range []struct {
		name, path, tok string
		status          int
		code            string
	}{
		{"no token", "/accounts/22289", "", 401, ""},
		{"unknown token", "/accounts/22289", "nope", 401, ""},
		{"client-credentials token", "/accounts/22289", cc, 403, "UK.OBIE.Header.Invalid"},
		{"account not selected", "/accounts/31820", tok, 403, "UK.OBIE.Field.Invalid"},
		{"account not selected, sub-resource", "/accounts/31820/balances", tok, 403, "UK.OBIE.Field.Invalid"},
		{"permission missing", "/accounts/22289/transactions", tok, 403, "UK.OBIE.Field.Invalid"},
		{"permission missing, bulk", "/standing-orders", tok, 403, "UK.OBIE.Field.Invalid"},
		{"not an endpoint", "/accounts/22289/secrets", tok, 404, "UK.OBIE.Resource.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			r := accountCall(t, tc.path, tc.tok)
			if r.status != tc.status || (tc.code != "" && obErrorCode(r) != tc.code) {
				t.Fatalf("got %d %s, want %d %s", r.status, r.raw, tc.status, tc.code)
			}
			if tc.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="`+httpBase+`"`) {
				t.Errorf("challenge %q", r.header.Get("WWW-Authenticate"))
			}
			if up.count() != before {
				t.Fatal("a refused request reached the upstream")
			}
		})
	}

	t.Run("token in the query string", func(t *testing.T) {
		before := up.count()
		if r := accountCall(t, "/accounts/22289?access_token="+tok, ""); r.status != 401 || up.count() != before {
			t.Fatalf("got %d", r.status)
		}
	})

	t.Run("revoked consent", func(t *testing.T) {
		_, tok2 := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")
		revokeAll := func(c *consent.Consent) error { return c.Revoke(time.Now()) }
		err := activeApp(t).Store().Update(func(tx store.Txn) error {
			rec, err := token.LookupAccess(tx, tok2, time.Now())
			if err != nil {
				return err
			}
			_, err = consent.Change(tx, rec.ConsentID, time.Now(), revokeAll)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if r := accountCall(t, "/accounts/22289", tok2); r.status != 403 || obErrorCode(r) != "UK.OBIE.Resource.InvalidConsentStatus" {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
	})

	t.Run("consent DELETE takes effect on the next request", func(t *testing.T) {
		if r := consentCall(t, client(nil), http.MethodDelete, consentsURL+"/"+id, cc, ""); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", r.status, r.raw)
		}
		before := up.count()
		if r := accountCall(t, "/accounts/22289", tok); r.status != 401 || up.count() != before {
			t.Fatalf("after DELETE: %d", r.status)
		}
	})
}

// TestGateCertificateBinding: a bound token passes only over TLS with its own certificate.
func TestGateCertificateBinding(t *testing.T) {
	up := newUpstream(t)
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, "reverse_proxy "+strings.TrimPrefix(up.srv.URL, "http://"), -1))
	id, _ := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")
	bound := mintCIBAToken(t, id, token.Thumbprint(fx.mtlsCert.Leaf))
	for _, tc := range []struct {
		name   string
		c      *http.Client
		base   string
		status int
	}{
		{"its certificate", client(fx.mtlsCert), httpsBase, 200},
		{"another client's certificate", client(fx.otherCACert), httpsBase, 401},
		{"no certificate over TLS", client(nil), httpsBase, 401},
		{"plain HTTP", client(nil), httpBase, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			r := consentCall(t, tc.c, http.MethodGet, tc.base+consent.APIPrefix+"/accounts/22289", bound, "")
			if r.status != tc.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tc.status)
			}
			if reached := up.count() > before; reached != (tc.status == 200) {
				t.Fatalf("upstream reached: %v", reached)
			}
		})
	}
}

// TestGateFiltersTheDemoBank puts the gate in front of the demo bank of Caddyfile.example
// (UK OB v3.1 bodies served by Caddy's file_server) and checks what the TPP sees.
func TestGateFiltersTheDemoBank(t *testing.T) {
	bank, err := filepath.Abs("../examples/bank")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, fmt.Sprintf("reverse_proxy 127.0.0.1:%d", bankPort), -1) +
		fmt.Sprintf("\nhttp://:%d {", bankPort) + `
	bind 127.0.0.1
	root * ` + bank + `
	uri strip_prefix /open-banking/v3.1/aisp
	try_files {path}.json
	header Content-Type application/json
	file_server
}
`
	startGateway(t, cfg)
	_, basic := authorisedConsent(t, `"ReadAccountsBasic","ReadTransactionsBasic","ReadTransactionsDebits"`, "22289")

	accts := accountCall(t, "/accounts", basic)
	if accts.status != 200 {
		t.Fatalf("accounts: %d %s", accts.status, accts.raw)
	}
	if accts.body == nil {
		t.Fatalf("accounts: %v %q", accts.header, accts.raw)
	}
	list := accts.body["Data"].(map[string]any)["Account"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["AccountId"] != "22289" {
		t.Fatalf("accounts seen: %v", list)
	}
	if _, ok := list[0].(map[string]any)["Account"]; ok {
		t.Fatal("a Basic consent sees the account identification")
	}
	if accts.header.Get("Content-Length") != strconv.Itoa(len(accts.raw)) {
		t.Errorf("Content-Length %s for %d bytes", accts.header.Get("Content-Length"), len(accts.raw))
	}

	txs := accountCall(t, "/transactions", basic)
	for _, x := range txs.body["Data"].(map[string]any)["Transaction"].([]any) {
		tx := x.(map[string]any)
		if tx["AccountId"] != "22289" || tx["TransactionInformation"] != nil {
			t.Fatalf("transaction seen: %v", tx)
		}
	}
	if r := accountCall(t, "/accounts/31820/transactions", basic); r.status != 403 {
		t.Fatalf("other account's transactions: %d", r.status)
	}
	if r := accountCall(t, "/accounts/22289/nothing-here", basic); r.status != 404 {
		t.Fatalf("unknown endpoint: %d", r.status)
	}
}
