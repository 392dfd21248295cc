package consent

import (
	"encoding/json"
	"os"
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

func TestFilterAccounts(t *testing.T) {
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
	body := readExample(t, "transactions.json")
	from := time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	c := &Consent{Status: Authorised, AccountIDs: []string{"22289"},
		Permissions:     []Permission{ReadAccountsBasic, ReadTransactionsBasic, ReadTransactionsCredits, ReadTransactionsDebits},
		TransactionFrom: &Date{Raw: from.Format(TimeLayout), Time: from}, TransactionTo: &Date{Raw: to.Format(TimeLayout), Time: to}}
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

func TestFilterRefusesNonJSON(t *testing.T) {
	c := &Consent{}
	if _, err := c.Filter([]byte("<html>"), Endpoint{Resource: Accounts}); err == nil {
		t.Fatal("non-JSON body filtered")
	}
}
