package consent

import "strings"

// APIPrefix is where the v3.1 account information endpoints live.
const APIPrefix = "/open-banking/v3.1/aisp"

// Resource is a kind of account information the endpoints return.
type Resource string

const (
	Accounts          Resource = "accounts"
	Balances          Resource = "balances"
	Beneficiaries     Resource = "beneficiaries"
	DirectDebits      Resource = "direct-debits"
	StandingOrders    Resource = "standing-orders"
	Transactions      Resource = "transactions"
	Statements        Resource = "statements"
	StatementFile     Resource = "statement-file"
	Products          Resource = "products"
	Offers            Resource = "offers"
	Parties           Resource = "parties"
	PartyPSU          Resource = "party-psu"
	ScheduledPayments Resource = "scheduled-payments"
)

// rule is what reading a resource needs: any one of AnyOf; Detail unlocks the fields
// in DetailFields, which Basic alone does not see.
type rule struct {
	AnyOf        []Permission
	Detail       Permission
	DetailFields []string
}

var rules = map[Resource]rule{
	Accounts:          {AnyOf: []Permission{ReadAccountsBasic, ReadAccountsDetail}, Detail: ReadAccountsDetail, DetailFields: []string{"Account", "Servicer"}},
	Balances:          {AnyOf: []Permission{ReadBalances}},
	Beneficiaries:     {AnyOf: []Permission{ReadBeneficiariesBasic, ReadBeneficiariesDetail}, Detail: ReadBeneficiariesDetail, DetailFields: []string{"CreditorAgent", "CreditorAccount"}},
	DirectDebits:      {AnyOf: []Permission{ReadDirectDebits}},
	StandingOrders:    {AnyOf: []Permission{ReadStandingOrdersBasic, ReadStandingOrdersDetail}, Detail: ReadStandingOrdersDetail, DetailFields: []string{"CreditorAgent", "CreditorAccount"}},
	Transactions:      {AnyOf: []Permission{ReadTransactionsBasic, ReadTransactionsDetail}, Detail: ReadTransactionsDetail, DetailFields: []string{"TransactionInformation", "Balance", "MerchantDetails", "CreditorAgent", "CreditorAccount", "DebtorAgent", "DebtorAccount"}},
	Statements:        {AnyOf: []Permission{ReadStatementsBasic, ReadStatementsDetail}, Detail: ReadStatementsDetail, DetailFields: []string{"StatementAmount"}},
	StatementFile:     {AnyOf: []Permission{ReadStatementsDetail}},
	Products:          {AnyOf: []Permission{ReadProducts}},
	Offers:            {AnyOf: []Permission{ReadOffers}},
	Parties:           {AnyOf: []Permission{ReadParty}},
	PartyPSU:          {AnyOf: []Permission{ReadPartyPSU}},
	ScheduledPayments: {AnyOf: []Permission{ReadScheduledPaymentsBasic, ReadScheduledPaymentsDetail}, Detail: ReadScheduledPaymentsDetail, DetailFields: []string{"CreditorAgent", "CreditorAccount"}},
}

// bulk maps the first path segment of an endpoint without an AccountId to its resource.
var bulk = map[string]Resource{
	"accounts": Accounts, "balances": Balances, "beneficiaries": Beneficiaries,
	"direct-debits": DirectDebits, "standing-orders": StandingOrders, "transactions": Transactions,
	"statements": Statements, "products": Products, "offers": Offers, "party": PartyPSU,
	"scheduled-payments": ScheduledPayments,
}

// perAccount maps the segment after /accounts/{AccountId}/ to its resource.
var perAccount = map[string]Resource{
	"balances": Balances, "beneficiaries": Beneficiaries, "direct-debits": DirectDebits,
	"standing-orders": StandingOrders, "transactions": Transactions, "statements": Statements,
	"product": Products, "offers": Offers, "party": Parties, "parties": Parties,
	"scheduled-payments": ScheduledPayments,
}

// Endpoint is an account information endpoint a request path names.
type Endpoint struct {
	Resource Resource
	// AccountID is the {AccountId} of the path, "" for bulk endpoints.
	AccountID string
	// List tells whether the endpoint returns a list to filter to the consented accounts.
	List bool
}

// Match finds the endpoint of a path under APIPrefix; ok is false for a path that is not a
// v3.1 account information endpoint. It does not allocate.
func Match(path string) (e Endpoint, ok bool) {
	rest, found := strings.CutPrefix(path, APIPrefix+"/")
	if !found {
		return e, false
	}
	rest = strings.TrimSuffix(rest, "/")
	first, rest, more := strings.Cut(rest, "/")
	if !more {
		r, ok := bulk[first]
		return Endpoint{Resource: r, List: true}, ok
	}
	if first != "accounts" {
		return e, false
	}
	id, rest, more := strings.Cut(rest, "/")
	if id == "" {
		return e, false
	}
	if !more {
		return Endpoint{Resource: Accounts, AccountID: id}, true
	}
	sub, rest, more := strings.Cut(rest, "/")
	r, known := perAccount[sub]
	if !known {
		return e, false
	}
	if !more {
		return Endpoint{Resource: r, AccountID: id, List: true}, true
	}
	// statements/{StatementId}[/transactions|/file]
	if r != Statements {
		return e, false
	}
	sid, tail, more := strings.Cut(rest, "/")
	switch {
	case sid == "":
		return e, false
	case !more:
		return Endpoint{Resource: Statements, AccountID: id}, true
	case tail == "transactions":
		return Endpoint{Resource: Transactions, AccountID: id, List: true}, true
	case tail == "file":
		return Endpoint{Resource: StatementFile, AccountID: id}, true
	}
	return e, false
}

// Permits tells whether the consent grants a permission the resource needs.
func (c *Consent) Permits(r Resource) bool {
	for _, p := range rules[r].AnyOf {
		if c.Has(p) {
			return true
		}
	}
	return false
}

// HiddenFields are the fields of the resource the consent may not see: the Detail-only
// fields when it holds only the Basic permission.
func (c *Consent) HiddenFields(r Resource) []string {
	rl := rules[r]
	if rl.Detail == "" || c.Has(rl.Detail) {
		return nil
	}
	return rl.DetailFields
}

// NeededPermissions lists the permissions any one of which the resource needs.
func NeededPermissions(r Resource) []Permission { return rules[r].AnyOf }
