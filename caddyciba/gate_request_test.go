package caddyciba

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
)

// seenRequest is what the bank received.
type seenRequest struct {
	method, path, query string
	header              http.Header
	body                int // bytes of body read
	contentLength       int64
	transferEncoding    []string
}

// recordingBank is a bank upstream that answers UK OB v3.1 shapes for two accounts,
// 22289 and 31820, and records every request that reaches it.
type recordingBank struct {
	mu   sync.Mutex
	seen []seenRequest
	srv  *httptest.Server
}

const twoAccounts = `{"Data":{"Account":[` +
	`{"AccountId":"22289","Currency":"GBP","Nickname":"Bills","Account":[{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345"}]},` +
	`{"AccountId":"31820","Currency":"GBP","Nickname":"Household","Account":[{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203348"}]}` +
	`]},"Links":{"Self":"/accounts"},"Meta":{"TotalPages":1}}`

func newRecordingBank(t *testing.T) *recordingBank {
	b := &recordingBank{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		b.mu.Lock()
		b.seen = append(b.seen, seenRequest{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, header: r.Header.Clone(),
			body: int(n), contentLength: r.ContentLength, transferEncoding: r.TransferEncoding})
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		rest := strings.TrimPrefix(r.URL.Path, consent.APIPrefix)
		switch {
		case rest == "/accounts":
			w.Header().Set("Content-Length", strconv.Itoa(len(twoAccounts)))
			io.WriteString(w, twoAccounts)
		case rest == "/accounts/22289/balances":
			// Of unknown length: the gate filters it as it streams.
			io.WriteString(w, `{"Data":{"Balance":[{"AccountId":"22289","Amount":{"Amount":"1.00","Currency":"GBP"},"CreditDebitIndicator":"Credit","Type":"InterimAvailable","DateTime":"2026-11-20T10:00:00+00:00"},`)
			w.(http.Flusher).Flush()
			io.WriteString(w, `{"AccountId":"31820","Amount":{"Amount":"2.00","Currency":"GBP"},"CreditDebitIndicator":"Credit","Type":"InterimAvailable","DateTime":"2026-11-20T10:00:00+00:00"}]},"Links":{"Self":"/balances"},"Meta":{"TotalPages":1}}`)
		case rest == "/accounts/22289/beneficiaries":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"Code":"404","Message":"none"}`)
		case strings.HasSuffix(rest, "/transactions"):
			// The filter refuses an answer not of the endpoint's shape.
			io.WriteString(w, `{"Data":{"Transaction":[]},"Links":{"Self":"/transactions"},"Meta":{"TotalPages":1}}`)
		case strings.HasPrefix(rest, "/accounts/22289"):
			io.WriteString(w, `{"Data":{"Account":[{"AccountId":"22289","Currency":"GBP","Nickname":"Bills"}]},"Links":{"Self":"/accounts/22289"},"Meta":{"TotalPages":1}}`)
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *recordingBank) count() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.seen) }

func (b *recordingBank) since(n int) []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seenRequest(nil), b.seen[n:]...)
}

// startGateForBank runs the test gateway in front of the bank and returns a CIBA token of
// a consent to account 22289 with every permission the tests read with.
func startGateForBank(t *testing.T, b *recordingBank) string {
	t.Helper()
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, "reverse_proxy "+strings.TrimPrefix(b.srv.URL, "http://"), -1))
	_, tok := authorisedConsent(t, `"ReadAccountsDetail","ReadBalances","ReadBeneficiariesDetail","ReadStatementsDetail","ReadTransactionsDetail","ReadTransactionsCredits","ReadTransactionsDebits"`, "22289")
	return tok
}

// rawAnswer is an answer read off the wire.
type rawAnswer struct {
	status int
	header http.Header
	body   string
}

// rawCalls writes the requests on one connection to the gateway's HTTP port exactly as
// given, and reads one answer per method, in order. Nothing cleans the request line on the
// way, as Go's client would.
func rawCalls(t *testing.T, raw string, methods ...string) ([]rawAnswer, error) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort), 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	var out []rawAnswer
	for _, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			return out, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return out, err
		}
		out = append(out, rawAnswer{status: resp.StatusCode, header: resp.Header, body: string(body)})
	}
	return out, nil
}

// rawRequest is one request of method to target with the token and extra header lines.
func rawRequest(method, target, tok string, extra ...string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s HTTP/1.1\r\nHost: localhost:%d\r\n", method, target, httpPort)
	if tok != "" {
		fmt.Fprintf(&sb, "Authorization: Bearer %s\r\n", tok)
	}
	for _, line := range extra {
		sb.WriteString(line + "\r\n")
	}
	return sb.String()
}

func rawCall(t *testing.T, method, target, tok string, extra ...string) rawAnswer {
	t.Helper()
	req := rawRequest(method, target, tok, append(extra[:len(extra):len(extra)], "Connection: close")...) + "\r\n"
	answers, err := rawCalls(t, req, method)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return answers[0]
}

func obCode(body string) string {
	var e struct{ Errors []struct{ ErrorCode string } }
	if json.Unmarshal([]byte(body), &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].ErrorCode
}

// oddRequest is a request a hostile TPP sends with a live token; none may reach the bank.
type oddRequest struct {
	name, method, target string
	extra                []string // header lines, then the body after a blank line
	status               int      // 0: any 4xx (Go's server or Caddy may refuse it first)
	code                 string
}

// aisp is where the account information endpoints are.
const aisp = consent.APIPrefix

var oddRequests = []oddRequest{
	// Methods the endpoints do not have, with and without bodies.
	{"POST with a body", "POST", aisp + "/accounts/22289", []string{"Content-Type: application/json", "Content-Length: 2", "", "{}"}, 405, "UK.OBIE.Field.Unexpected"},
	{"PUT with a body", "PUT", aisp + "/accounts/22289", []string{"Content-Length: 2", "", "{}"}, 405, "UK.OBIE.Field.Unexpected"},
	{"PATCH chunked", "PATCH", aisp + "/accounts", []string{"Transfer-Encoding: chunked", "", "2\r\n{}\r\n0\r\n"}, 405, "UK.OBIE.Field.Unexpected"},
	{"DELETE", "DELETE", aisp + "/accounts/22289", nil, 405, "UK.OBIE.Field.Unexpected"},
	{"TRACE", "TRACE", aisp + "/accounts/22289", nil, 405, "UK.OBIE.Field.Unexpected"},
	{"OPTIONS", "OPTIONS", aisp + "/accounts", nil, 405, "UK.OBIE.Field.Unexpected"},
	{"PROPFIND with a body", "PROPFIND", aisp + "/accounts", []string{"Depth: 1", "Content-Length: 7", "", "<a/>\r\n\r"}, 405, "UK.OBIE.Field.Unexpected"},
	{"lowercase get", "get", aisp + "/accounts", nil, 405, "UK.OBIE.Field.Unexpected"},
	{"arbitrary token", "X-READ", aisp + "/accounts", nil, 405, "UK.OBIE.Field.Unexpected"},
	{"CONNECT", "CONNECT", aisp + "/accounts", nil, 0, ""},
	// Bodies on a read.
	{"GET with a body", "GET", aisp + "/accounts", []string{"Content-Length: 5", "", "hello"}, 400, "UK.OBIE.Field.Unexpected"},
	{"GET chunked", "GET", aisp + "/accounts", []string{"Transfer-Encoding: chunked", "", "5\r\nhello\r\n0\r\n"}, 400, "UK.OBIE.Field.Unexpected"},
	{"HEAD with a body", "HEAD", aisp + "/accounts", []string{"Content-Length: 5", "", "hello"}, 400, ""},
	{"GET with a method override", "GET", aisp + "/accounts", []string{"X-HTTP-Method-Override: DELETE", "Content-Length: 2", "", "{}"}, 400, "UK.OBIE.Field.Unexpected"},
	// Paths the table does not name exactly.
	{"dot-dot StatementId", "GET", aisp + "/accounts/22289/statements/..", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"dot StatementId", "GET", aisp + "/accounts/22289/statements/.", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"encoded dot-dot", "GET", aisp + "/accounts/22289/statements/%2e%2e", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"encoded dot-dot, upper case, then file", "GET", aisp + "/accounts/22289/statements/%2E%2E/file", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"dot-dot-semicolon", "GET", aisp + "/accounts/22289/statements/..;", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"dot-dot-semicolon then path", "GET", aisp + "/accounts/22289/statements/..;/balances", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"encoded slash", "GET", aisp + "/accounts/22289%2fbalances", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"encoded slash, upper case", "GET", aisp + "/accounts/22289%2F..%2F31820", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"double encoding", "GET", aisp + "/accounts/22289/statements/%252e%252e", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"encoded backslash", "GET", aisp + "/accounts/22289%5c..%5c31820", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"backslash", "GET", aisp + `/accounts/22289\..\31820`, nil, 0, ""},
	{"encoded account id", "GET", aisp + "/accounts/%32%32%32%38%39", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"jsessionid", "GET", aisp + "/accounts/22289;jsessionid=abc", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"double slash", "GET", aisp + "/accounts//22289", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"trailing slash", "GET", aisp + "/accounts/22289/", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"trailing dot, not the consented account", "GET", aisp + "/accounts/22289.", nil, 403, "UK.OBIE.Field.Invalid"},
	{"three dots", "GET", aisp + "/accounts/22289/statements/...", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"overlong StatementId", "GET", aisp + "/accounts/22289/statements/" + strings.Repeat("s", 41), nil, 404, "UK.OBIE.Resource.NotFound"},
	{"encoded unicode", "GET", aisp + "/accounts/22289/statements/%C3%A9", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"raw unicode", "GET", aisp + "/accounts/22289/statements/\u00e9", nil, 0, ""},
	{"fullwidth dots", "GET", aisp + "/accounts/22289/statements/\uff0e\uff0e", nil, 0, ""},
	{"NUL", "GET", aisp + "/accounts/22289%00", nil, 0, ""},
	{"encoded slash in the prefix", "GET", "/open-banking/v3.1/aisp%2Faccounts", nil, 0, ""},
	{"dot-dot back into the prefix", "GET", aisp + "/../aisp/accounts", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"encoded dot-dot back into the prefix", "GET", aisp + "/%2e%2e/aisp/accounts", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"absolute form with dot-dot", "GET", httpBase + aisp + "/accounts/22289/statements/%2e%2e", nil, 404, "UK.OBIE.Resource.NotFound"},
	// Query strings the endpoint does not take.
	{"unknown query parameter", "GET", aisp + "/accounts/22289?fields=Account", nil, 400, "UK.OBIE.Field.Unexpected"},
	{"repeated window", "GET", aisp + "/accounts/22289/transactions?fromBookingDateTime=2026-01-01T00:00:00&fromBookingDateTime=2020-01-01T00:00:00", nil, 400, "UK.OBIE.Field.Unexpected"},
	{"window on accounts", "GET", aisp + "/accounts?fromBookingDateTime=2026-01-01T00:00:00", nil, 400, "UK.OBIE.Field.Unexpected"},
	{"semicolon query", "GET", aisp + "/accounts?page=1;x=2", nil, 400, "UK.OBIE.Field.Unexpected"},
	{"upper-case prefix", "GET", "/OPEN-BANKING/v3.1/AISP/accounts", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"upper-case resource", "GET", aisp + "/ACCOUNTS/22289", nil, 404, "UK.OBIE.Resource.NotFound"},
	{"fragment", "GET", aisp + "/accounts#x", nil, 0, ""},
	{"fragment in the query", "GET", aisp + "/accounts?page=1#x", nil, 0, ""},
	{"double slash before the prefix", "GET", "/" + aisp + "/accounts", nil, 0, ""},
	{"dot segment before the prefix", "GET", "/./open-banking/v3.1/aisp/accounts", nil, 0, ""},
	{"page twice", "GET", aisp + "/accounts?page=1&page=2", nil, 400, "UK.OBIE.Field.Unexpected"},
	{"encoded ampersand", "GET", aisp + "/accounts?page=1%26fields=x", nil, 400, "UK.OBIE.Field.Unexpected"},
	{"encoded page name", "GET", aisp + "/accounts?p%61ge=1&page=2", nil, 400, "UK.OBIE.Field.Unexpected"},
	// Framing the bank's server might read otherwise than Go's.
	{"Content-Length and chunked", "GET", aisp + "/accounts", []string{"Content-Length: 40", "Transfer-Encoding: chunked", "", "0\r\n\r\nGET /open-banking/v3.1/aisp/accounts/31820 HTTP/1.1\r\n"}, 0, ""},
	{"two Content-Lengths", "GET", aisp + "/accounts", []string{"Content-Length: 0", "Content-Length: 5", "", "hello"}, 0, ""},
}

func (o oddRequest) raw(tok string) string {
	headers, body := o.extra, ""
	for i, line := range o.extra {
		if line == "" {
			headers, body = o.extra[:i:i], strings.Join(o.extra[i+1:], "\r\n")
			break
		}
	}
	return rawRequest(o.method, o.target, tok, append(headers, "Connection: close")...) + "\r\n" + body
}

// check sends the request and tells what was wrong with the answer, "" if nothing.
func (o oddRequest) check(t *testing.T, tok string) string {
	answers, err := rawCalls(t, o.raw(tok), o.method)
	if err != nil {
		return err.Error()
	}
	a := answers[0]
	switch {
	case o.status == 0 && (a.status < 400 || a.status > 499):
		return fmt.Sprintf("got %d %q, want a 4xx", a.status, a.body)
	case o.status != 0 && a.status != o.status:
		return fmt.Sprintf("got %d %q, want %d", a.status, a.body, o.status)
	case o.code != "" && obCode(a.body) != o.code:
		return fmt.Sprintf("got %d %q, want the OB error %s", a.status, a.body, o.code)
	case a.status == http.StatusMethodNotAllowed && a.header.Get("Allow") != "GET, HEAD":
		return fmt.Sprintf("405 with Allow %q", a.header.Get("Allow"))
	}
	return ""
}

// TestGateRefusesOddRequests: methods, bodies, paths and query strings the endpoint table
// does not allow, sent as a hostile TPP with a live token, are refused and never reach the
// bank.
func TestGateRefusesOddRequests(t *testing.T) {
	bank := newRecordingBank(t)
	tok := startGateForBank(t, bank)
	for _, o := range oddRequests {
		t.Run(o.name, func(t *testing.T) {
			before := bank.count()
			if problem := o.check(t, tok); problem != "" {
				t.Error(problem)
			}
			if seen := bank.since(before); len(seen) != 0 {
				t.Fatalf("reached the bank: %+v", seen)
			}
		})
	}
	// The method and path are decided before the token: the answer is the same without one.
	t.Run("without a token", func(t *testing.T) {
		for _, o := range []oddRequest{oddRequests[0], oddRequests[3], oddRequests[14]} {
			if problem := o.check(t, ""); problem != "" {
				t.Errorf("%s: %s", o.name, problem)
			}
		}
	})
	t.Run("a token in the query does not count", func(t *testing.T) {
		before := bank.count()
		if a := rawCall(t, "GET", aisp+"/accounts/22289?access_token="+tok, ""); a.status != 401 {
			t.Errorf("got %d %q", a.status, a.body)
		}
		if bank.count() != before {
			t.Fatal("reached the bank")
		}
	})
}

// TestGateForwardsCleanRequests: what the bank receives of an admitted request is the
// endpoint's path, a canonical query of the parameters it defines, no body, none of the
// headers that change its answer, Accept application/json and the gate's identity headers,
// even when the client lists them in Connection.
func TestGateForwardsCleanRequests(t *testing.T) {
	bank := newRecordingBank(t)
	tok := startGateForBank(t, bank)
	hostile := []string{
		"Range: bytes=0-", "If-Range: \"x\"", "If-Match: *", "If-None-Match: *",
		"If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT", "If-Unmodified-Since: Mon, 01 Jan 2024 00:00:00 GMT",
		"Accept-Encoding: gzip, br", "Accept-Charset: utf-16", "Accept: text/csv", "TE: trailers", "Prefer: return=minimal",
		"Cache-Control: only-if-cached", "Content-Type: application/xml", "Content-Length: 0",
		"X-Ciba-Subject: psu-2", "X-Ciba-Accounts: 31820", "X-Ciba-Consent-Id: other", "X-Ciba-Client-Id: other", "x-ciba-extra: 1",
		"X-HTTP-Method-Override: DELETE", "X-Method-Override: DELETE", "X-HTTP-Method: DELETE",
		"X-Original-URL: " + aisp + "/accounts/31820", "X-Rewrite-URL: " + aisp + "/accounts/31820",
		"Forwarded: for=10.0.0.1;host=bank.internal", "X-Real-IP: 10.0.0.1", "X-Forwarded-For: 10.9.9.9", "X-Forwarded-Prefix: /admin",
		"Cookie: session=bank-session", "Proxy-Authorization: Basic eDp5", "Max-Forwards: 0",
		"X-Hop: 1", "Keep-Alive: timeout=5", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
		"Connection: X-Ciba-Subject, X-Ciba-Accounts, X-Ciba-Consent-Id, X-Ciba-Client-Id, X-Fapi-Interaction-Id, X-Hop, Keep-Alive, Upgrade",
		"x-fapi-financial-id: 001580000103UAvAAM",
	}
	stripped := []string{"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
		"Accept-Charset", "Te", "Prefer", "Cache-Control", "Content-Type", "X-Ciba-Extra",
		"X-Http-Method-Override", "X-Method-Override", "X-Http-Method", "X-Original-Url", "X-Rewrite-Url",
		"Forwarded", "X-Real-Ip", "X-Forwarded-Prefix", "Cookie", "Proxy-Authorization", "Max-Forwards",
		"X-Hop", "Keep-Alive", "Upgrade", "Connection", "Authorization"}

	for _, tc := range []struct{ name, target, path, query string }{
		{"accounts", aisp + "/accounts", aisp + "/accounts", ""},
		{"one account", aisp + "/accounts/22289", aisp + "/accounts/22289", ""},
		{"transactions window, canonical", aisp + "/accounts/22289/transactions?toBookingDateTime=2026-12-01T00:00:00%2B01:00&fromBookingDateTime=2026-11-01T00:00:00",
			aisp + "/accounts/22289/transactions", "fromBookingDateTime=2026-11-01T00%3A00%3A00&toBookingDateTime=2026-12-01T00%3A00%3A00%2B01%3A00"},
		{"page", aisp + "/accounts?page=2", aisp + "/accounts", "page=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := bank.count()
			a := rawCall(t, "GET", tc.target, tok, hostile...)
			if a.status != http.StatusOK {
				t.Fatalf("got %d %q", a.status, a.body)
			}
			seen := bank.since(before)
			if len(seen) != 1 {
				t.Fatalf("the bank saw %d requests", len(seen))
			}
			s := seen[0]
			if s.method != "GET" || s.path != tc.path || s.query != tc.query || s.body != 0 || s.contentLength != 0 || len(s.transferEncoding) != 0 {
				t.Errorf("the bank saw %s %s?%s with %d body bytes (length %d, %v)", s.method, s.path, s.query, s.body, s.contentLength, s.transferEncoding)
			}
			for _, h := range stripped {
				if v, ok := s.header[h]; ok {
					t.Errorf("the bank saw %s: %q", h, v)
				}
			}
			for h, want := range map[string]string{"Accept": "application/json", "X-Ciba-Subject": "psu-1", "X-Ciba-Accounts": "22289",
				"X-Ciba-Client-Id": "tpp-basic", "X-Fapi-Financial-Id": "001580000103UAvAAM"} {
				if got := s.header.Values(h); len(got) != 1 || got[0] != want {
					t.Errorf("the bank saw %s %q, want %q", h, got, want)
				}
			}
			if s.header.Get("X-Ciba-Consent-Id") == "" || s.header.Get("X-Ciba-Consent-Id") == "other" {
				t.Errorf("the bank saw consent %q", s.header.Get("X-Ciba-Consent-Id"))
			}
			if id := s.header.Get("X-Fapi-Interaction-Id"); id == "" || id != a.header.Get("X-Fapi-Interaction-Id") {
				t.Errorf("interaction id %q to the bank, %q to the TPP", id, a.header.Get("X-Fapi-Interaction-Id"))
			}
			// reverse_proxy's transport asks for gzip itself, and decodes it before the filter.
			if ae := s.header.Values("Accept-Encoding"); len(ae) > 1 || len(ae) == 1 && ae[0] != "gzip" {
				t.Errorf("the bank saw Accept-Encoding %q", ae)
			}
			// The client is not one of the trusted_proxies: reverse_proxy replaces its value.
			if xff := s.header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
				t.Errorf("X-Forwarded-For %q", xff)
			}
			if strings.Contains(a.body, "31820") {
				t.Errorf("the TPP saw another account: %s", a.body)
			}
		})
	}
}

// TestGateHead: a HEAD answers what the GET would, filtered, without the body: the same
// status and headers, the filtered Content-Length where the GET has one. The bank sees a
// GET, so the filter reads the whole answer.
func TestGateHead(t *testing.T) {
	bank := newRecordingBank(t)
	tok := startGateForBank(t, bank)
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"filtered, of known length", "/accounts", 200},
		{"filtered as it streams", "/accounts/22289/balances", 200},
		{"one account", "/accounts/22289", 200},
		{"the bank's error", "/accounts/22289/beneficiaries", 404},
		{"refused by the gate", "/accounts/31820", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := bank.count()
			// HEAD then GET on one connection: a body after the HEAD's headers would be
			// read as the GET's answer.
			req := rawRequest("HEAD", aisp+tc.path, tok) + "\r\n" + rawRequest("GET", aisp+tc.path, tok, "Connection: close") + "\r\n"
			answers, err := rawCalls(t, req, "HEAD", "GET")
			if err != nil {
				t.Fatal(err)
			}
			head, get := answers[0], answers[1]
			if head.status != tc.status || get.status != tc.status {
				t.Fatalf("HEAD %d, GET %d %q; want %d", head.status, get.status, get.body, tc.status)
			}
			if head.body != "" {
				t.Fatalf("HEAD answered a body: %q", head.body)
			}
			// A refusal names the AccountId the TPP sent; an answer must not carry it.
			if tc.status == http.StatusOK && strings.Contains(get.body, "31820") {
				t.Fatalf("the GET showed another account: %s", get.body)
			}
			for _, h := range []string{"Content-Type", "Allow"} {
				if head.header.Get(h) != get.header.Get(h) {
					t.Errorf("%s: HEAD %q, GET %q", h, head.header.Get(h), get.header.Get(h))
				}
			}
			// A streamed answer's length is known only once it is sent: the HEAD then says
			// none, never another.
			if cl := head.header.Get("Content-Length"); cl != "" && cl != get.header.Get("Content-Length") {
				t.Errorf("Content-Length: HEAD %q, GET %q", cl, get.header.Get("Content-Length"))
			}
			if cl := get.header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(get.body)) {
				t.Errorf("GET Content-Length %s for %d bytes", cl, len(get.body))
			}
			if tc.path == "/accounts" && get.header.Get("Content-Length") == strconv.Itoa(len(twoAccounts)) {
				t.Error("HEAD and GET carry the bank's unfiltered Content-Length")
			}
			for _, s := range bank.since(before) {
				if s.method != "GET" {
					t.Errorf("the bank saw %s", s.method)
				}
			}
		})
	}
}

// TestGateOddRequestsConcurrently: odd requests and admitted requests with hostile headers
// at once; the bank sees only the admitted ones, each clean.
func TestGateOddRequestsConcurrently(t *testing.T) {
	bank := newRecordingBank(t)
	tok := startGateForBank(t, bank)
	const workers = 50
	before := bank.count()
	problems := make(chan string, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%5 == 0 {
				a, err := rawCalls(t, rawRequest("GET", aisp+"/accounts", tok, "Range: bytes=0-", "Accept: text/csv",
					"X-Ciba-Accounts: 31820", "Connection: close, X-Ciba-Accounts, X-Ciba-Subject")+"\r\n", "GET")
				switch {
				case err != nil:
					problems <- err.Error()
				case a[0].status != 200 || strings.Contains(a[0].body, "31820"):
					problems <- fmt.Sprintf("admitted call: %d %q", a[0].status, a[0].body)
				}
				return
			}
			o := oddRequests[i%len(oddRequests)]
			if problem := o.check(t, tok); problem != "" {
				problems <- o.name + ": " + problem
			}
		}()
	}
	wg.Wait()
	close(problems)
	for problem := range problems {
		t.Error(problem)
	}
	seen := bank.since(before)
	if len(seen) != workers/5 {
		t.Errorf("the bank saw %d requests, want %d", len(seen), workers/5)
	}
	for _, s := range seen {
		if s.method != "GET" || s.path != aisp+"/accounts" || s.body != 0 || s.header.Get("Range") != "" ||
			s.header.Get("Accept") != "application/json" || s.header.Get("X-Ciba-Accounts") != "22289" || s.header.Get("X-Ciba-Subject") != "psu-1" {
			t.Errorf("the bank saw %s %s %v", s.method, s.path, s.header)
		}
	}
}

// TestGateBodiesOverHTTP2: HTTP/2 may not tell a body's length before the stream ends;
// a GET that turns out to carry one is refused, one whose stream ends empty goes on.
func TestGateBodiesOverHTTP2(t *testing.T) {
	bank := newRecordingBank(t)
	tok := startGateForBank(t, bank)
	c := client(nil)
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = true
	for _, tc := range []struct {
		name   string
		body   func() io.Reader
		status int
	}{
		{"no body", func() io.Reader { return nil }, 200},
		{"a stream that ends empty", func() io.Reader { return io.MultiReader() }, 200},
		{"a body of unknown length", func() io.Reader { return io.MultiReader(strings.NewReader("hello")) }, 400},
		{"a body of known length", func() io.Reader { return strings.NewReader("hello") }, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := bank.count()
			req, _ := http.NewRequest(http.MethodGet, httpsBase+aisp+"/accounts", tc.body())
			req.Header.Set("Authorization", "Bearer "+tok)
			r := do(t, c, req)
			if r.status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("got %d %q, want %d", r.status, r.raw, tc.status)
			}
			seen := bank.since(before)
			if tc.status != 200 {
				if len(seen) != 0 {
					t.Fatalf("reached the bank: %+v", seen)
				}
				return
			}
			if len(seen) != 1 || seen[0].body != 0 || seen[0].contentLength != 0 {
				t.Fatalf("the bank saw %+v", seen)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodGet, httpsBase+aisp+"/accounts", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the calls went over %s", resp.Proto)
	}
}
