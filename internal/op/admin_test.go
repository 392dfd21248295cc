package op

import (
	"slices"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/store"
)

func TestEachConsentFilters(t *testing.T) {
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Second)
	repo := &consent.Repo{Store: s, Now: func() time.Time { return now }}
	req, err := consent.ParseRequest([]byte(`{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`), now)
	if err != nil {
		t.Fatal(err)
	}
	create := func(clientID, subject string) string {
		c, err := repo.Create(clientID, req)
		if err != nil {
			t.Fatal(err)
		}
		if subject != "" {
			err = s.Update(func(t store.Txn) error {
				_, err := consent.Change(t, c.ID, now, func(c *consent.Consent) error {
					return c.Authorise(subject, []string{"22289"}, now)
				})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return c.ID
	}
	awaitingA := create("tpp-a", "")
	authorisedA := create("tpp-a", "psu-1")
	authorisedB := create("tpp-b", "psu-2")

	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"everything", Filter{}, []string{awaitingA, authorisedA, authorisedB}},
		{"one client", Filter{ClientID: "tpp-a"}, []string{awaitingA, authorisedA}},
		{"one status", Filter{Status: string(consent.Authorised)}, []string{authorisedA, authorisedB}},
		{"client and status", Filter{ClientID: "tpp-a", Status: string(consent.AwaitingAuthorisation)}, []string{awaitingA}},
		{"one subject", Filter{Subject: "psu-2"}, []string{authorisedB}},
		{"nothing", Filter{ClientID: "tpp-c"}, nil},
	}
	for _, tt := range tests {
		var got []string
		err := EachConsent(s, now, tt.filter, func(c *consent.Consent) error {
			got = append(got, c.ID)
			return nil
		})
		slices.Sort(got)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: got %v (%v), want %v", tt.name, got, err, want)
		}
	}
}
