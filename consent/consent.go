package consent

import (
	"errors"
	"slices"
	"time"
)

// Status is the OBExternalRequestStatus1Code of a consent.
type Status string

const (
	AwaitingAuthorisation Status = "AwaitingAuthorisation"
	Authorised            Status = "Authorised"
	Rejected              Status = "Rejected"
	Revoked               Status = "Revoked"
)

// TimeLayout is ISO 8601 with a numeric zone, as the Open Banking examples write it.
const TimeLayout = "2006-01-02T15:04:05-07:00"

// Consent is an account-access consent.
type Consent struct {
	ID          string       `json:"id"`
	ClientID    string       `json:"client_id"`
	Status      Status       `json:"status"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	Permissions []Permission `json:"permissions"`
	// The dates as the TPP wrote them (the ASPSP must not modify them), and parsed.
	Expiration      *Date `json:"expiration,omitempty"`
	TransactionFrom *Date `json:"transaction_from,omitempty"`
	TransactionTo   *Date `json:"transaction_to,omitempty"`
	// Set when the user authorises: who, and which accounts they chose.
	Subject    string   `json:"subject,omitempty"`
	AccountIDs []string `json:"account_ids,omitempty"`
	// AuthorisedAt is when the user authorised it.
	AuthorisedAt *time.Time `json:"authorised_at,omitempty"`
}

// Date keeps an ISO 8601 date-time as written beside its parsed value.
type Date struct {
	Raw  string    `json:"raw"`
	Time time.Time `json:"time"`
}

// Lifecycle errors.
var (
	ErrNotAwaiting      = errors.New("the consent is not awaiting authorisation")
	ErrNotAuthorised    = errors.New("the consent is not authorised")
	ErrExpired          = errors.New("the consent has expired")
	ErrNoAccounts       = errors.New("at least one account must be selected")
	ErrDuplicateAccount = errors.New("an account is selected twice")
)

// AuthorisationWindow is how long a consent may await authorisation; after it, the consent
// counts as Rejected ("a PSU who does not complete the flow": UK OB status model).
const AuthorisationWindow = 24 * time.Hour

// Expired tells whether the consent's ExpirationDateTime has passed.
func (c *Consent) Expired(now time.Time) bool {
	return c.Expiration != nil && !now.Before(c.Expiration.Time)
}

// StatusAt is the status the consent has at now: an awaiting consent past the
// authorisation window (or its expiry) has been Rejected.
func (c *Consent) StatusAt(now time.Time) Status {
	if c.Status == AwaitingAuthorisation && (now.Sub(c.CreatedAt) >= AuthorisationWindow || c.Expired(now)) {
		return Rejected
	}
	return c.Status
}

// StatusChangedAt is when StatusAt last changed.
func (c *Consent) StatusChangedAt(now time.Time) time.Time {
	if c.Status == AwaitingAuthorisation && c.StatusAt(now) == Rejected {
		lapse := c.CreatedAt.Add(AuthorisationWindow)
		if c.Expiration != nil && c.Expiration.Time.Before(lapse) {
			lapse = c.Expiration.Time
		}
		return lapse
	}
	return c.UpdatedAt
}

// Usable tells whether the consent lets its tokens read accounts at now.
func (c *Consent) Usable(now time.Time) bool {
	return c.Status == Authorised && !c.Expired(now)
}

// Authorise records the user's approval with the accounts they chose. The caller checks
// the accounts belong to the user.
func (c *Consent) Authorise(subject string, accounts []string, now time.Time) error {
	if err := c.awaiting(now); err != nil {
		return err
	}
	if len(accounts) == 0 {
		return ErrNoAccounts
	}
	sorted := slices.Clone(accounts)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(accounts) {
		return ErrDuplicateAccount
	}
	c.Status, c.Subject, c.AccountIDs, c.UpdatedAt = Authorised, subject, slices.Clone(accounts), now
	c.AuthorisedAt = &now
	return nil
}

// Reject records the user's denial (or a failed authentication).
func (c *Consent) Reject(now time.Time) error {
	if err := c.awaiting(now); err != nil {
		return err
	}
	c.Status, c.UpdatedAt = Rejected, now
	return nil
}

// Revoke ends an authorised consent from the bank's side.
func (c *Consent) Revoke(now time.Time) error {
	if c.Status != Authorised {
		return ErrNotAuthorised
	}
	c.Status, c.UpdatedAt = Revoked, now
	return nil
}

func (c *Consent) awaiting(now time.Time) error {
	if c.Expired(now) {
		return ErrExpired
	}
	if c.StatusAt(now) != AwaitingAuthorisation {
		return ErrNotAwaiting
	}
	return nil
}

// HasAccount tells whether the user selected the account.
func (c *Consent) HasAccount(id string) bool { return slices.Contains(c.AccountIDs, id) }

// Has tells whether the consent grants p.
func (c *Consent) Has(p Permission) bool { return slices.Contains(c.Permissions, p) }
