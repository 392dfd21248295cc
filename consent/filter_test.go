package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func readExample(t *testing.T, name string) []byte {
	b, err := os.ReadFile("../examples/bank/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, b []byte) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

func items(t *testing.T, body map[string]any, name string) []map[string]any {
	list := body["Data"].(map[string]any)[name].([]any)
	out := make([]map[string]any, len(list))
	for i, x := range list {
		out[i] = x.(map[string]any)
	}
	return out
}

func window(from, to string) (*Date, *Date) {
	f, _ := time.Parse(time.RFC3339, from)
	t, _ := time.Parse(time.RFC3339, to)
	return &Date{Raw: from, Time: f}, &Date{Raw: to, Time: t}
}

func TestFilterAccounts(t *testing.T) {
	t.Parallel()
	body := readExample(t, "accounts.json")
	for _, tc := range []struct {
		perm       Permission
		wantDetail bool
	}{{ReadAccountsBasic, false}, {ReadAccountsDetail, true}} {
		c := &Consent{Status: Authorised, Permissions: []Permission{tc.perm}, AccountIDs: []string{"31820"}}
		out, err := c.Filter(body, Endpoint{Resource: Accounts, List: true})
		if err != nil {
			t.Fatal(err)
		}
		m := decode(t, out)
		accts := items(t, m, "Account")
		if len(accts) != 1 || accts[0]["AccountId"] != "31820" || accts[0]["Nickname"] != "Household" {
			t.Fatalf("%s: accounts %v", tc.perm, accts)
		}
		_, hasID := accts[0]["Account"]
		_, hasServicer := accts[0]["Servicer"]
		if hasID != tc.wantDetail || hasServicer != tc.wantDetail {
			t.Fatalf("%s: identification shown %v, servicer %v", tc.perm, hasID, hasServicer)
		}
		if m["Links"] == nil || m["Meta"] == nil {
			t.Fatal("Links or Meta lost")
		}
	}
}

func TestFilterTransactions(t *testing.T) {
	t.Parallel()
	body := readExample(t, "transactions.json")
	from, to := window("2026-10-15T00:00:00Z", "2026-11-30T00:00:00Z")
	c := &Consent{Status: Authorised, AccountIDs: []string{"22289"},
		Permissions:     []Permission{ReadAccountsBasic, ReadTransactionsBasic, ReadTransactionsCredits, ReadTransactionsDebits},
		TransactionFrom: from, TransactionTo: to}
	out, err := c.Filter(body, Endpoint{Resource: Transactions, List: true})
	if err != nil {
		t.Fatal(err)
	}
	txs := items(t, decode(t, out), "Transaction")
	if len(txs) != 2 {
		t.Fatalf("%d transactions, want the 2 of account 22289 inside the window: %v", len(txs), txs)
	}
	for _, tx := range txs {
		if tx["AccountId"] != "22289" || tx["TransactionId"] == "22289-1" {
			t.Fatalf("kept %v", tx)
		}
		for _, detail := range []string{"TransactionInformation", "Balance", "MerchantDetails"} {
			if _, ok := tx[detail]; ok {
				t.Fatalf("Basic consent sees %s", detail)
			}
		}
		if tx["Amount"] == nil || tx["BookingDateTime"] == nil {
			t.Fatalf("basic fields lost: %v", tx)
		}
	}
}

// TestFilterRules holds each rule of the filter to the exact answer it gives, or to a
// refusal: out is the filtered body, or "" when the answer must be refused with err.
func TestFilterRules(t *testing.T) {
	t.Parallel()
	from, to := window("2026-10-01T00:00:00Z", "2026-10-31T00:00:00Z")
	basic := &Consent{Permissions: []Permission{ReadAccountsBasic, ReadTransactionsBasic, ReadTransactionsCredits, ReadTransactionsDebits, ReadBalances, ReadParty}, AccountIDs: []string{"1", "2"}}
	detail := &Consent{Permissions: []Permission{ReadAccountsDetail, ReadTransactionsDetail, ReadTransactionsCredits, ReadTransactionsDebits}, AccountIDs: []string{"1"}}
	withPAN := &Consent{Permissions: []Permission{ReadAccountsDetail, ReadPAN}, AccountIDs: []string{"1"}}
	credits := &Consent{Permissions: []Permission{ReadAccountsBasic, ReadTransactionsDetail, ReadTransactionsCredits}, AccountIDs: []string{"1"}}
	debits := &Consent{Permissions: []Permission{ReadAccountsBasic, ReadTransactionsDetail, ReadTransactionsDebits}, AccountIDs: []string{"1"}}
	windowed := &Consent{Permissions: []Permission{ReadAccountsBasic, ReadTransactionsDetail, ReadTransactionsCredits, ReadTransactionsDebits}, AccountIDs: []string{"1"},
		TransactionFrom: from, TransactionTo: to}
	acc := Endpoint{Resource: Accounts, List: true}
	txn := Endpoint{Resource: Transactions, List: true}
	const pan = `{"SchemeName":"UK.OBIE.PAN","Identification":"5409050000001234"}`
	for _, tc := range []struct {
		name string
		c    *Consent
		ep   Endpoint
		in   string
		out  string
		err  error
	}{
		{"other accounts dropped", basic, acc, `{"Data":{"Account":[{"AccountId":"1"},{"AccountId":"3"},{"AccountId":"2"}]}}`,
			`{"Data":{"Account":[{"AccountId":"1"},{"AccountId":"2"}]}}`, nil},
		{"bytes kept as they came", basic, acc, `{"Data":{"Account":[ {"AccountId" : "1", "n":1.50e0} ]},"Links":{"Self":"x"},"Meta":{"TotalPages":1}}`,
			`{"Data":{"Account":[{"AccountId" : "1", "n":1.50e0}]},"Links":{"Self":"x"},"Meta":{"TotalPages":1}}`, nil},
		{"empty Data", basic, acc, `{"Data":{}}`, `{"Data":{}}`, nil},
		{"no AccountId dropped", basic, acc, `{"Data":{"Account":[{"Nickname":"x"},{"AccountId":"1"}]}}`, `{"Data":{"Account":[{"AccountId":"1"}]}}`, nil},
		{"non-string AccountId dropped", basic, acc, `{"Data":{"Account":[{"AccountId":1},{"AccountId":["1"]},{"AccountId":null}]}}`, `{"Data":{"Account":[]}}`, nil},
		{"escaped AccountId read as text", basic, acc, `{"Data":{"Account":[{"AccountId":"\u0031"},{"Account\u0049d":"3"}]}}`, `{"Data":{"Account":[{"AccountId":"\u0031"}]}}`, nil},
		{"duplicate AccountId", basic, acc, `{"Data":{"Account":[{"AccountId":"1","AccountId":"3"}]}}`, "", nil},
		{"duplicate AccountId, escaped", basic, acc, `{"Data":{"Account":[{"AccountId":"1","Account\u0049d":"3"}]}}`, "", nil},
		{"duplicate deep in an item", basic, acc, `{"Data":{"Account":[{"AccountId":"1","x":{"a":1,"a":2}}]}}`, "", nil},
		{"duplicate Data", basic, acc, `{"Data":{"Account":[]},"Data":{"Account":[{"AccountId":"3"}]}}`, "", nil},
		{"lowercase data", basic, acc, `{"data":{"Account":[{"AccountId":"3"}]}}`, "", ErrShape},
		{"no Data", basic, acc, `{"Links":{"Self":"x"}}`, "", ErrShape},
		{"unknown top member", basic, acc, `{"Data":{},"Extra":[{"AccountId":"3"}]}`, "", ErrShape},
		{"another list under Data", basic, acc, `{"Data":{"Transaction":[{"AccountId":"3"}]}}`, "", ErrShape},
		{"object under Data holding a list", basic, acc, `{"Data":{"Account":{"Account":[{"AccountId":"3"}]}}}`, "", ErrShape},
		{"list in a list", basic, acc, `{"Data":{"Account":[[{"AccountId":"3"}]]}}`, "", ErrShape},
		{"scalar item", basic, acc, `{"Data":{"Account":["3"]}}`, "", ErrShape},
		{"Data not an object", basic, acc, `{"Data":[{"AccountId":"3"}]}`, "", ErrShape},
		{"account data in Meta", basic, acc, `{"Data":{},"Meta":{"Account":[{"AccountId":"3"}]}}`, "", ErrShape},
		{"Links not strings", basic, acc, `{"Data":{},"Links":{"Self":{"AccountId":"3"}}}`, "", ErrShape},
		{"not an object", basic, acc, `[{"AccountId":"3"}]`, "", ErrShape},
		{"two bodies", basic, acc, `{"Data":{}} {"Data":{"Account":[{"AccountId":"3"}]}}`, "", nil},
		{"cut short", basic, acc, `{"Data":{"Account":[{"AccountId":"1"}`, "", nil},
		{"invalid UTF-8", basic, acc, "{\"Data\":{\"Account\":[{\"AccountId\":\"1\",\"n\":\"\xff\"}]}}", "", nil},
		{"statement file has no JSON", basic, Endpoint{Resource: StatementFile}, `{"Data":{"File":[]}}`, "", ErrShape},
		{"Detail fields hidden from Basic", basic, acc,
			`{"Data":{"Account":[{"AccountId":"1","Account":[` + pan + `],"Servicer":{},"Nickname":"a"}]}}`,
			`{"Data":{"Account":[{"AccountId":"1","Nickname":"a"}]}}`, nil},
		{"Detail field with escaped name hidden", basic, txn,
			`{"Data":{"Transaction":[{"AccountId":"1","Transaction\u0049nformation":"secret"}]}}`,
			`{"Data":{"Transaction":[{"AccountId":"1"}]}}`, nil},
		{"PAN masked", detail, acc, `{"Data":{"Account":[{"AccountId":"1","Account":[` + pan + `]}]}}`,
			`{"Data":{"Account":[{"AccountId":"1","Account":[{"SchemeName":"UK.OBIE.PAN","Identification":"************1234"}]}]}}`, nil},
		{"PAN masked in a counterparty", detail, txn,
			`{"Data":{"Transaction":[{"AccountId":"1","CreditDebitIndicator":"Debit","DebtorAccount":{"Identification":"5409050000005678","SchemeName":"UK.OBIE.PAN"},"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345"}}]}}`,
			`{"Data":{"Transaction":[{"AccountId":"1","CreditDebitIndicator":"Debit","DebtorAccount":{"Identification":"************5678","SchemeName":"UK.OBIE.PAN"},"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345"}}]}}`, nil},
		{"PAN masked, escaped scheme and odd forms", detail, acc,
			`{"Data":{"Account":[{"AccountId":"1","Account":[{"SchemeName":"UK.OBIE.\u0050AN","Identification":"5409050000001234"},{"SchemeName":7,"Identification":5409050000001234},{"SchemeName":"pan","Identification":"12"}]}]}}`,
			`{"Data":{"Account":[{"AccountId":"1","Account":[{"SchemeName":"UK.OBIE.\u0050AN","Identification":"************1234"},{"SchemeName":7,"Identification":"****"},{"SchemeName":"pan","Identification":"**"}]}]}}`, nil},
		{"PAN in an item nested too deep to walk", detail, acc,
			`{"Data":{"Account":[{"AccountId":"1","x":` + strings.Repeat("[", 40) + pan + strings.Repeat("]", 40) + `}]}}`, "", ErrShape},
		{"PAN nested as deep as the walk goes", detail, acc,
			`{"Data":{"Account":[{"AccountId":"1","x":` + strings.Repeat("[", 30) + pan + strings.Repeat("]", 30) + `}]}}`,
			`{"Data":{"Account":[{"AccountId":"1","x":` + strings.Repeat("[", 30) + `{"SchemeName":"UK.OBIE.PAN","Identification":"************1234"}` + strings.Repeat("]", 30) + `}]}}`, nil},
		{"PAN shown with ReadPAN", withPAN, acc, `{"Data":{"Account":[{"AccountId":"1","Account":[` + pan + `]}]}}`,
			`{"Data":{"Account":[{"AccountId":"1","Account":[` + pan + `]}]}}`, nil},
		{"credits only", credits, txn,
			`{"Data":{"Transaction":[{"AccountId":"1","CreditDebitIndicator":"Credit"},{"AccountId":"1","CreditDebitIndicator":"Debit"},{"AccountId":"1"},{"AccountId":"1","CreditDebitIndicator":"credit"},{"AccountId":"1","CreditDebitIndicator":null}]}}`,
			`{"Data":{"Transaction":[{"AccountId":"1","CreditDebitIndicator":"Credit"}]}}`, nil},
		{"debits only", debits, txn,
			`{"Data":{"Transaction":[{"AccountId":"1","CreditDebitIndicator":"Credit"},{"AccountId":"1","CreditDebitIndicator":"Debit"},{"AccountId":"1"}]}}`,
			`{"Data":{"Transaction":[{"AccountId":"1","CreditDebitIndicator":"Debit"}]}}`, nil},
		{"both directions", detail, txn,
			`{"Data":{"Transaction":[{"AccountId":"1","CreditDebitIndicator":"Credit"},{"AccountId":"1"}]}}`,
			`{"Data":{"Transaction":[{"AccountId":"1","CreditDebitIndicator":"Credit"},{"AccountId":"1"}]}}`, nil},
		{"window", windowed, txn,
			`{"Data":{"Transaction":[{"AccountId":"1","BookingDateTime":"2026-10-05T00:00:00+00:00"},{"AccountId":"1","BookingDateTime":"2026-11-05T00:00:00+00:00"},` +
				`{"AccountId":"1"},{"AccountId":"1","BookingDateTime":null},{"AccountId":"1","BookingDateTime":"5 Oct 2026"},{"AccountId":"1","BookingDateTime":20261005}]}}`,
			`{"Data":{"Transaction":[{"AccountId":"1","BookingDateTime":"2026-10-05T00:00:00+00:00"}]}}`, nil},
		{"no window, undated kept", detail, txn, `{"Data":{"Transaction":[{"AccountId":"1"}]}}`, `{"Data":{"Transaction":[{"AccountId":"1"}]}}`, nil},
		{"party object", basic, Endpoint{Resource: PartyPSU}, `{"Data":{"Party":{"PartyId":"p","Name":"A"}}}`, `{"Data":{"Party":{"PartyId":"p","Name":"A"}}}`, nil},
		{"party list", basic, Endpoint{Resource: Parties, AccountID: "1", List: true}, `{"Data":{"Party":[{"PartyId":"p"},{"PartyId":"q","AccountId":"3"}]}}`,
			`{"Data":{"Party":[{"PartyId":"p"}]}}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.c.Filter([]byte(tc.in), tc.ep)
			var streamed bytes.Buffer
			serr := tc.c.FilterStream(&streamed, strings.NewReader(tc.in), tc.ep, Limits{})
			if (err == nil) != (serr == nil) || err == nil && !bytes.Equal(out, streamed.Bytes()) {
				t.Fatalf("in memory %v %s\nstreamed  %v %s", err, out, serr, streamed.Bytes())
			}
			switch {
			case tc.out == "" && err == nil:
				t.Fatalf("passed: %s", out)
			case tc.out == "" && tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("error %v, want %v", err, tc.err)
			case tc.out != "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.out != "" && string(out) != tc.out:
				t.Fatalf("got  %s\nwant %s", out, tc.out)
			}
		})
	}
}

// TestFilterCaps: a value or an answer over its cap is refused, whatever its shape —
// one long string, a long Meta, deep whitespace — and one just under passes.
func TestFilterCaps(t *testing.T) {
	t.Parallel()
	c := &Consent{Permissions: []Permission{ReadAccountsDetail}, AccountIDs: []string{"1"}}
	ep := Endpoint{Resource: Accounts, List: true}
	lim := Limits{MaxValue: 1000, MaxBody: 5000}
	item := func(n int) string { return `{"AccountId":"1","x":"` + strings.Repeat("a", n) + `"}` }
	for _, tc := range []struct {
		name string
		in   string
		err  error
	}{
		{"item under the cap", `{"Data":{"Account":[` + item(900) + `]}}`, nil},
		{"item over the cap", `{"Data":{"Account":[` + item(1000) + `]}}`, ErrValueTooLarge},
		{"dropped item over the cap", `{"Data":{"Account":[{"AccountId":"3","x":"` + strings.Repeat("a", 2000) + `"}]}}`, ErrValueTooLarge},
		{"Meta over the cap", `{"Data":{},"Meta":{"TotalPages":1` + strings.Repeat(" ", 2000) + `}}`, ErrValueTooLarge},
		{"a name over the cap", `{"Data":{"` + strings.Repeat("A", 2000) + `":[]}}`, ErrValueTooLarge},
		{"whitespace over the cap", `{"Data":` + strings.Repeat(" ", 2000) + `{}}`, ErrValueTooLarge},
		{"answer over the cap", `{"Data":{"Account":[` + strings.Repeat(item(500)+",", 9) + item(500) + `]}}`, ErrBodyTooLarge},
		{"answer of dropped items over the cap", `{"Data":{"Account":[` + strings.Repeat(`{"AccountId":"3"},`, 300) + `{"AccountId":"3"}]}}`, ErrBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			err := c.FilterStream(&out, strings.NewReader(tc.in), ep, lim)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			_, err = c.AppendFilter(nil, []byte(tc.in), ep, lim)
			if !errors.Is(err, tc.err) {
				t.Fatalf("in memory: error %v, want %v", err, tc.err)
			}
		})
	}
}

func TestFilterRefusesNonJSON(t *testing.T) {
	t.Parallel()
	c := &Consent{}
	if _, err := c.Filter([]byte("<html>"), Endpoint{Resource: Accounts}); err == nil {
		t.Fatal("non-JSON body filtered")
	}
}

// TestFilterCapsInMemory: in memory, the caps hold at their edge, as the stream's reader
// holds them: a value of MaxValue bytes passes, one more is refused, wherever it is.
func TestFilterCapsInMemory(t *testing.T) {
	t.Parallel()
	c := &Consent{Permissions: []Permission{ReadAccountsDetail}, AccountIDs: []string{"1"}}
	ep := Endpoint{Resource: Accounts, List: true}
	const maxValue = 100
	pad := func(n int) string { return strings.Repeat(" ", n) }
	// item is an item of exactly n bytes, with the comma before it.
	item := func(n int) string {
		return `,{"AccountId":"1","x":"` + strings.Repeat("a", n-len(`,{"AccountId":"1","x":""}`)) + `"}`
	}
	for _, tc := range []struct {
		name string
		in   string
		err  error
	}{
		{"item at the cap", `{"Data":{"Account":[{}` + item(maxValue) + `]}}`, nil},
		{"item over the cap", `{"Data":{"Account":[{}` + item(maxValue+1) + `]}}`, ErrValueTooLarge},
		// The window after a name holds its colon, the whitespace and the '{'.
		{"whitespace at the cap", `{"Data":` + pad(maxValue-2) + `{}}`, nil},
		{"whitespace over the cap", `{"Data":` + pad(maxValue-1) + `{}}`, ErrValueTooLarge},
		{"trailing whitespace at the cap", `{"Data":{}}` + pad(maxValue), nil},
		{"trailing whitespace over the cap", `{"Data":{}}` + pad(maxValue+1), ErrValueTooLarge},
		{"answer at the cap", `{"Data":{}}` + pad(989), nil},
		{"answer over the cap", `{"Data":{"Account":[` + strings.Repeat(`{},`, 400) + `{}]}}`, ErrBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := Limits{MaxValue: maxValue, MaxBody: 1000}
			if tc.name == "answer at the cap" {
				lim.MaxValue = 1000
			}
			_, err := c.AppendFilter(nil, []byte(tc.in), ep, lim)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			// The stream refuses what is over (and may refuse at the edge, reading ahead).
			if serr := c.FilterStream(io.Discard, strings.NewReader(tc.in), ep, lim); tc.err != nil && !errors.Is(serr, tc.err) {
				t.Fatalf("streamed: error %v, want %v", serr, tc.err)
			}
		})
	}
}

// TestAppendFilter: what is kept is appended to dst; on a refusal dst comes back as it was,
// and a result stays the caller's while the filter goes on with other answers.
func TestAppendFilter(t *testing.T) {
	t.Parallel()
	c := &Consent{Permissions: []Permission{ReadAccountsBasic}, AccountIDs: []string{"1"}}
	ep := Endpoint{Resource: Accounts, List: true}
	out, err := c.AppendFilter([]byte("prefix:"), []byte(`{"Data":{"Account":[{"AccountId":"1"},{"AccountId":"2"}]}}`), ep, Limits{})
	if want := `prefix:{"Data":{"Account":[{"AccountId":"1"}]}}`; err != nil || string(out) != want {
		t.Fatalf("got %s, %v; want %s", out, err, want)
	}
	kept := string(out)
	dst := make([]byte, 3, 64)
	copy(dst, "abc")
	for i := range 50 {
		bad, err := c.AppendFilter(dst, []byte(`{"Data":{"Account":[{"AccountId":"1","AccountId":"2"}]}}`), ep, Limits{})
		if err == nil || string(bad) != "abc" {
			t.Fatalf("duplicate name: %s, %v", bad, err)
		}
		other, err := c.AppendFilter(nil, []byte(`{"Data":{"Account":[{"AccountId":"1","Nickname":"`+strconv.Itoa(i)+`"}]}}`), ep, Limits{})
		if err != nil || !strings.Contains(string(other), `"Nickname":"`+strconv.Itoa(i)+`"`) {
			t.Fatalf("got %s, %v", other, err)
		}
	}
	if string(out) != kept {
		t.Fatalf("the result changed under the caller: %s", out)
	}
}

// TestFilterSmallAnswerAllocations: the gate filters every small answer in memory; it
// allocates nothing into a buffer with room, and only its result for Filter.
func TestFilterSmallAnswerAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled filters at random")
	}
	c := &Consent{Status: Authorised, Permissions: []Permission{ReadBalances}, AccountIDs: []string{"22289"}}
	body := []byte(`{"Data":{"Balance":[{"AccountId":"22289","Amount":{"Amount":"1230.00","Currency":"GBP"},"CreditDebitIndicator":"Credit","Type":"InterimAvailable","DateTime":"2026-11-20T10:00:00+00:00"}]},"Links":{"Self":"/accounts/22289/balances"},"Meta":{"TotalPages":1}}`)
	ep := Endpoint{Resource: Balances, AccountID: "22289"}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(200, func() {
		if out, err := c.AppendFilter(buf[:0], body, ep, Limits{}); err != nil || len(out) != len(body) {
			t.Fatalf("%s, %v", out, err)
		}
	}); n != 0 {
		t.Errorf("AppendFilter allocates %v times", n)
	}
	if n := testing.AllocsPerRun(200, func() { c.Filter(body, ep) }); n > 1 {
		t.Errorf("Filter allocates %v times", n)
	}
}

// TestIsPANScheme: the ASCII shortcut says what TrimSpace and ToUpper say.
func TestIsPANScheme(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"UK.OBIE.PAN", "uk.obie.pan", "PAN", "pan", " Pan \t", "\vPAN\f\r\n", "PAN\u00a0", "\u0085pan",
		"PA", "AN", "", " ", "xPANx", "PAN.x", "ｐａｎ", "PAN\u2003", "UK.OBIE.SortCodeAccountNumber", "P\x00N", "p@n", "PaN "} {
		want := strings.HasSuffix(strings.ToUpper(strings.TrimSpace(s)), "PAN")
		if got := isPANScheme([]byte(s)); got != want {
			t.Errorf("isPANScheme(%q) = %v, want %v", s, got, want)
		}
	}
}
