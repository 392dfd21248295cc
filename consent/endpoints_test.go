package consent

import (
	"slices"
	"testing"
)

func TestMatch(t *testing.T) {
	p := APIPrefix
	for _, tc := range []struct {
		path string
		ok   bool
		want Endpoint
	}{
		{p + "/accounts", true, Endpoint{Resource: Accounts, List: true}},
		{p + "/accounts/", true, Endpoint{Resource: Accounts, List: true}},
		{p + "/accounts/22289", true, Endpoint{Resource: Accounts, AccountID: "22289"}},
		{p + "/accounts/22289/balances", true, Endpoint{Resource: Balances, AccountID: "22289", List: true}},
		{p + "/balances", true, Endpoint{Resource: Balances, List: true}},
		{p + "/accounts/22289/transactions", true, Endpoint{Resource: Transactions, AccountID: "22289", List: true}},
		{p + "/transactions", true, Endpoint{Resource: Transactions, List: true}},
		{p + "/accounts/1/beneficiaries", true, Endpoint{Resource: Beneficiaries, AccountID: "1", List: true}},
		{p + "/accounts/1/direct-debits", true, Endpoint{Resource: DirectDebits, AccountID: "1", List: true}},
		{p + "/accounts/1/standing-orders", true, Endpoint{Resource: StandingOrders, AccountID: "1", List: true}},
		{p + "/accounts/1/product", true, Endpoint{Resource: Products, AccountID: "1", List: true}},
		{p + "/products", true, Endpoint{Resource: Products, List: true}},
		{p + "/accounts/1/offers", true, Endpoint{Resource: Offers, AccountID: "1", List: true}},
		{p + "/accounts/1/party", true, Endpoint{Resource: Parties, AccountID: "1", List: true}},
		{p + "/accounts/1/parties", true, Endpoint{Resource: Parties, AccountID: "1", List: true}},
		{p + "/party", true, Endpoint{Resource: PartyPSU, List: true}},
		{p + "/accounts/1/scheduled-payments", true, Endpoint{Resource: ScheduledPayments, AccountID: "1", List: true}},
		{p + "/accounts/1/statements", true, Endpoint{Resource: Statements, AccountID: "1", List: true}},
		{p + "/accounts/1/statements/s9", true, Endpoint{Resource: Statements, AccountID: "1"}},
		{p + "/accounts/1/statements/s9/transactions", true, Endpoint{Resource: Transactions, AccountID: "1", List: true}},
		{p + "/accounts/1/statements/s9/file", true, Endpoint{Resource: StatementFile, AccountID: "1"}},
		{p + "/account-access-consents", false, Endpoint{}},
		{p + "/accounts/1/balances/extra", false, Endpoint{}},
		{p + "/accounts//balances", false, Endpoint{}},
		{p + "/accounts/1/unknown", false, Endpoint{}},
		{p + "/accounts/1/statements//file", false, Endpoint{}},
		{"/open-banking/v3.0/aisp/accounts", false, Endpoint{}},
		{"/accounts", false, Endpoint{}},
	} {
		got, ok := Match(tc.path)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Match(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
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
