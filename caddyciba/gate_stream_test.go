package caddyciba

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
)

// bigTransactions writes n transactions of accounts 22289 and 31820 in turn, as a UK OB
// v3.1 body of unknown length, flushing halfway and then waiting for the go-ahead.
func bigTransactions(w http.ResponseWriter, n int, halfway func()) {
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriter(w)
	bw.WriteString(`{"Data":{"Transaction":[`)
	for i := range n {
		if i > 0 {
			bw.WriteByte(',')
		}
		account := []string{"22289", "31820"}[i%2]
		fmt.Fprintf(bw, `{"AccountId":"%s","TransactionId":"t-%d","BookingDateTime":"2026-11-01T10:00:00+00:00",`+
			`"Amount":{"Amount":"%d.00","Currency":"GBP"},"CreditDebitIndicator":"Debit","Status":"Booked",`+
			`"TransactionInformation":"card payment %d, a description long enough to make the body large"}`, account, i, i, i)
		if i == n/2 {
			bw.Flush()
			w.(http.Flusher).Flush()
			halfway()
		}
	}
	bw.WriteString(`]},"Links":{"Self":"/transactions"},"Meta":{"TotalPages":1}}`)
	bw.Flush()
}

// TestGateStreamsLargeBodies: a body of unknown length is filtered as it streams — the
// first half reaches the TPP, filtered, before the upstream sends the second — and whole
// it holds exactly the consented account's transactions without the Detail fields. A body
// that breaks mid-stream is cut short, never passed unfiltered.
func TestGateStreamsLargeBodies(t *testing.T) {
	const n = 40000
	firstBytes := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/accounts/22289/transactions") {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"Data":{"Transaction":[{"AccountId":"22289"},{"AccountId":"31820","TransactionId":"secret"},`+strings.Repeat(" ", 64<<10)+`!!`)
			return
		}
		bigTransactions(w, n, func() {
			select {
			case <-firstBytes:
			case <-time.After(20 * time.Second):
			}
		})
	}))
	t.Cleanup(up.Close)
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI,
		"reverse_proxy "+strings.TrimPrefix(up.URL, "http://"), -1))
	_, tok := authorisedConsent(t, `"ReadAccountsBasic","ReadTransactionsBasic","ReadTransactionsDebits"`, "22289")

	req, _ := http.NewRequest(http.MethodGet, httpBase+consent.APIPrefix+"/transactions", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 4096)
	start := time.Now()
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatal("the first bytes came only after the upstream finished: the gate buffered the body")
	}
	close(firstBytes)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Data struct{ Transaction []map[string]any }
		Meta map[string]any
	}
	if err := json.Unmarshal(append(head, rest...), &body); err != nil {
		t.Fatalf("filtered body: %v", err)
	}
	if len(body.Data.Transaction) != n/2 || body.Meta == nil || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("%d transactions, meta %v, Content-Length %q", len(body.Data.Transaction), body.Meta, resp.Header.Get("Content-Length"))
	}
	for _, tx := range body.Data.Transaction {
		if tx["AccountId"] != "22289" || tx["TransactionInformation"] != nil {
			t.Fatalf("transaction passed the filter: %v", tx)
		}
	}

	broken, _ := http.NewRequest(http.MethodGet, httpBase+consent.APIPrefix+"/accounts/22289/transactions", nil)
	broken.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := client(nil).Do(broken); err == nil {
		got, readErr := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Broken before anything was kept: the gate's clean 502; after: a broken transfer.
		refused := resp.StatusCode == http.StatusBadGateway && readErr == nil
		if !refused && readErr == nil || strings.Contains(string(got), "secret") {
			t.Fatalf("a broken body ended cleanly or leaked: %d %v %q", resp.StatusCode, readErr, got)
		}
	}
}
