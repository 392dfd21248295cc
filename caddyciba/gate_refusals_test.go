package caddyciba

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// mintAccess stores an access token record as given, kept by the store for an hour
// whatever its own expiry says.
func mintAccess(t *testing.T, a token.Access) string {
	t.Helper()
	var tok string
	err := activeApp(t).Store().Update(func(tx store.Txn) error {
		var err error
		tok, err = token.MintAccess(tx, &a, time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// changeConsent applies change to the stored consent id.
func changeConsent(t *testing.T, id string, change func(*consent.Consent) error) {
	t.Helper()
	err := activeApp(t).Store().Update(func(tx store.Txn) error {
		_, err := consent.Change(tx, id, time.Now(), change)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGateRefusals is every refusal of the gate, as a TPP sees it: the status, the
// WWW-Authenticate challenge (RFC 6750 §3: the realm alone when no token was sent,
// otherwise the error and why) and the Open Banking body. None reaches the bank.
func TestGateRefusals(t *testing.T) {
	up := newUpstream(t)
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), `respond "account API" 200`, "reverse_proxy "+strings.TrimPrefix(up.srv.URL, "http://"), -1))
	id, good := authorisedConsent(t, `"ReadAccountsDetail","ReadBalances"`, "22289")
	cc := ccToken(t, nil, nil, "tpp-basic", "b@sic secret+/:~")
	now := time.Now()
	ciba := func(mod func(*token.Access)) string {
		a := token.Access{ClientID: "tpp-basic", Grant: token.CIBA, Scope: "openid", Subject: "psu-1", ConsentID: id,
			IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}
		mod(&a)
		return mintAccess(t, a)
	}
	expired := ciba(func(a *token.Access) { a.ExpiresAt = now.Add(-time.Second).Unix() })
	bound := ciba(func(a *token.Access) { a.CertThumbprint = token.Thumbprint(fx.mtlsCert.Leaf) })
	goneClient := ciba(func(a *token.Access) { a.ClientID = "tpp-deregistered" })
	goneUser := ciba(func(a *token.Access) { a.Subject = "psu-left-the-bank" })
	goneConsent := ciba(func(a *token.Access) { a.ConsentID = "deleted-consent" })

	expiredID, expiredConsent := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")
	changeConsent(t, expiredID, func(c *consent.Consent) error {
		c.Expiration = &consent.Date{Raw: "2020-01-01T00:00:00+00:00", Time: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		return nil
	})
	revokedID, revoked := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")
	changeConsent(t, revokedID, func(c *consent.Consent) error { return c.Revoke(time.Now()) })
	newConsent := func() string {
		r := consentCall(t, client(nil), http.MethodPost, consentsURL, cc, `{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`)
		return r.body["Data"].(map[string]any)["ConsentId"].(string)
	}
	awaiting := mintCIBAToken(t, newConsent(), "")
	rejectedID := newConsent()
	changeConsent(t, rejectedID, func(c *consent.Consent) error { return c.Reject(time.Now()) })
	rejected := mintCIBAToken(t, rejectedID, "")

	realm := `Bearer realm="` + httpBase + `"`
	invalid := func(why string) string { return realm + `, error="invalid_token", error_description="` + why + `"` }
	type obBody struct{ code, message, errCode, errMessage, path string }
	forbidden := func(msg, errCode, errMsg, path string) *obBody {
		return &obBody{"403 Forbidden", msg, errCode, errMsg, path}
	}
	// The same words whether the account exists or not: only the id the TPP sent is named.
	notAccount := func(id string) *obBody {
		return forbidden("The account is not part of the consent", "UK.OBIE.Field.Invalid", "AccountId "+id+" is not one the user selected for the consent", "AccountId")
	}

	for _, tc := range []struct {
		name, method, path, auth, body string
		status                         int
		challenge                      string
		ob                             *obBody
		allow                          string
	}{
		{name: "no credentials", path: "/accounts/22289", status: 401, challenge: realm},
		{name: "credentials of another scheme", path: "/accounts/22289", auth: "Basic dHBwOnNlY3JldA==", status: 401, challenge: realm},
		{name: "empty bearer", path: "/accounts/22289", auth: "Bearer ", status: 401, challenge: realm},
		{name: "unknown token", path: "/accounts/22289", auth: "Bearer nope", status: 401, challenge: invalid("the access token is unknown, expired or revoked")},
		{name: "expired token", path: "/accounts/22289", auth: "Bearer " + expired, status: 401, challenge: invalid("the access token has expired")},
		{name: "certificate mismatch", path: "/accounts/22289", auth: "Bearer " + bound, status: 401,
			challenge: invalid("the access token is bound to a client certificate that was not presented on this connection")},
		{name: "client deregistered", path: "/accounts/22289", auth: "Bearer " + goneClient, status: 401,
			challenge: invalid("the client the token was issued to is no longer registered")},
		{name: "user gone", path: "/accounts/22289", auth: "Bearer " + goneUser, status: 401,
			challenge: invalid("the user who granted access is no longer known or is disabled")},
		{name: "consent deleted", path: "/accounts/22289", auth: "Bearer " + goneConsent, status: 401,
			challenge: invalid("the consent no longer exists (deleted)")},
		{name: "consent expired", path: "/accounts/22289", auth: "Bearer " + expiredConsent, status: 401,
			challenge: invalid("the consent has expired")},
		{name: "client-credentials token", path: "/accounts/22289", auth: "Bearer " + cc, status: 403,
			challenge: realm + `, error="insufficient_scope", error_description="the account APIs need a token of the CIBA grant, issued for an authorised consent"`,
			ob:        forbidden("The token cannot read accounts", "UK.OBIE.Header.Invalid", "a token issued by the CIBA grant is required", "Authorization")},
		{name: "consent revoked", path: "/accounts/22289", auth: "Bearer " + revoked, status: 403,
			ob: forbidden("The consent is not authorised", "UK.OBIE.Resource.InvalidConsentStatus", "consent status is Revoked: the customer or the bank withdrew access", "ConsentId")},
		{name: "consent rejected", path: "/accounts/22289", auth: "Bearer " + rejected, status: 403,
			ob: forbidden("The consent is not authorised", "UK.OBIE.Resource.InvalidConsentStatus", "consent status is Rejected: the customer declined, or did not authorise it in time", "ConsentId")},
		{name: "consent awaiting authorisation", path: "/accounts/22289", auth: "Bearer " + awaiting, status: 403,
			ob: forbidden("The consent is not authorised", "UK.OBIE.Resource.InvalidConsentStatus", "consent status is AwaitingAuthorisation: the customer has not authorised it yet", "ConsentId")},
		{name: "permission missing", path: "/accounts/22289/transactions", auth: "Bearer " + good, status: 403,
			ob: forbidden("Consent does not permit this resource", "UK.OBIE.Field.Invalid", "the consent holds none of the permissions ReadTransactionsBasic or ReadTransactionsDetail needs", "Data.Permissions")},
		{name: "account of the user, not selected", path: "/accounts/31820", auth: "Bearer " + good, status: 403, ob: notAccount("31820")},
		{name: "account of the user, not selected, sub-resource", path: "/accounts/31820/balances", auth: "Bearer " + good, status: 403, ob: notAccount("31820")},
		{name: "account that exists nowhere", path: "/accounts/99999", auth: "Bearer " + good, status: 403, ob: notAccount("99999")},
		{name: "not an endpoint", path: "/accounts/22289/secrets", auth: "Bearer " + good, status: 404,
			ob: &obBody{"404 NotFound", "No such account information endpoint", "UK.OBIE.Resource.NotFound", "the path is not a v3.1 account information endpoint", ""}},
		{name: "method", method: http.MethodPost, path: "/accounts/22289", auth: "Bearer " + good, status: 405, allow: "GET, HEAD",
			ob: &obBody{"405 MethodNotAllowed", "Method not allowed", "UK.OBIE.Field.Unexpected", "the account information endpoints answer GET, HEAD only", ""}},
		{name: "body", path: "/accounts/22289", auth: "Bearer " + good, body: "{}", status: 400,
			ob: &obBody{"400 BadRequest", "Unexpected request body", "UK.OBIE.Field.Unexpected", "a request to an account information endpoint has no body", ""}},
		{name: "query", path: "/accounts/22289?page=1", auth: "Bearer " + good, status: 400,
			ob: &obBody{"400 BadRequest", "Unexpected query parameter", "UK.OBIE.Field.Unexpected", "the endpoint takes only the query parameters UK OB v3.1 defines for it, each once", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			} else {
				body = strings.NewReader("")
			}
			req, err := http.NewRequest(method, httpBase+consent.APIPrefix+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.body == "" {
				req.Body, req.ContentLength = http.NoBody, 0
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			before := up.count()
			resp := do(t, client(nil), req)
			if up.count() != before {
				t.Fatal("a refused request reached the bank")
			}
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.status, tc.status, resp.raw)
			}
			if got := resp.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate\n got %q\nwant %q", got, tc.challenge)
			}
			if got := resp.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if tc.ob == nil {
				if resp.raw != "" {
					t.Errorf("body %q, want none", resp.raw)
				}
				return
			}
			var got struct {
				Code, Id, Message string
				Errors            []struct{ ErrorCode, Message, Path string }
			}
			if err := json.Unmarshal([]byte(resp.raw), &got); err != nil {
				t.Fatalf("body %q: %v", resp.raw, err)
			}
			if got.Code != tc.ob.code || got.Message != tc.ob.message || got.Id == "" || len(got.Errors) != 1 ||
				got.Errors[0].ErrorCode != tc.ob.errCode || got.Errors[0].Message != tc.ob.errMessage || got.Errors[0].Path != tc.ob.path {
				t.Errorf("body %s\nwant %+v", resp.raw, *tc.ob)
			}
			for _, secret := range []string{good, cc, "b@sic"} {
				if strings.Contains(resp.raw, secret) || strings.Contains(resp.header.Get("WWW-Authenticate"), secret) {
					t.Error("a secret is in the answer")
				}
			}
		})
	}
}
