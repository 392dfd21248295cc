package consent

import "slices"

// Cluster is one of the data clusters of the UK OB Customer Experience Guidelines: the
// words both the TPP and the bank show the customer for a group of permissions.
type Cluster struct {
	Name        string
	Permissions []Permission
}

// clusters are the guidelines' AIS data clusters, in their order.
var clusters = []Cluster{
	{"Your account details", []Permission{ReadAccountsBasic, ReadAccountsDetail, ReadBalances, ReadPAN}},
	{"Your regular payments", []Permission{ReadBeneficiariesBasic, ReadBeneficiariesDetail, ReadStandingOrdersBasic,
		ReadStandingOrdersDetail, ReadDirectDebits, ReadScheduledPaymentsBasic, ReadScheduledPaymentsDetail}},
	{"Your account transactions", []Permission{ReadTransactionsBasic, ReadTransactionsDetail, ReadTransactionsCredits, ReadTransactionsDebits}},
	{"Your statements", []Permission{ReadStatementsBasic, ReadStatementsDetail}},
	{"Your account features and benefits", []Permission{ReadProducts, ReadOffers}},
	{"Your contact details", []Permission{ReadParty, ReadPartyPSU}},
}

// Clusters groups the permissions into the data clusters they fall in, in the guidelines'
// order; each cluster holds only the permissions given, and a cluster none of them falls
// in is left out.
func Clusters(perms []Permission) []Cluster {
	var out []Cluster
	for _, cl := range clusters {
		var held []Permission
		for _, p := range cl.Permissions {
			if slices.Contains(perms, p) {
				held = append(held, p)
			}
		}
		if len(held) > 0 {
			out = append(out, Cluster{Name: cl.Name, Permissions: held})
		}
	}
	return out
}
