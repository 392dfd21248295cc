package op

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// gatedRequest authorises the provider's consent for alice's account a1, mints a CIBA
// token for it and returns a request for that account.
func gatedRequest(tb testing.TB, p *Provider) *httptestRequest {
	var consentID string
	now := time.Now()
	err := p.Store.Scan("consent/", func(key string, _ []byte) error { consentID = key[len("consent/"):]; return nil })
	if err != nil {
		tb.Fatal(err)
	}
	var tok string
	err = p.Store.Update(func(t store.Txn) error {
		if _, err := consent.Change(t, consentID, now, func(c *consent.Consent) error { return c.Authorise("sub-alice", []string{"a1"}, now) }); err != nil {
			return err
		}
		var err error
		tok, err = token.MintAccess(t, &token.Access{ClientID: "tpp", Grant: token.CIBA, Scope: "openid accounts", Subject: "sub-alice",
			ConsentID: consentID, IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}, time.Hour)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	r := httptest.NewRequest("GET", "https://bank.example"+consent.APIPrefix+"/accounts/a1", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return &httptestRequest{httpRequest: r}
}

type httptestRequest struct{ httpRequest *http.Request }

// BenchmarkAdmit is the gate's decision on one request: token and consent from Badger,
// permission and account checks.
func BenchmarkAdmit(b *testing.B) {
	p := fuzzProvider(b)
	req := gatedRequest(b, p)
	b.ReportAllocs()
	for b.Loop() {
		if _, refusal := p.Admit(req.httpRequest); refusal != nil {
			b.Fatalf("refused: %d", refusal.Status())
		}
	}
}

// BenchmarkFilterBalances is the filter on a one-account balances body that needs no change.
func BenchmarkFilterBalances(b *testing.B) {
	c := &consent.Consent{Status: consent.Authorised, Permissions: []consent.Permission{consent.ReadBalances}, AccountIDs: []string{"22289"}}
	body := []byte(`{"Data":{"Balance":[{"AccountId":"22289","Amount":{"Amount":"1230.00","Currency":"GBP"},"CreditDebitIndicator":"Credit","Type":"InterimAvailable","DateTime":"2026-11-20T10:00:00+00:00"}]},"Links":{"Self":"/accounts/22289/balances"},"Meta":{"TotalPages":1}}`)
	ep, _ := consent.Match(consent.APIPrefix + "/accounts/22289/balances")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Filter(body, ep); err != nil {
			b.Fatal(err)
		}
	}
}
