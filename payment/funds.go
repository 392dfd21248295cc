package payment

import (
	"net/http"
	"strings"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
)

// Date keeps an ISO 8601 date-time as written beside its parsed value.
type Date struct {
	Raw  string    `json:"raw"`
	Time time.Time `json:"time"`
}

// FundsConsentRequest is a validated OBFundsConfirmationConsent1.
type FundsConsentRequest struct {
	Expiration    *Date
	DebtorAccount Account
}

const fundsConsentMessage = "The funds confirmation consent request is invalid"

// ParseFundsConsent decodes and validates an OBFundsConfirmationConsent1 body at now;
// the error is an *obie.Error (400) listing every problem.
func ParseFundsConsent(body []byte, now time.Time) (*FundsConsentRequest, error) {
	top, err := topObject(body, fundsConsentMessage)
	if err != nil {
		return nil, err
	}
	c := &checker{}
	c.only(top, "", "Data")
	req := &FundsConsentRequest{}
	if data := c.object(top, "Data", "", true); data != nil {
		c.only(data, "Data", "ExpirationDateTime", "DebtorAccount")
		if raw, t := c.dateTime(data, "ExpirationDateTime", "Data"); raw != "" {
			if !t.After(now) {
				c.add(obie.CodeFieldInvalidDate, "Data.ExpirationDateTime", "ExpirationDateTime must be in the future")
			}
			req.Expiration = &Date{Raw: raw, Time: t}
		}
		if acc := c.object(data, "DebtorAccount", "Data", true); acc != nil {
			if a := c.account(acc, "Data.DebtorAccount", false); a != nil {
				req.DebtorAccount = *a
			}
		}
	}
	if err := c.err(fundsConsentMessage); err != nil {
		return nil, err
	}
	return req, nil
}

// FundsConfirmationRequest is a validated OBFundsConfirmation1.
type FundsConfirmationRequest struct {
	ConsentID        string
	Reference        string
	InstructedAmount Amount
}

const fundsMessage = "The funds confirmation request is invalid"

// ParseFundsConfirmation decodes and validates a POST /funds-confirmations body; the
// gate then checks ConsentID is the token's consent (Resource.ConsentMismatch, Path
// Data.ConsentId).
func ParseFundsConfirmation(body []byte) (*FundsConfirmationRequest, error) {
	top, err := topObject(body, fundsMessage)
	if err != nil {
		return nil, err
	}
	c := &checker{}
	c.only(top, "", "Data")
	req := &FundsConfirmationRequest{}
	if data := c.object(top, "Data", "", true); data != nil {
		c.only(data, "Data", "ConsentId", "Reference", "InstructedAmount")
		req.ConsentID = c.text(data, "ConsentId", "Data", 1, 128, true)
		req.Reference = c.text(data, "Reference", "Data", 1, 35, true)
		if amt := c.object(data, "InstructedAmount", "Data", true); amt != nil {
			req.InstructedAmount = c.amount(amt, "Data.InstructedAmount", Policy{})
		}
	}
	if err := c.err(fundsMessage); err != nil {
		return nil, err
	}
	return req, nil
}

// FundsConsent is a funds-confirmation consent (CBPII).
type FundsConsent struct {
	ID            string    `json:"id"`
	ClientID      string    `json:"client_id"`
	Status        Status    `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Expiration    *Date     `json:"expiration,omitempty"`
	DebtorAccount Account   `json:"debtor_account"`
	// Set when the user authorises: who, and their AccountId of DebtorAccount.
	Subject      string     `json:"subject,omitempty"`
	AccountID    string     `json:"account_id,omitempty"`
	AuthorisedAt *time.Time `json:"authorised_at,omitempty"`
}

// FundsAuthorisationWindow is how long a funds consent may await authorisation before
// it counts as Rejected.
const FundsAuthorisationWindow = 24 * time.Hour

// NewFunds is a new funds consent of the client awaiting authorisation.
func NewFunds(clientID string, req *FundsConsentRequest, now time.Time) *FundsConsent {
	now = now.UTC().Truncate(time.Second)
	return &FundsConsent{
		ID:            NewFundsID(),
		ClientID:      clientID,
		Status:        AwaitingAuthorisation,
		CreatedAt:     now,
		UpdatedAt:     now,
		Expiration:    req.Expiration,
		DebtorAccount: req.DebtorAccount,
	}
}

// Expired tells whether the ExpirationDateTime has passed.
func (f *FundsConsent) Expired(now time.Time) bool {
	return f.Expiration != nil && !now.Before(f.Expiration.Time)
}

// StatusAt is the status at now: one awaiting authorisation past the window or its
// expiry has been Rejected.
func (f *FundsConsent) StatusAt(now time.Time) Status {
	if f.Status == AwaitingAuthorisation && (now.Sub(f.CreatedAt) >= FundsAuthorisationWindow || f.Expired(now)) {
		return Rejected
	}
	return f.Status
}

// StatusChangedAt is when StatusAt last changed.
func (f *FundsConsent) StatusChangedAt(now time.Time) time.Time {
	if f.Status == AwaitingAuthorisation && f.StatusAt(now) == Rejected {
		lapse := f.CreatedAt.Add(FundsAuthorisationWindow)
		if f.Expiration != nil && f.Expiration.Time.Before(lapse) {
			lapse = f.Expiration.Time
		}
		return lapse
	}
	return f.UpdatedAt
}

// Usable tells whether the consent's token may confirm funds at now.
func (f *FundsConsent) Usable(now time.Time) bool {
	return f.Status == Authorised && !f.Expired(now)
}

// Authorise records the user's approval; accountID is the user's AccountId of the
// consent's DebtorAccount, which the caller has matched.
func (f *FundsConsent) Authorise(subject, accountID string, now time.Time) error {
	if f.Expired(now) {
		return ErrExpired
	}
	if f.StatusAt(now) != AwaitingAuthorisation {
		return ErrNotAwaiting
	}
	if accountID == "" {
		return ErrNoDebtor
	}
	f.Status, f.Subject, f.AccountID, f.UpdatedAt = Authorised, subject, accountID, now
	f.AuthorisedAt = &now
	return nil
}

// Reject records the user's denial.
func (f *FundsConsent) Reject(now time.Time) error {
	if f.StatusAt(now) != AwaitingAuthorisation {
		return ErrNotAwaiting
	}
	f.Status, f.UpdatedAt = Rejected, now
	return nil
}

// Revoke ends an authorised consent from the bank's or the customer's side.
func (f *FundsConsent) Revoke(now time.Time) error {
	if f.Status != Authorised {
		return ErrNotAuthorised
	}
	f.Status, f.UpdatedAt = Revoked, now
	return nil
}

// CheckFundsConfirmation is the gate's check of a POST /funds-confirmations body made
// with a token of consent f: a valid OBFundsConfirmation1 naming f, which is Authorised
// and unexpired at now. The error is an *obie.Error: the body's problems,
// Resource.ConsentMismatch at Data.ConsentId, or Resource.InvalidConsentStatus.
func CheckFundsConfirmation(f *FundsConsent, body []byte, now time.Time) (*FundsConfirmationRequest, error) {
	req, err := ParseFundsConfirmation(body)
	if err != nil {
		return nil, err
	}
	if req.ConsentID != f.ID {
		return nil, &obie.Error{Status: http.StatusBadRequest, Message: "The request names another consent",
			Items: []obie.Item{{ErrorCode: obie.CodeConsentMismatch, Message: "ConsentId is not the consent of the access token", Path: "Data.ConsentId"}}}
	}
	if !f.Usable(now) {
		return nil, Problem(ErrNotAuthorised)
	}
	return req, nil
}

// IsDomesticID tells whether a ConsentId names a domestic payment consent.
func IsDomesticID(id string) bool { return strings.HasPrefix(id, DomesticIDPrefix) }

// IsFundsID tells whether a ConsentId names a funds-confirmation consent.
func IsFundsID(id string) bool { return strings.HasPrefix(id, FundsIDPrefix) }
