package caddyciba

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/store"
)

// bankAnswer is what the hostile bank answers next.
type bankAnswer struct {
	status int
	header map[string]string // "" as a value removes the header (no Content-Type at all)
	body   string
	// chunked sends the body without a Content-Length, flushing as it goes.
	chunked bool
	// breakAfter cuts the connection after that many bytes of the body.
	breakAfter int
	gzip       bool
	trailer    bool
}

// hostileBank is a bank upstream that answers whatever the test tells it to, on purpose
// in every way a bank should not.
func hostileBank(t *testing.T) (*httptest.Server, *atomic.Pointer[bankAnswer]) {
	next := new(atomic.Pointer[bankAnswer])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := next.Load()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Bank-Note", "LEAK in a header")
		for k, v := range a.header {
			if v == "" {
				h[k] = nil
			} else {
				h.Set(k, v)
			}
		}
		body := []byte(a.body)
		if a.gzip {
			var b bytes.Buffer
			z := gzip.NewWriter(&b)
			z.Write(body)
			z.Close()
			body = b.Bytes()
			h.Set("Content-Encoding", "gzip")
		}
		if a.trailer {
			h.Set("Trailer", "X-Account-Trailer")
		}
		switch {
		case a.breakAfter > 0:
			h.Set("Content-Length", itoa(len(body)))
			w.WriteHeader(a.status)
			w.Write(body[:a.breakAfter])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		case a.chunked:
			w.WriteHeader(a.status)
			for len(body) > 0 {
				n := min(len(body), 16<<10)
				w.Write(body[:n])
				w.(http.Flusher).Flush()
				body = body[n:]
			}
		default:
			if !a.trailer {
				h.Set("Content-Length", itoa(len(body)))
			}
			w.WriteHeader(a.status)
			w.Write(body)
		}
		if a.trailer {
			h.Set("X-Account-Trailer", "LEAK 31820")
		}
	}))
	t.Cleanup(srv.Close)
	return srv, next
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// hostileReply is what a gated GET got, a broken body included: an aborted answer is a
// refusal.
type hostileReply struct {
	status  int
	header  http.Header
	trailer http.Header
	body    []byte
	broken  error
}

func hostileCall(t *testing.T, path, tok string) hostileReply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, httpBase+consent.APIPrefix+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client(nil).Do(req)
	if err != nil {
		return hostileReply{broken: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return hostileReply{status: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: body, broken: err}
}

// windowed gives a consent the transaction window October 2026.
func windowed(t *testing.T, id string) {
	t.Helper()
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	err := activeApp(t).Store().Update(func(tx store.Txn) error {
		_, err := consent.Change(tx, id, time.Now(), func(c *consent.Consent) error {
			c.TransactionFrom = &consent.Date{Raw: from.Format(consent.TimeLayout), Time: from}
			c.TransactionTo = &consent.Date{Raw: to.Format(consent.TimeLayout), Time: to}
			return nil
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

const hostilePAN = "5409050000001234"

// TestGateHostileBank puts the gate in front of a bank that answers badly on purpose and
// checks that no answer ever shows a non-consented account (31820), a Detail field to a
// Basic consent, an unmasked PAN, a debit to a Credits-only consent, or an undated
// transaction inside the consent's window: every forbidden thing the bank sends carries
// the word LEAK, and no answer may carry it. Each answer is a refusal (the gate's own OB
// error, or a stream cut short) or a filtered body of the expected items.
func TestGateHostileBank(t *testing.T) {
	bank, next := hostileBank(t)
	cfg := strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, "reverse_proxy "+strings.TrimPrefix(bank.URL, "http://"), -1)
	cfg = strings.Replace(cfg, "\t\tciba_gate\n", "\t\tciba_gate {\n\t\t\tmax_item_size 64KiB\n\t\t\tmax_body_size 4MiB\n\t\t}\n", -1)
	startGateway(t, cfg)
	// Basic, Credits only, a window, no ReadPAN.
	basicID, basic := authorisedConsent(t, `"ReadAccountsBasic","ReadTransactionsBasic","ReadTransactionsCredits"`, "22289")
	windowed(t, basicID)
	// Detail, both directions, no ReadPAN, no window.
	_, detail := authorisedConsent(t, `"ReadAccountsDetail","ReadTransactionsDetail","ReadTransactionsCredits","ReadTransactionsDebits"`, "22289")

	pan := `{"SchemeName":"UK.OBIE.PAN","Identification":"` + hostilePAN + `","Name":"card"}`
	accounts := `{"Data":{"Account":[{"AccountId":"22289","Nickname":"shown","Account":[` + pan + `],"Servicer":{"SchemeName":"UK.OBIE.BICFI","Identification":"DEMOGB2L"}},` +
		`{"AccountId":"31820","Nickname":"LEAK"}]},"Links":{"Self":"x"},"Meta":{"TotalPages":1}}`
	inWindow := `"BookingDateTime":"2026-10-05T10:00:00+00:00"`
	transactions := `{"Data":{"Transaction":[` +
		`{"AccountId":"22289","TransactionId":"shown",` + inWindow + `,"CreditDebitIndicator":"Credit","TransactionInformation":"LEAK","DebtorAccount":` + pan + `},` +
		`{"AccountId":"22289","TransactionId":"LEAK debit",` + inWindow + `,"CreditDebitIndicator":"Debit"},` +
		`{"AccountId":"22289","TransactionId":"LEAK no direction",` + inWindow + `},` +
		`{"AccountId":"22289","TransactionId":"LEAK undated","CreditDebitIndicator":"Credit"},` +
		`{"AccountId":"22289","TransactionId":"LEAK null date","BookingDateTime":null,"CreditDebitIndicator":"Credit"},` +
		`{"AccountId":"22289","TransactionId":"LEAK bad date","BookingDateTime":"5 October","CreditDebitIndicator":"Credit"},` +
		`{"AccountId":"22289","TransactionId":"LEAK outside","BookingDateTime":"2026-11-05T10:00:00+00:00","CreditDebitIndicator":"Credit"},` +
		`{"AccountId":"31820","TransactionId":"LEAK other account",` + inWindow + `,"CreditDebitIndicator":"Credit"}]}}`
	bigItem := `{"AccountId":"22289","Nickname":"` + strings.Repeat("LEAK ", 20<<10) + `"}`
	manyDropped := `{"Data":{"Account":[` + strings.Repeat(`{"AccountId":"31820","Nickname":"LEAK"},`, 120000) + `{"AccountId":"22289"}]}}`

	const (
		refused  = -1 // a 502 of the gate, or a stream cut short
		eitherOK = -2 // refused, or filtered to one item (a gzip the bank's client may undo)
	)
	for _, tc := range []struct {
		name string
		path string
		tok  string
		a    bankAnswer
		// items is how many list items the filtered 200 holds, or refused/eitherOK; a
		// status of the gate's own OB error otherwise is in status.
		items  int
		status int
	}{
		{"accounts, Basic", "/accounts", basic, bankAnswer{status: 200, body: accounts}, 1, 200},
		{"accounts, Detail: PAN masked", "/accounts", detail, bankAnswer{status: 200, body: accounts}, 1, 200},
		{"transactions, Credits only in a window", "/transactions", basic, bankAnswer{status: 200, body: transactions}, 1, 200},
		{"transactions, Detail: PAN of a counterparty masked", "/accounts/22289/transactions", detail,
			bankAnswer{status: 200, body: strings.ReplaceAll(transactions, "LEAK", "ok")}, 7, 200},
		{"streamed, chunked", "/accounts", basic, bankAnswer{status: 200, body: accounts, chunked: true}, 1, 200},
		{"charset param", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, 1, 200},
		{"charset utf-16", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "application/json; charset=utf-16"}}, refused, 502},
		{"charset latin1", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "application/json;charset=ISO-8859-1"}}, refused, 502},
		{"charset UTF-8 upper case", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "APPLICATION/JSON; Charset=\"UTF-8\""}}, 1, 200},
		{"json then html", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "application/json, text/html"}}, refused, 502},
		{"json with another parameter", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "application/json; profile=x"}}, refused, 502},
		{"html", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "text/html"}}, refused, 502},
		{"vendor json", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "application/vnd.bank+json"}}, refused, 502},
		{"problem json", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "application/problem+json"}}, refused, 502},
		{"text/json", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": "text/json"}}, refused, 502},
		{"xml", "/accounts", basic, bankAnswer{status: 200, body: "<Account><AccountId>31820</AccountId><Nickname>LEAK</Nickname></Account>", header: map[string]string{"Content-Type": "application/xml"}}, refused, 502},
		{"csv", "/accounts", basic, bankAnswer{status: 200, body: "AccountId,Nickname\n31820,LEAK\n", header: map[string]string{"Content-Type": "text/csv"}}, refused, 502},
		{"no content type", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Type": ""}}, refused, 502},
		{"gzip", "/accounts", basic, bankAnswer{status: 200, body: accounts, gzip: true}, eitherOK, 0},
		{"brotli label", "/accounts", basic, bankAnswer{status: 200, body: accounts, header: map[string]string{"Content-Encoding": "br"}}, refused, 502},
		{"201", "/accounts", basic, bankAnswer{status: 201, body: accounts}, refused, 502},
		{"203", "/accounts", basic, bankAnswer{status: 203, body: accounts}, refused, 502},
		{"204", "/accounts", basic, bankAnswer{status: 204}, refused, 502},
		{"206", "/accounts", basic, bankAnswer{status: 206, body: accounts, header: map[string]string{"Content-Range": "bytes 0-99/100"}}, refused, 502},
		{"301", "/accounts", basic, bankAnswer{status: 301, body: accounts, header: map[string]string{"Location": "http://bank/LEAK/31820"}}, refused, 502},
		{"307", "/accounts", basic, bankAnswer{status: 307, body: accounts, header: map[string]string{"Location": "/accounts/31820?LEAK"}}, refused, 502},
		{"400 with account data", "/accounts", basic, bankAnswer{status: 400, body: accounts}, refused, 400},
		{"401", "/accounts", basic, bankAnswer{status: 401, body: accounts, header: map[string]string{"WWW-Authenticate": "Basic realm=LEAK"}}, refused, 502},
		{"403 with account data", "/accounts", basic, bankAnswer{status: 403, body: accounts}, refused, 403},
		{"404 with account data", "/accounts", basic, bankAnswer{status: 404, body: accounts}, refused, 404},
		{"429", "/accounts", basic, bankAnswer{status: 429, body: accounts, header: map[string]string{"Retry-After": "7"}}, refused, 429},
		{"500 with account data", "/accounts", basic, bankAnswer{status: 500, body: accounts}, refused, 502},
		{"503 as html", "/accounts", basic, bankAnswer{status: 503, body: "<p>LEAK 31820</p>", header: map[string]string{"Content-Type": "text/html"}}, refused, 502},
		{"duplicate AccountId", "/accounts", basic, bankAnswer{status: 200, body: `{"Data":{"Account":[{"AccountId":"22289","Nickname":"LEAK","AccountId":"31820"}]}}`}, refused, 502},
		{"duplicate AccountId, streamed", "/accounts", basic, bankAnswer{status: 200, chunked: true, body: `{"Data":{"Account":[{"AccountId":"22289","Nickname":"LEAK","AccountId":"31820"}]}}`}, refused, 502},
		{"duplicate Data", "/accounts", basic, bankAnswer{status: 200, body: `{"Data":{"Account":[]},"Data":{"Account":[{"AccountId":"31820","Nickname":"LEAK"}]}}`}, refused, 502},
		{"missing AccountId", "/accounts", basic, bankAnswer{status: 200, body: `{"Data":{"Account":[{"Nickname":"LEAK"},{"AccountId":22289,"Nickname":"LEAK"},{"AccountId":"22289"}]}}`}, 1, 200},
		{"lowercase data", "/accounts", basic, bankAnswer{status: 200, body: `{"data":{"Account":[{"AccountId":"31820","Nickname":"LEAK"}]}}`}, refused, 502},
		{"list in a list", "/accounts", basic, bankAnswer{status: 200, body: `{"Data":{"Account":[[{"AccountId":"31820","Nickname":"LEAK"}]]}}`}, refused, 502},
		{"object holding a list", "/accounts", basic, bankAnswer{status: 200, body: `{"Data":{"Account":{"Account":[{"AccountId":"31820","Nickname":"LEAK"}]}}}`}, refused, 502},
		{"account data in Meta", "/accounts", basic, bankAnswer{status: 200, body: `{"Data":{},"Meta":{"Account":[{"AccountId":"31820","Nickname":"LEAK"}]}}`}, refused, 502},
		{"not JSON", "/accounts", basic, bankAnswer{status: 200, body: `AccountId=31820&Nickname=LEAK`}, refused, 502},
		{"huge item, buffered", "/accounts", basic, bankAnswer{status: 200, body: `{"Data":{"Account":[` + bigItem + `]}}`}, refused, 502},
		{"huge item, streamed", "/accounts", basic, bankAnswer{status: 200, chunked: true, body: `{"Data":{"Account":[` + bigItem + `]}}`}, refused, 502},
		// Past a kept item the 200 is sent: the stream is cut.
		{"huge item after a kept one, streamed", "/accounts", basic, bankAnswer{status: 200, chunked: true, body: `{"Data":{"Account":[{"AccountId":"22289"},` + strings.Repeat(" ", 40<<10) + bigItem + `]}}`}, refused, 0},
		{"huge Meta", "/accounts", basic, bankAnswer{status: 200, body: `{"Data":{},"Meta":{"FirstAvailableDateTime":"` + strings.Repeat("LEAK ", 20<<10) + `"}}`}, refused, 502},
		{"answer over max_body_size", "/accounts", basic, bankAnswer{status: 200, chunked: true, body: manyDropped}, refused, 502},
		{"body cut by the bank", "/accounts", basic, bankAnswer{status: 200, body: accounts, breakAfter: 100}, refused, 502},
		{"trailer", "/accounts", basic, bankAnswer{status: 200, body: accounts, trailer: true}, 1, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next.Store(&tc.a)
			got := hostileCall(t, tc.path, tc.tok)
			for _, leak := range []string{"LEAK", hostilePAN, "31820"} {
				if bytes.Contains(got.body, []byte(leak)) {
					t.Fatalf("%q shown: %d %.300s", leak, got.status, got.body)
				}
				for k, v := range got.trailer {
					if strings.Contains(strings.Join(v, ","), leak) {
						t.Fatalf("%q shown in trailer %s", leak, k)
					}
				}
				for k, v := range got.header {
					if strings.Contains(strings.Join(v, ","), leak) {
						t.Fatalf("%q shown in header %s", leak, k)
					}
				}
			}
			items := tc.items
			if items == eitherOK {
				if got.status == 200 {
					items = 1
				} else {
					items, tc.status = refused, 502
				}
			}
			if items == refused {
				checkRefusal(t, got, tc.status)
				return
			}
			if got.status != 200 || got.broken != nil {
				t.Fatalf("got %d %v %.300s", got.status, got.broken, got.body)
			}
			var body struct{ Data map[string][]map[string]any }
			if err := json.Unmarshal(got.body, &body); err != nil {
				t.Fatalf("filtered body: %v %s", err, got.body)
			}
			list := body.Data["Account"]
			if strings.Contains(tc.path, "transactions") {
				list = body.Data["Transaction"]
			}
			if len(list) != items {
				t.Fatalf("%d items, want %d: %s", len(list), items, got.body)
			}
			for _, field := range []string{`"Servicer"`, `"SchemeName"`, `"TransactionInformation"`, `"DebtorAccount"`} {
				if tc.tok == basic && bytes.Contains(got.body, []byte(field)) {
					t.Fatalf("Basic consent sees %s: %s", field, got.body)
				}
			}
			if tc.tok == detail && !bytes.Contains(got.body, []byte(`"************1234"`)) {
				t.Fatalf("PAN not masked as OB says: %s", got.body)
			}
		})
	}
}

// checkRefusal: the gate's own OB error of the status, without the bank's headers, or
// (status 0) a stream the gate cut short that is no valid JSON.
func checkRefusal(t *testing.T, got hostileReply, status int) {
	t.Helper()
	if status == 0 {
		if got.broken == nil && (got.status == 200 && json.Valid(got.body)) {
			t.Fatalf("a refused stream ended cleanly: %d %.300s", got.status, got.body)
		}
		if got.status == 200 && got.broken == nil {
			t.Fatalf("a refused stream was not cut short: %.300s", got.body)
		}
		return
	}
	if got.broken != nil || got.status != status {
		t.Fatalf("got %d %v %.300s, want the gate's %d", got.status, got.broken, got.body, status)
	}
	var ob struct {
		Code, Id, Message string
		Errors            []struct{ ErrorCode, Message string }
	}
	if err := json.Unmarshal(got.body, &ob); err != nil || ob.Code == "" || ob.Id == "" || len(ob.Errors) != 1 || !strings.HasPrefix(ob.Errors[0].ErrorCode, "UK.OBIE.") {
		t.Fatalf("not an OB error body: %v %s", err, got.body)
	}
	if want := map[int]string{404: "UK.OBIE.Resource.NotFound"}[status]; want != "" && ob.Errors[0].ErrorCode != want {
		t.Fatalf("error code %s, want %s", ob.Errors[0].ErrorCode, want)
	}
	if status == 502 && ob.Errors[0].ErrorCode != "UK.OBIE.UnexpectedError" {
		t.Fatalf("error code %s", ob.Errors[0].ErrorCode)
	}
	for k, v := range got.header {
		if s := strings.Join(v, ","); strings.Contains(s, "LEAK") || strings.Contains(s, "31820") || k == "Location" || k == "Content-Range" {
			t.Fatalf("the bank's header %s: %s reached the TPP", k, s)
		}
	}
	if status == 429 && got.header.Get("Retry-After") != "7" {
		t.Fatalf("Retry-After %q", got.header.Get("Retry-After"))
	}
	if got.header.Get("X-Fapi-Interaction-Id") == "" {
		t.Fatal("no x-fapi-interaction-id")
	}
}

// TestGateStreamFlushesOnTime: a kept item of a slow, mostly dropped stream reaches the
// TPP within 100 ms of leaving the bank, not when the output buffer fills.
func TestGateStreamFlushesOnTime(t *testing.T) {
	sent := make(chan time.Time, 1)
	finish := make(chan struct{})
	bank := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		bw := bufio.NewWriter(w)
		bw.WriteString(`{"Data":{"Account":[`)
		for range 200 {
			bw.WriteString(`{"AccountId":"31820","Nickname":"dropped"},`)
		}
		bw.WriteString(`{"AccountId":"22289","Nickname":"kept"},`)
		bw.Flush()
		w.(http.Flusher).Flush()
		sent <- time.Now()
		select {
		case <-finish:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, `{"AccountId":"31820"}]}}`)
	}))
	t.Cleanup(bank.Close)
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, "reverse_proxy "+strings.TrimPrefix(bank.URL, "http://"), -1))
	_, tok := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")

	req, _ := http.NewRequest(http.MethodGet, httpBase+consent.APIPrefix+"/accounts", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	defer close(finish)
	var seen []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(seen, []byte("kept")) {
		n, err := resp.Body.Read(buf)
		seen = append(seen, buf[:n]...)
		if err != nil {
			t.Fatalf("%v after %q", err, seen)
		}
	}
	if d := time.Since(<-sent); d > 100*time.Millisecond {
		t.Fatalf("the kept item came %v after the bank sent it", d)
	}
	if bytes.Contains(seen, []byte("31820")) {
		t.Fatalf("dropped item shown: %s", seen)
	}
}
