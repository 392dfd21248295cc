package consent

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// largeTransactions is a UK OB transactions answer of n items over 100 accounts, so a
// consent of one account keeps 1 % of it.
func largeTransactions(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"Data":{"Transaction":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"AccountId":"%d","TransactionId":"t-%d","BookingDateTime":"2026-11-01T10:00:00+00:00",`+
			`"Amount":{"Amount":"%d.00","Currency":"GBP"},"CreditDebitIndicator":"Debit","Status":"Booked",`+
			`"TransactionInformation":"card payment %d, a description long enough to be typical",`+
			`"DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345"}}`, 10000+i%100, i, i, i)
	}
	b.WriteString(`]},"Links":{"Self":"https://bank.example/transactions"},"Meta":{"TotalPages":1}}`)
	return b.Bytes()
}

func benchConsents() map[string]*Consent {
	all := make([]string, 100)
	for i := range all {
		all[i] = fmt.Sprint(10000 + i)
	}
	return map[string]*Consent{
		"one-account-basic": {Status: Authorised, AccountIDs: []string{"10007"},
			Permissions: []Permission{ReadAccountsBasic, ReadTransactionsBasic, ReadTransactionsDebits}},
		"all-accounts-detail": {Status: Authorised, AccountIDs: all,
			Permissions: []Permission{ReadAccountsDetail, ReadTransactionsDetail, ReadTransactionsDebits, ReadTransactionsCredits, ReadPAN}},
	}
}

// BenchmarkFilter measures the filter on a large list answer (about 4 MB).
func BenchmarkFilter(b *testing.B) {
	body := largeTransactions(10000)
	ep := Endpoint{Resource: Transactions, List: true}
	for name, c := range benchConsents() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Filter(body, ep); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/stream", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.FilterStream(io.Discard, bytes.NewReader(body), ep, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
