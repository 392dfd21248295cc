package consent

import (
	"slices"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	p := APIPrefix
	list := func(r Resource, tmpl, acct string) Endpoint {
		return Endpoint{Resource: r, AccountID: acct, Template: tmpl, List: true}
	}
	for _, tc := range []struct {
		path string
		want Endpoint
	}{
		{p + "/accounts", list(Accounts, "/accounts", "")},
		{p + "/accounts/22289", Endpoint{Resource: Accounts, AccountID: "22289", Template: "/accounts/{AccountId}"}},
		{p + "/accounts/22289/balances", list(Balances, "/accounts/{AccountId}/balances", "22289")},
		{p + "/balances", list(Balances, "/balances", "")},
		{p + "/accounts/22289/transactions", list(Transactions, "/accounts/{AccountId}/transactions", "22289")},
		{p + "/transactions", list(Transactions, "/transactions", "")},
		{p + "/accounts/1/beneficiaries", list(Beneficiaries, "/accounts/{AccountId}/beneficiaries", "1")},
		{p + "/beneficiaries", list(Beneficiaries, "/beneficiaries", "")},
		{p + "/accounts/1/direct-debits", list(DirectDebits, "/accounts/{AccountId}/direct-debits", "1")},
		{p + "/direct-debits", list(DirectDebits, "/direct-debits", "")},
		{p + "/accounts/1/standing-orders", list(StandingOrders, "/accounts/{AccountId}/standing-orders", "1")},
		{p + "/standing-orders", list(StandingOrders, "/standing-orders", "")},
		{p + "/accounts/1/product", list(Products, "/accounts/{AccountId}/product", "1")},
		{p + "/products", list(Products, "/products", "")},
		{p + "/accounts/1/offers", list(Offers, "/accounts/{AccountId}/offers", "1")},
		{p + "/offers", list(Offers, "/offers", "")},
		{p + "/accounts/1/party", list(Parties, "/accounts/{AccountId}/party", "1")},
		{p + "/accounts/1/parties", list(Parties, "/accounts/{AccountId}/parties", "1")},
		{p + "/party", list(PartyPSU, "/party", "")},
		{p + "/accounts/1/scheduled-payments", list(ScheduledPayments, "/accounts/{AccountId}/scheduled-payments", "1")},
		{p + "/scheduled-payments", list(ScheduledPayments, "/scheduled-payments", "")},
		{p + "/accounts/1/statements", list(Statements, "/accounts/{AccountId}/statements", "1")},
		{p + "/statements", list(Statements, "/statements", "")},
		{p + "/accounts/1/statements/s9", Endpoint{Resource: Statements, AccountID: "1", StatementID: "s9", Template: "/accounts/{AccountId}/statements/{StatementId}"}},
		{p + "/accounts/1/statements/s9/transactions", Endpoint{Resource: Transactions, AccountID: "1", StatementID: "s9", Template: "/accounts/{AccountId}/statements/{StatementId}/transactions", List: true}},
		{p + "/accounts/1/statements/s9/file", Endpoint{Resource: StatementFile, AccountID: "1", StatementID: "s9", Template: "/accounts/{AccountId}/statements/{StatementId}/file"}},
		// The whole OB id alphabet, at its longest.
		{p + "/accounts/aZ09-._~aZ09-._~aZ09-._~aZ09-._~aZ09-._~", Endpoint{Resource: Accounts, AccountID: "aZ09-._~aZ09-._~aZ09-._~aZ09-._~aZ09-._~", Template: "/accounts/{AccountId}"}},
		{p + "/accounts/1/statements/.s./file", Endpoint{Resource: StatementFile, AccountID: "1", StatementID: ".s.", Template: "/accounts/{AccountId}/statements/{StatementId}/file"}},
	} {
		got, ok := Match(tc.path)
		if !ok || got != tc.want {
			t.Errorf("Match(%q) = %+v, %v; want %+v", tc.path, got, ok, tc.want)
		}
		if ok && got.Path() != tc.path {
			t.Errorf("Match(%q).Path() = %q", tc.path, got.Path())
		}
	}
}

// TestMatchRefuses: what the table does not name exactly, as a hostile TPP would spell it.
func TestMatchRefuses(t *testing.T) {
	t.Parallel()
	p := APIPrefix
	for _, path := range []string{
		p + "/account-access-consents",
		p + "/accounts/1/balances/extra",
		p + "/accounts/1/unknown",
		p + "/accounts/1/statements//file",
		p + "/accounts/1/balances/file",
		"/open-banking/v3.0/aisp/accounts",
		"/accounts",
		"",
		p,
		p + "/",
		// Trailing slashes and empty segments.
		p + "/accounts/",
		p + "/accounts/22289/",
		p + "/accounts//balances",
		p + "//accounts",
		p + "/accounts/22289/statements/s9/",
		// Dot segments, where a parameter is and anywhere else.
		p + "/accounts/22289/statements/..",
		p + "/accounts/22289/statements/.",
		p + "/accounts/22289/statements/...",
		p + "/accounts/../accounts/22289",
		p + "/accounts/22289/statements/../balances",
		p + "/accounts/./22289",
		p + "/./accounts",
		p + "/accounts/..",
		p + "/accounts/22289/statements/s9/..",
		"/open-banking/v3.1/aisp/../aisp/accounts",
		// Encoded separators, dots, backslashes; double encoding.
		p + "/accounts/22289/statements/%2e%2e",
		p + "/accounts/22289/statements/%2E%2E/file",
		p + "/accounts/22289%2fbalances",
		p + "/accounts/22289%2Fbalances",
		p + "/accounts/22289%5c..",
		p + "/accounts/22289/statements/%252e%252e",
		p + "/accounts/%32%32%32%38%39",
		p + "/accounts/22289%3bx",
		p + "/accounts/22289%00",
		// Backslashes and semicolons.
		p + "/accounts/22289/statements/..;",
		p + "/accounts/22289/statements/..;/balances",
		p + "/accounts/22289;jsessionid=1",
		p + "/accounts;/22289",
		p + `/accounts/22289\..\31820`,
		p + `/accounts/22289/statements/\`,
		// Overlong id (41), odd characters, unicode.
		p + "/accounts/" + strings.Repeat("a", 41),
		p + "/accounts/1/statements/" + strings.Repeat("s", 41),
		p + "/accounts/22 289",
		p + "/accounts/22289?x=1",
		p + "/accounts/22289#x",
		p + "/accounts/22289:1",
		p + "/accounts/ä",
		p + "/accounts/2​2289",
		p + "/accounts/．．",
		p + "/Accounts",
		p + "/ACCOUNTS/22289",
	} {
		if e, ok := Match(path); ok {
			t.Errorf("Match(%q) = %+v, want refused", path, e)
		}
	}
}

// TestEndpointMethods: every account information endpoint reads only.
func TestEndpointMethods(t *testing.T) {
	t.Parallel()
	e, ok := Match(APIPrefix + "/accounts/1/statements/s9/file")
	if !ok {
		t.Fatal("no endpoint")
	}
	for m, want := range map[string]bool{"GET": true, "HEAD": true, "get": false, "POST": false, "PUT": false,
		"PATCH": false, "DELETE": false, "TRACE": false, "OPTIONS": false, "PROPFIND": false, "CONNECT": false, "": false, "X-GET": false} {
		if got := e.Allows(m); got != want {
			t.Errorf("Allows(%q) = %v", m, got)
		}
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	p := APIPrefix
	for _, tc := range []struct {
		path, raw, want string
		ok              bool
	}{
		{"/accounts/1/transactions", "", "", true},
		{"/accounts/1/transactions", "fromBookingDateTime=2024-01-01T00:00:00&toBookingDateTime=2024-02-01T00:00:00Z", "fromBookingDateTime=2024-01-01T00%3A00%3A00&toBookingDateTime=2024-02-01T00%3A00%3A00Z", true},
		{"/transactions", "toBookingDateTime=2024-02-01T00:00:00.123%2B01:00", "toBookingDateTime=2024-02-01T00%3A00%3A00.123%2B01%3A00", true},
		{"/accounts/1/statements/s9/transactions", "page=2", "page=2", true},
		{"/accounts/1/statements", "fromStatementDateTime=2024-01-01T00:00:00", "fromStatementDateTime=2024-01-01T00%3A00%3A00", true},
		{"/accounts", "page=3", "page=3", true},
		{"/accounts/1/balances", "page=a-b_c~d.e", "page=a-b_c~d.e", true},
		// Unknown, repeated, empty, malformed, or on an endpoint that does not take it.
		{"/accounts/1/transactions", "fromBookingDateTime=2024-01-01T00:00:00&fromBookingDateTime=2023-01-01T00:00:00", "", false},
		{"/accounts/1/transactions", "fromBookingDateTime=", "", false},
		{"/accounts/1/transactions", "fromBookingDateTime=yesterday", "", false},
		{"/accounts/1/transactions", "fromBookingDateTime=2024-01-01", "", false},
		{"/accounts/1/transactions", "fromBookingDateTime=2024-01-01T00:00:00+01:00", "", false}, // '+' is a space
		{"/accounts/1/transactions", "fromStatementDateTime=2024-01-01T00:00:00", "", false},
		{"/accounts/1/transactions", "fields=Balance", "", false},
		{"/accounts/1/transactions", "access_token=x", "", false},
		{"/accounts/1/transactions", "page=1;x=2", "", false},
		{"/accounts/1/transactions", "page=%zz", "", false},
		{"/accounts/1/transactions", "page=..", "", false},
		{"/accounts/1/transactions", "page=a/b", "", false},
		{"/accounts/1/transactions", "page", "", false},
		{"/accounts/1/transactions", "Page=1", "", false},
		{"/accounts/1", "page=1", "", false},
		{"/accounts/1/statements/s9", "fromStatementDateTime=2024-01-01T00:00:00", "", false},
		{"/accounts/1/statements/s9/file", "page=1", "", false},
		{"/accounts/1/balances", "fromBookingDateTime=2024-01-01T00:00:00", "", false},
	} {
		e, ok := Match(p + tc.path)
		if !ok {
			t.Fatalf("no endpoint %s", tc.path)
		}
		got, err := e.Query(tc.raw)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s?%s: Query = %q, %v; want %q, ok %v", tc.path, tc.raw, got, err, tc.want, tc.ok)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	path := APIPrefix + "/accounts/22289/statements/s9/transactions"
	if n := testing.AllocsPerRun(100, func() { Match(path) }); n != 0 {
		t.Fatalf("Match allocates %v times", n)
	}
}

func TestPermitsAndHiddenFields(t *testing.T) {
	t.Parallel()
	basic := &Consent{Permissions: []Permission{ReadAccountsBasic, ReadTransactionsBasic, ReadTransactionsCredits}}
	detail := &Consent{Permissions: []Permission{ReadAccountsDetail, ReadBalances, ReadStatementsDetail}}
	for _, tc := range []struct {
		c      *Consent
		r      Resource
		permit bool
		hidden []string
	}{
		{basic, Accounts, true, []string{"Account", "Servicer"}},
		{detail, Accounts, true, nil},
		{basic, Balances, false, nil},
		{detail, Balances, true, nil},
		{basic, Transactions, true, []string{"TransactionInformation", "Balance", "MerchantDetails", "CreditorAgent", "CreditorAccount", "DebtorAgent", "DebtorAccount"}},
		{detail, Transactions, false, nil},
		{detail, StatementFile, true, nil},
		{basic, StatementFile, false, nil},
		{basic, PartyPSU, false, nil},
	} {
		if got := tc.c.Permits(tc.r); got != tc.permit {
			t.Errorf("%v Permits(%s) = %v", tc.c.Permissions, tc.r, got)
		}
		if got := tc.c.HiddenFields(tc.r); tc.permit && !slices.Equal(got, tc.hidden) {
			t.Errorf("%v HiddenFields(%s) = %v, want %v", tc.c.Permissions, tc.r, got, tc.hidden)
		}
	}
}
