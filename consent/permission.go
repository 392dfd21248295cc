// Package consent is the UK Open Banking v3.1 account-access consent: the resource, its
// validation, its lifecycle, and the rules that map account endpoints to permissions.
package consent

// Permission is an OBExternalPermissions1Code.
type Permission string

const (
	ReadAccountsBasic           Permission = "ReadAccountsBasic"
	ReadAccountsDetail          Permission = "ReadAccountsDetail"
	ReadBalances                Permission = "ReadBalances"
	ReadBeneficiariesBasic      Permission = "ReadBeneficiariesBasic"
	ReadBeneficiariesDetail     Permission = "ReadBeneficiariesDetail"
	ReadDirectDebits            Permission = "ReadDirectDebits"
	ReadOffers                  Permission = "ReadOffers"
	ReadPAN                     Permission = "ReadPAN"
	ReadParty                   Permission = "ReadParty"
	ReadPartyPSU                Permission = "ReadPartyPSU"
	ReadProducts                Permission = "ReadProducts"
	ReadScheduledPaymentsBasic  Permission = "ReadScheduledPaymentsBasic"
	ReadScheduledPaymentsDetail Permission = "ReadScheduledPaymentsDetail"
	ReadStandingOrdersBasic     Permission = "ReadStandingOrdersBasic"
	ReadStandingOrdersDetail    Permission = "ReadStandingOrdersDetail"
	ReadStatementsBasic         Permission = "ReadStatementsBasic"
	ReadStatementsDetail        Permission = "ReadStatementsDetail"
	ReadTransactionsBasic       Permission = "ReadTransactionsBasic"
	ReadTransactionsCredits     Permission = "ReadTransactionsCredits"
	ReadTransactionsDebits      Permission = "ReadTransactionsDebits"
	ReadTransactionsDetail      Permission = "ReadTransactionsDetail"
)

// AllPermissions are the 21 codes of v3.1.
var AllPermissions = []Permission{
	ReadAccountsBasic, ReadAccountsDetail, ReadBalances, ReadBeneficiariesBasic,
	ReadBeneficiariesDetail, ReadDirectDebits, ReadOffers, ReadPAN, ReadParty, ReadPartyPSU,
	ReadProducts, ReadScheduledPaymentsBasic, ReadScheduledPaymentsDetail,
	ReadStandingOrdersBasic, ReadStandingOrdersDetail, ReadStatementsBasic,
	ReadStatementsDetail, ReadTransactionsBasic, ReadTransactionsCredits,
	ReadTransactionsDebits, ReadTransactionsDetail,
}

// Known tells whether p is one of the v3.1 codes.
func (p Permission) Known() bool {
	for _, k := range AllPermissions {
		if k == p {
			return true
		}
	}
	return false
}

// Describe is the permission in plain words, for the user's device.
func (p Permission) Describe() string {
	switch p {
	case ReadAccountsBasic:
		return "Your account names and types"
	case ReadAccountsDetail:
		return "Your account names, types and numbers"
	case ReadBalances:
		return "Your account balances"
	case ReadBeneficiariesBasic:
		return "The payees you have set up"
	case ReadBeneficiariesDetail:
		return "The payees you have set up, with their account details"
	case ReadDirectDebits:
		return "Your direct debits"
	case ReadOffers:
		return "Offers on your accounts"
	case ReadPAN:
		return "Your full card numbers"
	case ReadParty:
		return "The account holders' names and contact details"
	case ReadPartyPSU:
		return "Your own name and contact details"
	case ReadProducts:
		return "The product details of your accounts"
	case ReadScheduledPaymentsBasic:
		return "Your scheduled payments"
	case ReadScheduledPaymentsDetail:
		return "Your scheduled payments, with payee account details"
	case ReadStandingOrdersBasic:
		return "Your standing orders"
	case ReadStandingOrdersDetail:
		return "Your standing orders, with payee account details"
	case ReadStatementsBasic:
		return "Your statements"
	case ReadStatementsDetail:
		return "Your statements, with amounts and files"
	case ReadTransactionsBasic:
		return "Your transactions"
	case ReadTransactionsDetail:
		return "Your transactions, with descriptions and counterparties"
	case ReadTransactionsCredits:
		return "Money coming into your accounts"
	case ReadTransactionsDebits:
		return "Money going out of your accounts"
	}
	return string(p)
}
