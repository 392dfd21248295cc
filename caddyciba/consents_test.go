package caddyciba

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/testpki"
	"github.com/caddyciba/gateway/internal/token"
)

var consentsURL = httpBase + "/open-banking/v3.1/aisp/account-access-consents"

const consentBody = `{"Data":{"Permissions":["ReadAccountsDetail","ReadBalances","ReadTransactionsBasic","ReadTransactionsCredits"],` +
	`"ExpirationDateTime":"2099-05-02T00:00:00+00:00","TransactionFromDateTime":"2026-01-01T00:00:00+00:00"},"Risk":{}}`

var obTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)

// ccToken gets a client-credentials token over TLS with cert (nil for none).
func ccToken(t *testing.T, cert *testpki.Cert, form map[string]string, basic ...string) string {
	t.Helper()
	f := formOf("grant_type", "client_credentials")
	for k, v := range form {
		f.Set(k, v)
	}
	resp := postForm(t, client(cert), httpsBase+"/token", f, basic...)
	if resp.status != http.StatusOK {
		t.Fatalf("token: %d %s", resp.status, resp.raw)
	}
	return resp.str("access_token")
}

func consentCall(t *testing.T, c *http.Client, method, url, tok, body string, headers ...string) response {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, nil)
	if rd != nil {
		req, _ = http.NewRequest(method, url, rd)
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, c, req)
}

func obErrorCode(r response) string {
	errs, _ := r.body["Errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	code, _ := errs[0].(map[string]any)["ErrorCode"].(string)
	return code
}

func TestConsentEndpoints(t *testing.T) {
	storage := t.TempDir()
	cfg := gatewayConfig(storage, "")
	startGateway(t, cfg)
	c := client(nil)
	tpp := ccToken(t, nil, nil, "tpp-basic", "b@sic secret+/:~")
	other := ccToken(t, nil, map[string]string{"client_id": "tpp-post", "client_secret": "post-secret"})

	// Create.
	const interaction = "4a7e1c7e-9d8f-4c1b-8d1e-0f6a7b8c9d0e"
	created := consentCall(t, c, http.MethodPost, consentsURL, tpp, consentBody,
		"x-fapi-interaction-id", interaction, "x-fapi-financial-id", "001580000103UAvAAM")
	if created.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", created.status, created.raw)
	}
	if created.header.Get("X-Fapi-Interaction-Id") != interaction || created.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", created.header)
	}
	data := created.body["Data"].(map[string]any)
	id, _ := data["ConsentId"].(string)
	if id == "" || len(id) > 128 || data["Status"] != "AwaitingAuthorisation" ||
		!obTime.MatchString(data["CreationDateTime"].(string)) || !obTime.MatchString(data["StatusUpdateDateTime"].(string)) ||
		data["ExpirationDateTime"] != "2099-05-02T00:00:00+00:00" || data["TransactionFromDateTime"] != "2026-01-01T00:00:00+00:00" ||
		len(data["Permissions"].([]any)) != 4 {
		t.Errorf("Data = %v", data)
	}
	if _, has := data["TransactionToDateTime"]; has {
		t.Error("absent TransactionToDateTime written")
	}
	if links := created.body["Links"].(map[string]any); links["Self"] != consentsURL+"/"+id {
		t.Errorf("Links = %v", links)
	}
	if meta := created.body["Meta"].(map[string]any); meta["TotalPages"] != float64(1) {
		t.Errorf("Meta = %v", meta)
	}
	if risk, ok := created.body["Risk"].(map[string]any); !ok || len(risk) != 0 {
		t.Errorf("Risk = %v", created.body["Risk"])
	}

	// Read.
	read := consentCall(t, c, http.MethodGet, consentsURL+"/"+id, tpp, "")
	if read.status != http.StatusOK || read.body["Data"].(map[string]any)["ConsentId"] != id {
		t.Fatalf("GET: %d %s", read.status, read.raw)
	}
	if read.header.Get("X-Fapi-Interaction-Id") == "" {
		t.Error("GET without x-fapi-interaction-id")
	}

	// Another client sees nothing and deletes nothing.
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		r := consentCall(t, c, method, consentsURL+"/"+id, other, "")
		if r.status != http.StatusBadRequest || obErrorCode(r) != "UK.OBIE.Resource.NotFound" {
			t.Fatalf("%s by another client: %d %s", method, r.status, r.raw)
		}
	}

	// Survives a restart.
	unloadGateway(t)
	startGateway(t, cfg)
	if r := consentCall(t, c, http.MethodGet, consentsURL+"/"+id, tpp, ""); r.status != http.StatusOK {
		t.Fatalf("GET after restart: %d %s", r.status, r.raw)
	}

	// Delete.
	del := consentCall(t, c, http.MethodDelete, consentsURL+"/"+id, tpp, "")
	if del.status != http.StatusNoContent || del.raw != "" {
		t.Fatalf("DELETE: %d %s", del.status, del.raw)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		r := consentCall(t, c, method, consentsURL+"/"+id, tpp, "")
		if r.status != http.StatusBadRequest || obErrorCode(r) != "UK.OBIE.Resource.NotFound" {
			t.Fatalf("%s after delete: %d %s", method, r.status, r.raw)
		}
	}
	if _, err := activeApp(t).provider.Consents.Get(id); err == nil {
		t.Fatal("deleted consent still stored")
	}
}

func TestConsentEndpointRefusals(t *testing.T) {
	startGateway(t, gatewayConfig(t.TempDir(), ""))
	c := client(nil)
	tpp := ccToken(t, nil, nil, "tpp-basic", "b@sic secret+/:~")
	paymentsOnly := ccToken(t, nil, map[string]string{"scope": "payments"}, "tpp-basic", "b@sic secret+/:~")
	bound := ccToken(t, fx.mtlsCert, map[string]string{"client_id": "tpp-mtls"})
	userToken := mintUserToken(t, "tpp-basic")

	for _, tc := range []struct {
		name, method, url, tok, body string
		headers                      []string
		status                       int
		code                         string
	}{
		{name: "no token", method: "POST", url: consentsURL, body: consentBody, status: 401},
		{name: "unknown token", method: "POST", url: consentsURL, tok: "not-a-token", body: consentBody, status: 401},
		{name: "token in the query string", method: "POST", url: consentsURL + "?access_token=" + tpp, body: consentBody, status: 401},
		{name: "certificate-bound token without the certificate", method: "POST", url: consentsURL, tok: bound, body: consentBody, status: 401},
		{name: "token without scope accounts", method: "POST", url: consentsURL, tok: paymentsOnly, body: consentBody, status: 403, code: "UK.OBIE.Header.Invalid"},
		{name: "user token", method: "POST", url: consentsURL, tok: userToken, body: consentBody, status: 403, code: "UK.OBIE.Header.Invalid"},
		{name: "user token reading", method: "GET", url: consentsURL + "/aac-x", tok: userToken, status: 403, code: "UK.OBIE.Header.Invalid"},
		{name: "empty permissions", method: "POST", url: consentsURL, tok: tpp, body: `{"Data":{"Permissions":[]},"Risk":{}}`, status: 400, code: "UK.OBIE.Field.Invalid"},
		{name: "unpaired transactions", method: "POST", url: consentsURL, tok: tpp, body: `{"Data":{"Permissions":["ReadAccountsBasic","ReadTransactionsBasic"]},"Risk":{}}`, status: 400, code: "UK.OBIE.Field.Invalid"},
		{name: "past expiry", method: "POST", url: consentsURL, tok: tpp, body: `{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"2001-01-01T00:00:00+00:00"},"Risk":{}}`, status: 400, code: "UK.OBIE.Field.InvalidDate"},
		{name: "no Risk", method: "POST", url: consentsURL, tok: tpp, body: `{"Data":{"Permissions":["ReadAccountsBasic"]}}`, status: 400, code: "UK.OBIE.Field.Missing"},
		{name: "malformed body", method: "POST", url: consentsURL, tok: tpp, body: `{"Data":`, status: 400, code: "UK.OBIE.Resource.InvalidFormat"},
		{name: "not JSON content", method: "POST", url: consentsURL, tok: tpp, body: consentBody, headers: []string{"Content-Type", "text/plain"}, status: 415},
		{name: "unacceptable Accept", method: "POST", url: consentsURL, tok: tpp, body: consentBody, headers: []string{"Accept", "application/xml"}, status: 406},
		{name: "unknown id", method: "GET", url: consentsURL + "/aac-00000000-0000-0000-0000-000000000000", tok: tpp, status: 400, code: "UK.OBIE.Resource.NotFound"},
		{name: "PUT", method: "PUT", url: consentsURL + "/aac-x", tok: tpp, body: consentBody, status: 405},
		{name: "GET on the collection", method: "GET", url: consentsURL, tok: tpp, status: 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := consentCall(t, c, tc.method, tc.url, tc.tok, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tc.status)
			}
			if tc.status == 401 {
				// RFC 6750 §3.1: an error code only when a token was sent.
				want := `Bearer realm="` + httpBase + `"`
				if tc.tok != "" {
					want += `, error="invalid_token", error_description=`
				}
				if got := r.header.Get("WWW-Authenticate"); r.raw != "" || !strings.HasPrefix(got, want) || (tc.tok == "" && got != want) {
					t.Fatalf("401 with body %q / challenge %q", r.raw, r.header.Get("WWW-Authenticate"))
				}
				return
			}
			if got := obErrorCode(r); tc.code != "" && got != tc.code {
				t.Fatalf("ErrorCode = %q, want %q: %s", got, tc.code, r.raw)
			}
			if r.body["Code"] == nil || r.body["Message"] == nil || r.body["Id"] != r.header.Get("X-Fapi-Interaction-Id") {
				t.Fatalf("not an OB error body: %s", r.raw)
			}
		})
	}
}

// mintUserToken stores a token of the CIBA grant, as the backchannel flow issues for a user.
func mintUserToken(t *testing.T, clientID string) string {
	t.Helper()
	var tok string
	now := time.Now()
	err := activeApp(t).Store().Update(func(tx store.Txn) error {
		var err error
		tok, err = token.MintAccess(tx, &token.Access{ClientID: clientID, Grant: token.CIBA, Scope: "openid accounts",
			Subject: "psu-1", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}, time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
