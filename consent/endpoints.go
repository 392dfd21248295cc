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

// route is one endpoint of the table: its resource and its path below APIPrefix, with
// {AccountId} and {StatementId} where the path carries a parameter.
type route struct {
	resource Resource
	template string
}

// bulk maps the first path segment of an endpoint without an AccountId to its route.
var bulk = map[string]route{
	"accounts":           {Accounts, "/accounts"},
	"balances":           {Balances, "/balances"},
	"beneficiaries":      {Beneficiaries, "/beneficiaries"},
	"direct-debits":      {DirectDebits, "/direct-debits"},
	"standing-orders":    {StandingOrders, "/standing-orders"},
	"transactions":       {Transactions, "/transactions"},
	"statements":         {Statements, "/statements"},
	"products":           {Products, "/products"},
	"offers":             {Offers, "/offers"},
	"party":              {PartyPSU, "/party"},
	"scheduled-payments": {ScheduledPayments, "/scheduled-payments"},
}

// perAccount maps the segment after /accounts/{AccountId}/ to its route.
var perAccount = map[string]route{
	"balances":           {Balances, "/accounts/{AccountId}/balances"},
	"beneficiaries":      {Beneficiaries, "/accounts/{AccountId}/beneficiaries"},
	"direct-debits":      {DirectDebits, "/accounts/{AccountId}/direct-debits"},
	"standing-orders":    {StandingOrders, "/accounts/{AccountId}/standing-orders"},
	"transactions":       {Transactions, "/accounts/{AccountId}/transactions"},
	"statements":         {Statements, "/accounts/{AccountId}/statements"},
	"product":            {Products, "/accounts/{AccountId}/product"},
	"offers":             {Offers, "/accounts/{AccountId}/offers"},
	"party":              {Parties, "/accounts/{AccountId}/party"},
	"parties":            {Parties, "/accounts/{AccountId}/parties"},
	"scheduled-payments": {ScheduledPayments, "/accounts/{AccountId}/scheduled-payments"},
}

// The routes with a {StatementId}, and the one with only an {AccountId}.
var (
	oneAccount        = route{Accounts, "/accounts/{AccountId}"}
	oneStatement      = route{Statements, "/accounts/{AccountId}/statements/{StatementId}"}
	statementTxs      = route{Transactions, "/accounts/{AccountId}/statements/{StatementId}/transactions"}
	statementFileOnly = route{StatementFile, "/accounts/{AccountId}/statements/{StatementId}/file"}
)

// Endpoint is an account information endpoint a request path names.
type Endpoint struct {
	Resource Resource
	// AccountID is the {AccountId} of the path, "" for bulk endpoints.
	AccountID string
	// StatementID is the {StatementId} of the path, "" where the path has none.
	StatementID string
	// Template is the endpoint's path below APIPrefix as the table spells it, with
	// {AccountId} and {StatementId} in place of the parameters.
	Template string
	// List tells whether the endpoint returns a list to filter to the consented accounts.
	List bool
}

func (r route) endpoint(accountID, statementID string, list bool) Endpoint {
	return Endpoint{Resource: r.resource, AccountID: accountID, StatementID: statementID, Template: r.template, List: list}
}

// Path is the request path of the endpoint: APIPrefix and the template with its parameters.
func (e Endpoint) Path() string {
	p := strings.Replace(e.Template, "{AccountId}", e.AccountID, 1)
	return APIPrefix + strings.Replace(p, "{StatementId}", e.StatementID, 1)
}

// AllowedMethods is what every v3.1 account information endpoint answers: they only
// read. HEAD is GET without the body.
const AllowedMethods = "GET, HEAD"

// Allows tells whether the endpoint has the method.
func (e Endpoint) Allows(method string) bool {
	return method == "GET" || method == "HEAD"
}

// Match finds the endpoint of a request path under APIPrefix; ok is false for a path that
// is not exactly a v3.1 account information endpoint. The path is the one the upstream will
// be sent, as it travels (escaped): a path parameter is an OB id (1 to 40 of
// A-Z a-z 0-9 - . _ ~, not dots only), and no segment is empty, a dot segment, or holds
// a percent sign, backslash or semicolon, so nothing in it can be decoded or resolved by
// the bank into another resource. A trailing slash is not part of any endpoint. It does
// not allocate.
func Match(path string) (e Endpoint, ok bool) {
	rest, found := strings.CutPrefix(path, APIPrefix+"/")
	if !found || !cleanSegments(rest) {
		return e, false
	}
	first, rest, more := strings.Cut(rest, "/")
	if !more {
		r, ok := bulk[first]
		return r.endpoint("", "", true), ok
	}
	if first != "accounts" {
		return e, false
	}
	id, rest, more := strings.Cut(rest, "/")
	if !more {
		return oneAccount.endpoint(id, "", false), true
	}
	sub, rest, more := strings.Cut(rest, "/")
	r, known := perAccount[sub]
	if !known {
		return e, false
	}
	if !more {
		return r.endpoint(id, "", true), true
	}
	// statements/{StatementId}[/transactions|/file]
	if r.resource != Statements {
		return e, false
	}
	sid, tail, more := strings.Cut(rest, "/")
	switch {
	case !more:
		return oneStatement.endpoint(id, sid, false), true
	case tail == "transactions":
		return statementTxs.endpoint(id, sid, true), true
	case tail == "file":
		return statementFileOnly.endpoint(id, sid, false), true
	}
	return e, false
}

// maxIDLength is the longest OB id (Max40Text).
const maxIDLength = 40

// cleanSegments tells whether every segment of path is 1 to 40 unreserved characters
// (RFC 3986: A-Z a-z 0-9 - . _ ~) and not made of dots only: "." and ".." are dot
// segments, and some servers read "..." as one too. The fixed segments of the table
// pass this too, so it holds the parameters to the OB id pattern without knowing where
// they are.
func cleanSegments(path string) bool {
	n := 0 // length of the current segment
	dots := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '/' {
			if n == 0 || n > maxIDLength || dots == n {
				return false
			}
			n, dots = 0, 0
			continue
		}
		if !unreserved(path[i]) {
			return false
		}
		n++
		if path[i] == '.' {
			dots++
		}
	}
	return true
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
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
