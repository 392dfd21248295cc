package consent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestParseRequestAccepts(t *testing.T) {
	t.Parallel()
	req, err := ParseRequest([]byte(`{
		"Data": {
			"Permissions": ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsBasic", "ReadTransactionsCredits"],
			"ExpirationDateTime": "2027-05-02T00:00:00+00:00",
			"TransactionFromDateTime": "2026-01-01T00:00:00+01:00",
			"TransactionToDateTime": "2026-12-31T23:59:59.999Z"
		},
		"Risk": {}
	}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Permissions) != 4 || req.Expiration.Raw != "2027-05-02T00:00:00+00:00" ||
		!req.TransactionFrom.Time.Equal(time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC)) || req.TransactionTo == nil {
		t.Fatalf("parsed %+v", req)
	}
	minimal, err := ParseRequest([]byte(`{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`), now)
	if err != nil || minimal.Expiration != nil {
		t.Fatalf("minimal request: %+v %v", minimal, err)
	}
}

// TestParseRequestRules has a case for each validation rule; each names the error code and
// path the TPP gets.
func TestParseRequestRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		code, path string
	}{
		{"not JSON", `{"Data":`, obie.CodeInvalidFormat, ""},
		{"array body", `[]`, obie.CodeInvalidFormat, ""},
		{"trailing data", `{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}} {}`, obie.CodeInvalidFormat, ""},
		{"no Data", `{"Risk":{}}`, obie.CodeFieldMissing, "Data"},
		{"no Risk", `{"Data":{"Permissions":["ReadAccountsBasic"]}}`, obie.CodeFieldMissing, "Risk"},
		{"Data not an object", `{"Data":[],"Risk":{}}`, obie.CodeFieldInvalid, "Data"},
		{"Data null", `{"Data":null,"Risk":{}}`, obie.CodeFieldInvalid, "Data"},
		{"lower-case field", `{"data":{"Permissions":["ReadAccountsBasic"]},"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`, obie.CodeFieldUnexpected, "data"},
		{"unknown Data field", `{"Data":{"Permissions":["ReadAccountsBasic"],"AccountIds":["1"]},"Risk":{}}`, obie.CodeFieldUnexpected, "Data.AccountIds"},
		{"Risk with members", `{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{"Merchant":"x"}}`, obie.CodeFieldUnexpected, "Risk.Merchant"},
		{"no Permissions", `{"Data":{},"Risk":{}}`, obie.CodeFieldMissing, "Data.Permissions"},
		{"empty Permissions", `{"Data":{"Permissions":[]},"Risk":{}}`, obie.CodeFieldInvalid, "Data.Permissions"},
		{"Permissions not an array", `{"Data":{"Permissions":"ReadAccountsBasic"},"Risk":{}}`, obie.CodeFieldInvalid, "Data.Permissions"},
		{"unknown code", `{"Data":{"Permissions":["ReadAccountsBasic","ReadEverything"]},"Risk":{}}`, obie.CodeFieldInvalid, "Data.Permissions"},
		{"code listed twice", `{"Data":{"Permissions":["ReadAccountsBasic","ReadAccountsBasic"]},"Risk":{}}`, obie.CodeFieldInvalid, "Data.Permissions"},
		{"no accounts permission", `{"Data":{"Permissions":["ReadBalances"]},"Risk":{}}`, obie.CodeFieldInvalid, "Data.Permissions"},
		{"transactions basic without direction", `{"Data":{"Permissions":["ReadAccountsBasic","ReadTransactionsBasic"]},"Risk":{}}`, obie.CodeFieldInvalid, "Data.Permissions"},
		{"transactions detail without direction", `{"Data":{"Permissions":["ReadAccountsBasic","ReadTransactionsDetail"]},"Risk":{}}`, obie.CodeFieldInvalid, "Data.Permissions"},
		{"credits without listing", `{"Data":{"Permissions":["ReadAccountsBasic","ReadTransactionsCredits"]},"Risk":{}}`, obie.CodeFieldInvalid, "Data.Permissions"},
		{"debits without listing", `{"Data":{"Permissions":["ReadAccountsBasic","ReadTransactionsDebits"]},"Risk":{}}`, obie.CodeFieldInvalid, "Data.Permissions"},
		{"expiration not a date", `{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"next year"},"Risk":{}}`, obie.CodeFieldInvalid, "Data.ExpirationDateTime"},
		{"expiration without zone", `{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"2027-01-01T00:00:00"},"Risk":{}}`, obie.CodeFieldInvalid, "Data.ExpirationDateTime"},
		{"expiration a number", `{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":1800000000},"Risk":{}}`, obie.CodeFieldInvalid, "Data.ExpirationDateTime"},
		{"expiration in the past", `{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"2026-11-24T11:59:59+00:00"},"Risk":{}}`, obie.CodeFieldInvalidDate, "Data.ExpirationDateTime"},
		{"expiration now", `{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"2026-11-24T12:00:00Z"},"Risk":{}}`, obie.CodeFieldInvalidDate, "Data.ExpirationDateTime"},
		{"from not a date", `{"Data":{"Permissions":["ReadAccountsBasic"],"TransactionFromDateTime":"2026-13-01T00:00:00Z"},"Risk":{}}`, obie.CodeFieldInvalid, "Data.TransactionFromDateTime"},
		{"to not a date", `{"Data":{"Permissions":["ReadAccountsBasic"],"TransactionToDateTime":""},"Risk":{}}`, obie.CodeFieldInvalid, "Data.TransactionToDateTime"},
		{"to before from", `{"Data":{"Permissions":["ReadAccountsBasic"],"TransactionFromDateTime":"2026-06-01T00:00:00Z","TransactionToDateTime":"2026-05-01T00:00:00Z"},"Risk":{}}`, obie.CodeFieldInvalidDate, "Data.TransactionToDateTime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(tc.body), now)
			inv, ok := err.(*InvalidError)
			if !ok {
				t.Fatalf("error = %v, want an InvalidError", err)
			}
			for _, p := range inv.Problems {
				if p.Code == tc.code && p.Path == tc.path && p.Message != "" {
					return
				}
			}
			t.Fatalf("problems %+v, want %s at %q", inv.Problems, tc.code, tc.path)
		})
	}
}

func TestParseRequestReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := ParseRequest([]byte(`{"Data":{"Permissions":["ReadBalances","Nope"],"ExpirationDateTime":"x"},"Risk":{},"Extra":1}`), now)
	if n := len(err.(*InvalidError).Problems); n != 4 {
		t.Fatalf("%d problems (%v), want 4", n, err)
	}
}

// FuzzParseRequest: no input panics; an accepted request satisfies every rule.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"Data":{"Permissions":["ReadAccountsDetail","ReadBalances"]},"Risk":{}}`,
		`{"Data":{"Permissions":["ReadAccountsBasic","ReadTransactionsDetail","ReadTransactionsDebits"],"ExpirationDateTime":"2030-01-01T00:00:00+00:00","TransactionFromDateTime":"2020-01-01T00:00:00Z","TransactionToDateTime":"2021-01-01T00:00:00Z"},"Risk":{}}`,
		`{"Data":{"Permissions":[]},"Risk":{}}`,
		`{"Data":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(body, now)
		if err != nil {
			if inv, ok := err.(*InvalidError); !ok || len(inv.Problems) == 0 {
				t.Fatalf("error %v without problems", err)
			}
			return
		}
		c := &Consent{Permissions: req.Permissions}
		if len(req.Permissions) == 0 || !c.Permits(Accounts) {
			t.Fatalf("accepted %q without an accounts permission", body)
		}
		if c.Permits(Transactions) != (c.Has(ReadTransactionsCredits) || c.Has(ReadTransactionsDebits)) {
			t.Fatalf("accepted %q with unpaired transaction permissions", body)
		}
		if req.Expiration != nil && !req.Expiration.Time.After(now) {
			t.Fatalf("accepted %q with a past expiry", body)
		}
		if _, err := json.Marshal(req); err != nil {
			t.Fatal(err)
		}
	})
}
