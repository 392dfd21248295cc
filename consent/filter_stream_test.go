package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// streamConsents are consents that exercise every rule of the filter.
func streamConsents() []*Consent {
	from, to := window("2026-10-15T00:00:00Z", "2026-11-30T00:00:00Z")
	return []*Consent{
		{Status: Authorised, Permissions: []Permission{ReadAccountsBasic, ReadBalances, ReadTransactionsBasic, ReadTransactionsCredits}, AccountIDs: []string{"22289"}},
		{Status: Authorised, Permissions: AllPermissions, AccountIDs: []string{"22289", "31820"}},
		{Status: Authorised, Permissions: []Permission{ReadAccountsDetail, ReadTransactionsDetail, ReadTransactionsDebits}, AccountIDs: []string{"31820"},
			TransactionFrom: from, TransactionTo: to},
	}
}

var streamEndpoints = []Endpoint{{Resource: Accounts, List: true}, {Resource: Transactions, List: true}, {Resource: Balances, List: true}, {Resource: Parties, AccountID: "22289", List: true}}

// reference is the filter written the simple way, independently of the stream: decode
// whole with encoding/json, apply the rules to the tree. ok is false for a refusal.
func reference(c *Consent, body []byte, ep Endpoint) (out any, ok bool) {
	if duplicateNames(body) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var top map[string]any
	if dec.Decode(&top) != nil || dec.More() {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	data, isObject := top["Data"].(map[string]any)
	if !isObject {
		return nil, false
	}
	for name, v := range top {
		allowed := map[string]map[string]string{"Links": {"Self": "s", "First": "s", "Prev": "s", "Next": "s", "Last": "s"},
			"Meta": {"TotalPages": "n", "FirstAvailableDateTime": "s", "LastAvailableDateTime": "s"}}[name]
		if name == "Data" {
			continue
		}
		m, isObject := v.(map[string]any)
		if allowed == nil || !isObject {
			return nil, false
		}
		for k, x := range m {
			_, isString := x.(string)
			_, isNumber := x.(json.Number)
			if kind := allowed[k]; kind == "" || kind == "s" && !isString || kind == "n" && !isNumber {
				return nil, false
			}
		}
	}
	list := listMembers[ep.Resource]
	for name, v := range data {
		if name != list {
			return nil, false
		}
		if one, isObject := v.(map[string]any); isObject && list == "Party" {
			if !refKeeps(c, one, ep) {
				one = map[string]any{}
			}
			data[name] = refMask(c, one, ep)
			continue
		}
		arr, isList := v.([]any)
		if !isList {
			return nil, false
		}
		kept := []any{}
		for _, x := range arr {
			item, isObject := x.(map[string]any)
			if !isObject {
				return nil, false
			}
			if refKeeps(c, item, ep) {
				kept = append(kept, refMask(c, item, ep))
			}
		}
		data[name] = kept
	}
	return top, true
}

func refKeeps(c *Consent, item map[string]any, ep Endpoint) bool {
	id, has := item["AccountId"]
	if s, isString := id.(string); has && (!isString || !c.HasAccount(s)) {
		return false
	}
	if !has && ep.Resource != Parties && ep.Resource != PartyPSU {
		return false
	}
	own, _ := id.(string)
	for _, v := range item {
		if !refNestsOnly(v, own, has) {
			return false
		}
	}
	if ep.Resource != Transactions {
		return true
	}
	cdi, _ := item["CreditDebitIndicator"].(string)
	credits, debits := c.Has(ReadTransactionsCredits), c.Has(ReadTransactionsDebits)
	if !(credits && debits) && !(cdi == "Credit" && credits) && !(cdi == "Debit" && debits) {
		return false
	}
	if c.TransactionFrom != nil || c.TransactionTo != nil {
		s, _ := item["BookingDateTime"].(string)
		at, err := time.Parse(time.RFC3339, s)
		if err != nil || c.TransactionFrom != nil && at.Before(c.TransactionFrom.Time) || c.TransactionTo != nil && at.After(c.TransactionTo.Time) {
			return false
		}
	}
	return true
}

// refNestsOnly: every AccountId nested in v is the item's own.
func refNestsOnly(v any, own string, has bool) bool {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			if !refNestsOnly(x, own, has) {
				return false
			}
		}
	case map[string]any:
		if id, ok := v["AccountId"]; ok {
			if s, isString := id.(string); !has || !isString || s != own {
				return false
			}
		}
		for _, x := range v {
			if !refNestsOnly(x, own, has) {
				return false
			}
		}
	}
	return true
}

func refMask(c *Consent, item map[string]any, ep Endpoint) map[string]any {
	for _, h := range c.HiddenFields(ep.Resource) {
		delete(item, h)
	}
	if !c.Has(ReadPAN) {
		refMaskPAN(item)
	}
	return item
}

func refMaskPAN(v any) {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			refMaskPAN(x)
		}
	case map[string]any:
		for _, x := range v {
			refMaskPAN(x)
		}
		scheme, hasScheme := v["SchemeName"]
		id, hasID := v["Identification"]
		s, isString := scheme.(string)
		if !hasScheme || !hasID || isString && !strings.HasSuffix(strings.ToUpper(strings.TrimSpace(s)), "PAN") {
			return
		}
		text, isString := id.(string)
		if !isString {
			v["Identification"] = "****"
			return
		}
		r := []rune(text)
		if len(r) < 8 {
			v["Identification"] = strings.Repeat("*", len(r))
		} else {
			v["Identification"] = strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
		}
	}
}

// duplicateNames tells whether an object of body names a member twice, by encoding/json's
// tokens (which unescape names); a body it cannot read counts as having them.
func duplicateNames(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		names  map[string]bool
		object bool
		key    bool // the next string is a name
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if s, isString := tok.(string); isString && top != nil && top.object && top.key {
			if top.names[s] {
				return true
			}
			top.names[s], top.key = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{names: map[string]bool{}, object: true, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

// checkFiltered holds the stream to the reference on one body, and checks the output's
// invariants directly: no other account, no Detail field on Basic, no PAN in clear.
func checkFiltered(t *testing.T, c *Consent, body []byte, ep Endpoint) {
	t.Helper()
	var got bytes.Buffer
	err := c.FilterStream(&got, bytes.NewReader(body), ep, Limits{})
	// The body in memory, read in place by a recycled filter, gives the same.
	mem, merr := c.AppendFilter([]byte("x"), body, ep, Limits{})
	if (err == nil) != (merr == nil) || err == nil && !bytes.Equal(mem[1:], got.Bytes()) || merr != nil && string(mem) != "x" {
		t.Fatalf("%v %v on %q:\nstream    %v %s\nin memory %v %s", c.Permissions, ep, body, err, got.Bytes(), merr, mem)
	}
	if err != nil {
		return // refused: nothing shown
	}
	want, ok := reference(c, body, ep)
	if !ok {
		t.Fatalf("%v %v: the stream passed what the reference refuses: %q\n-> %s", c.Permissions, ep, body, got.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(got.Bytes()))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not JSON: %v: %s", err, got.Bytes())
	}
	if !reflect.DeepEqual(want, out) {
		t.Fatalf("%v %v on %q:\nreference %v\nstream    %v", c.Permissions, ep, body, want, out)
	}
	list, _ := out.(map[string]any)["Data"].(map[string]any)[listMembers[ep.Resource]].([]any)
	for _, x := range list {
		item := x.(map[string]any)
		if id, has := item["AccountId"]; has && !c.HasAccount(id.(string)) {
			t.Fatalf("another account shown: %v", item)
		}
		for _, h := range c.HiddenFields(ep.Resource) {
			if _, has := item[h]; has {
				t.Fatalf("Detail field %s shown: %v", h, item)
			}
		}
	}
	if !c.Has(ReadPAN) && clearPAN(out) {
		t.Fatalf("PAN in clear: %s", got.Bytes())
	}
}

// clearPAN tells whether v holds the Identification of a PAN (or of an unnamed scheme)
// with more than its last four characters showing.
func clearPAN(v any) bool {
	switch v := v.(type) {
	case []any:
		return slices.ContainsFunc(v, clearPAN)
	case map[string]any:
		for _, x := range v {
			if clearPAN(x) {
				return true
			}
		}
		scheme, hasScheme := v["SchemeName"]
		id, hasID := v["Identification"]
		s, isString := scheme.(string)
		if !hasScheme || !hasID || isString && !strings.HasSuffix(strings.ToUpper(strings.TrimSpace(s)), "PAN") {
			return false
		}
		text, isString := id.(string)
		r := []rune(text)
		return !isString || strings.Trim(string(r[:max(len(r)-4, 0)]), "*") != ""
	}
	return false
}

// TestFilterMatchesReference: on every demo bank body and the attack shapes, for every
// consent and endpoint, the stream gives what the reference gives or refuses.
func TestFilterMatchesReference(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir("testdata/fuzz/FuzzFilterStream")
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, name := range []string{"accounts.json", "transactions.json", "balances.json", "accounts/22289.json", "accounts/31820/transactions.json"} {
		bodies = append(bodies, readExample(t, name))
	}
	for _, e := range entries {
		b, err := os.ReadFile("testdata/fuzz/FuzzFilterStream/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if _, err := fmtSscanCorpus(b, &s); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		bodies = append(bodies, []byte(s))
	}
	passed := 0
	for _, body := range bodies {
		for _, c := range streamConsents() {
			for _, ep := range streamEndpoints {
				checkFiltered(t, c, body, ep)
				if c.FilterStream(io.Discard, bytes.NewReader(body), ep, Limits{}) == nil {
					passed++
				}
			}
		}
	}
	if passed < 20 {
		t.Fatalf("only %d answers passed: the comparison proves little", passed)
	}
}

// fmtSscanCorpus reads the []byte of a "go test fuzz v1" corpus file.
func fmtSscanCorpus(b []byte, s *string) (int, error) {
	_, rest, ok := bytes.Cut(b, []byte("\n"))
	rest = bytes.TrimSpace(rest)
	if !ok || !bytes.HasPrefix(rest, []byte("[]byte(")) || !bytes.HasSuffix(rest, []byte(")")) {
		return 0, errors.New("not a []byte corpus entry")
	}
	var err error
	*s, err = strconv.Unquote(string(rest[len("[]byte(") : len(rest)-1]))
	return 1, err
}

// TestFilterChunking: read a byte at a time (as a slow bank sends it) the answer is the
// one read whole.
func TestFilterChunking(t *testing.T) {
	t.Parallel()
	body := readExample(t, "transactions.json")
	for _, c := range streamConsents() {
		whole, err := c.Filter(body, Endpoint{Resource: Transactions, List: true})
		if err != nil {
			t.Fatal(err)
		}
		var bytewise bytes.Buffer
		if err := c.FilterStream(&bytewise, iotest.OneByteReader(bytes.NewReader(body)), Endpoint{Resource: Transactions, List: true}, Limits{MaxValue: 2048}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(whole, bytewise.Bytes()) {
			t.Fatalf("whole %s\nbytewise %s", whole, bytewise.Bytes())
		}
	}
}

// flushRecorder records when each write and flush came.
type flushRecorder struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	flushed chan string
}

func (r *flushRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *flushRecorder) Flush() {
	r.mu.Lock()
	s := r.buf.String()
	r.mu.Unlock()
	select {
	case r.flushed <- s:
	default:
	}
}

// TestFilterStreamFlushesOnTime: a kept item reaches dst within 100 ms although the bank
// sends nothing more, and a body that then breaks never gets its closing brace.
func TestFilterStreamFlushesOnTime(t *testing.T) {
	c := streamConsents()[1]
	pr, pw := io.Pipe()
	rec := &flushRecorder{flushed: make(chan string, 16)}
	done := make(chan error, 1)
	go func() { done <- c.FilterStream(rec, pr, Endpoint{Resource: Accounts, List: true}, Limits{}) }()
	sent := time.Now()
	io.WriteString(pw, `{"Data":{"Account":[{"AccountId":"22289","Nickname":"kept"},`)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-rec.flushed:
			if !strings.Contains(s, "kept") {
				continue
			}
			if d := time.Since(sent); d > 100*time.Millisecond {
				t.Fatalf("kept item flushed after %v", d)
			}
		case <-deadline:
			t.Fatal("kept item never flushed")
		}
		break
	}
	pw.CloseWithError(errors.New("bank went away"))
	if err := <-done; err == nil {
		t.Fatal("a broken body passed")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if json.Valid(rec.buf.Bytes()) {
		t.Fatalf("a broken body looks complete: %s", rec.buf.Bytes())
	}
}

// FuzzFilterStream: any body is refused or filtered as the reference filters it, without
// a panic, never showing another account, a Detail field on Basic or a PAN in clear.
func FuzzFilterStream(f *testing.F) {
	f.Add([]byte(`{"Data":{"Account":[{"AccountId":"22289","Account":[{"Identification":"x"}]},{"AccountId":"1"}]},"Links":{}}`))
	f.Add([]byte(`{"Data":{"Transaction":[{"AccountId":"22289","BookingDateTime":"2026-11-01T00:00:00Z","CreditDebitIndicator":"Credit"},{"AccountId":"22289","BookingDateTime":"bad"}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range streamConsents() {
			for _, ep := range streamEndpoints {
				checkFiltered(t, c, body, ep)
			}
		}
	})
}

// FuzzFilterFastPath: the gate's two paths, a buffered body and a stream that comes a
// byte at a time under tight caps, agree: same output or both refuse (the caps aside).
func FuzzFilterFastPath(f *testing.F) {
	f.Add([]byte(`{"Data":{"Account":[{"AccountId":"22289"},{"AccountId":"22289","AccountId":"99999"}]}}`))
	f.Add([]byte(`{"Data":{"Balance":[{"AccountId":"22289","Amount":{"Amount":"1.00"}},"x",3]},"Links":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range streamConsents() {
			for _, ep := range streamEndpoints {
				whole, err := c.Filter(body, ep)
				var slow bytes.Buffer
				serr := c.FilterStream(&slow, iotest.OneByteReader(bytes.NewReader(body)), ep, Limits{MaxValue: 256, MaxBody: 4096})
				if errors.Is(serr, ErrValueTooLarge) || errors.Is(serr, ErrBodyTooLarge) {
					continue
				}
				if (err == nil) != (serr == nil) || err == nil && !bytes.Equal(whole, slow.Bytes()) {
					t.Fatalf("on %q:\nwhole %v %s\nslow  %v %s", body, err, whole, serr, slow.Bytes())
				}
			}
		}
	})
}

// TestFilterConcurrent: filters recycled between goroutines give each answer what it gives
// alone, in memory and streamed (run with -race).
func TestFilterConcurrent(t *testing.T) {
	t.Parallel()
	type job struct {
		c    *Consent
		ep   Endpoint
		body []byte
		want string
	}
	var jobs []job
	for _, name := range []string{"accounts.json", "transactions.json", "balances.json"} {
		body := readExample(t, name)
		for _, c := range streamConsents() {
			for _, ep := range streamEndpoints {
				out, err := c.Filter(body, ep)
				if err == nil {
					jobs = append(jobs, job{c, ep, body, string(out)})
				}
			}
		}
	}
	if len(jobs) < 6 {
		t.Fatalf("only %d answers pass", len(jobs))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				j := jobs[(g*7+i)%len(jobs)]
				var got []byte
				if i%2 == 0 {
					got, _ = j.c.AppendFilter(nil, j.body, j.ep, Limits{})
				} else {
					var b bytes.Buffer
					j.c.FilterStream(&b, bytes.NewReader(j.body), j.ep, Limits{})
					got = b.Bytes()
				}
				if string(got) != j.want {
					errs <- fmt.Sprintf("%v %v: got %s\nwant %s", j.c.Permissions, j.ep, got, j.want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
