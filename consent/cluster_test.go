package consent

import (
	"slices"
	"testing"
)

// TestClustersCoverEveryPermissionOnce: each v3.1 permission falls in exactly one cluster,
// so the dashboard never leaves a permission out or shows it twice.
func TestClustersCoverEveryPermissionOnce(t *testing.T) {
	t.Parallel()
	seen := map[Permission]string{}
	for _, cl := range Clusters(AllPermissions) {
		for _, p := range cl.Permissions {
			if prev, ok := seen[p]; ok {
				t.Errorf("%s is in %q and %q", p, prev, cl.Name)
			}
			seen[p] = cl.Name
		}
	}
	if len(seen) != len(AllPermissions) {
		t.Fatalf("%d of %d permissions are in a cluster", len(seen), len(AllPermissions))
	}
}

func TestClusters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		perms []Permission
		want  []string
	}{
		{nil, nil},
		{[]Permission{ReadTransactionsDetail, ReadAccountsBasic}, []string{"Your account details", "Your account transactions"}},
		{[]Permission{ReadPartyPSU}, []string{"Your contact details"}},
		{[]Permission{ReadOffers, ReadDirectDebits, ReadStatementsBasic}, []string{"Your regular payments", "Your statements", "Your account features and benefits"}},
	} {
		var got []string
		for _, cl := range Clusters(tc.perms) {
			got = append(got, cl.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Clusters(%v) = %v, want %v", tc.perms, got, tc.want)
		}
	}
}
