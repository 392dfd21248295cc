package consent

import (
	"errors"
	"testing"
	"time"
)

func awaiting(expiry *time.Time) *Consent {
	c := &Consent{ID: "aac-1", ClientID: "tpp", Status: AwaitingAuthorisation, CreatedAt: now, UpdatedAt: now,
		Permissions: []Permission{ReadAccountsBasic}}
	if expiry != nil {
		c.Expiration = &Date{Raw: expiry.Format(TimeLayout), Time: *expiry}
	}
	return c
}

func at(d time.Duration) time.Time { return now.Add(d) }

// TestLifecycle: each transition from each state, the legal and the illegal.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	soon := at(time.Hour)
	authorised := func() *Consent {
		c := awaiting(&soon)
		if err := c.Authorise("psu", []string{"1"}, now); err != nil {
			t.Fatal(err)
		}
		return c
	}
	rejected := func() *Consent {
		c := awaiting(nil)
		if err := c.Reject(now); err != nil {
			t.Fatal(err)
		}
		return c
	}
	revoked := func() *Consent {
		c := authorised()
		if err := c.Revoke(now); err != nil {
			t.Fatal(err)
		}
		return c
	}
	authorise := func(accts ...string) func(*Consent, time.Time) error {
		return func(c *Consent, when time.Time) error { return c.Authorise("psu", accts, when) }
	}
	reject := func(c *Consent, when time.Time) error { return c.Reject(when) }
	revoke := func(c *Consent, when time.Time) error { return c.Revoke(when) }

	for _, tc := range []struct {
		name       string
		start      func() *Consent
		when       time.Time
		transition func(*Consent, time.Time) error
		err        error
		status     Status
	}{
		{"awaiting → authorised", func() *Consent { return awaiting(nil) }, at(time.Minute), authorise("1", "2"), nil, Authorised},
		{"awaiting → rejected", func() *Consent { return awaiting(nil) }, at(time.Minute), reject, nil, Rejected},
		{"awaiting, no accounts", func() *Consent { return awaiting(nil) }, at(time.Minute), authorise(), ErrNoAccounts, AwaitingAuthorisation},
		{"awaiting, an account twice", func() *Consent { return awaiting(nil) }, at(time.Minute), authorise("1", "1"), ErrDuplicateAccount, AwaitingAuthorisation},
		{"awaiting → revoked is illegal", func() *Consent { return awaiting(nil) }, at(time.Minute), revoke, ErrNotAuthorised, AwaitingAuthorisation},
		{"awaiting past its window cannot be authorised", func() *Consent { return awaiting(nil) }, at(AuthorisationWindow), authorise("1"), ErrNotAwaiting, Rejected},
		{"awaiting past its expiry cannot be authorised", func() *Consent { return awaiting(&soon) }, at(2 * time.Hour), authorise("1"), ErrExpired, Rejected},
		{"awaiting past its expiry cannot be rejected", func() *Consent { return awaiting(&soon) }, at(2 * time.Hour), reject, ErrExpired, Rejected},
		{"authorised → authorised again is illegal", authorised, at(time.Minute), authorise("1"), ErrNotAwaiting, Authorised},
		{"authorised → rejected is illegal", authorised, at(time.Minute), reject, ErrNotAwaiting, Authorised},
		{"authorised → revoked", authorised, at(time.Minute), revoke, nil, Revoked},
		{"rejected → authorised is illegal", rejected, at(time.Minute), authorise("1"), ErrNotAwaiting, Rejected},
		{"rejected → rejected is illegal", rejected, at(time.Minute), reject, ErrNotAwaiting, Rejected},
		{"rejected → revoked is illegal", rejected, at(time.Minute), revoke, ErrNotAuthorised, Rejected},
		{"revoked → authorised is illegal", revoked, at(time.Minute), authorise("1"), ErrNotAwaiting, Revoked},
		{"revoked → revoked is illegal", revoked, at(time.Minute), revoke, ErrNotAuthorised, Revoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.start()
			before := *c
			err := tc.transition(c, tc.when)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if got := c.StatusAt(tc.when); got != tc.status {
				t.Fatalf("status = %s, want %s", got, tc.status)
			}
			if err != nil && (c.Status != before.Status || !c.UpdatedAt.Equal(before.UpdatedAt) || len(c.AccountIDs) != len(before.AccountIDs)) {
				t.Fatal("a refused transition changed the consent")
			}
			if err == nil && !c.UpdatedAt.Equal(tc.when) {
				t.Fatalf("StatusUpdateDateTime = %v, want %v", c.UpdatedAt, tc.when)
			}
		})
	}
}

func TestUsable(t *testing.T) {
	t.Parallel()
	soon := at(time.Hour)
	c := awaiting(&soon)
	if c.Usable(at(time.Minute)) {
		t.Fatal("an awaiting consent is usable")
	}
	c.Authorise("psu", []string{"1"}, at(time.Minute))
	if !c.Usable(at(30*time.Minute)) || c.Usable(soon) || c.Usable(at(2*time.Hour)) {
		t.Fatal("usable outside [authorised, expiry)")
	}
	if c.StatusAt(at(2*time.Hour)) != Authorised {
		t.Fatal("expiry changed an authorised consent's status (it stays Authorised, unusable)")
	}
	if !c.HasAccount("1") || c.HasAccount("2") {
		t.Fatal("HasAccount")
	}
}

func TestStatusChangedAtWhenWindowLapses(t *testing.T) {
	t.Parallel()
	c := awaiting(nil)
	later := at(AuthorisationWindow + time.Hour)
	if c.StatusAt(later) != Rejected || !c.StatusChangedAt(later).Equal(at(AuthorisationWindow)) {
		t.Fatalf("lapsed consent: %s at %v", c.StatusAt(later), c.StatusChangedAt(later))
	}
}
