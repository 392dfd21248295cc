// Package payment holds the UK Open Banking v3.1 payment-side resources the gateway keeps:
// domestic payment consents (PISP) and funds-confirmation consents (CBPII) — their
// validation, lifecycle and storage —, the check that a payment equals its consent, and
// the idempotency records of the payment POSTs. It does not import Caddy; every time is
// passed in by the caller.
//
// The CIBA side (backchannel request and device):
//
//   - IsDomesticID / IsFundsID tell which kind a ConsentId from a request object names;
//     Repo.Domestic / Repo.Funds (or ReadDomestic / ReadFunds inside a transaction) load
//     it; it must be the client's and StatusAt(now) == AwaitingAuthorisation.
//   - Consent.View / FundsConsent.View: payee name and account, amount and currency,
//     reference, the fixed debtor account if any — what the device shows.
//   - The decision, inside the CIBA request's transaction: ChangeDomestic(t, id, now,
//     func(c) { return c.Authorise(sub, Debtor{AccountID, Account}, now) }) or c.Reject;
//     ChangeFunds with FundsConsent.Authorise(sub, accountID, now) / Reject.
//
// The gate, on POST /domestic-payments with a CIBA token of consent id:
//
//  1. c, err := repo.Domestic(id); c.ClientID must be the token's client.
//  2. Compare(c, body): !ok → Mismatch(path) (400 ConsentMismatch, never forwarded).
//  3. repo.ClaimOrWait(ctx, IdempotencyKey{"domestic-payments", client, key}, body, clock):
//     a stored answer is replayed (racing repeats wait for the first's answer);
//     ErrIdempotencyMismatch, ErrInvalidIdempotencyKey, ErrInProgress → Problem(err).
//  4. res, _, err := repo.Reserve(client, id, now): one forward per consent, across
//     instances; errors → repo.Abandon(key) and Problem(err) (InvalidConsentStatus,
//     Rules.AfterCutOffDateTime).
//  5. Forward. Bank 2xx → repo.Consume(res, paymentID, now) and repo.Complete(key,
//     answer); bank error or timeout → repo.Release(res, now) and repo.Abandon(key).
//
// GET …/{ConsentId}/funds-confirmation needs c.Usable(now). POST /funds-confirmations:
// CheckFundsConfirmation(f, body, now).
package payment

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
)

// Status is a consent's status (OBExternalConsentStatus1Code for payments,
// OBExternalRequestStatus1Code for funds confirmation).
type Status string

const (
	AwaitingAuthorisation Status = "AwaitingAuthorisation"
	Authorised            Status = "Authorised"
	Rejected              Status = "Rejected"
	Consumed              Status = "Consumed"
	Revoked               Status = "Revoked"
)

// TimeLayout is ISO 8601 with a numeric zone, as the Open Banking examples write it.
const TimeLayout = "2006-01-02T15:04:05-07:00"

// Lifecycle errors. Problem turns each into its OB answer.
var (
	ErrNotFound      = errors.New("consent not found")
	ErrNotAwaiting   = errors.New("the consent is not awaiting authorisation")
	ErrNotAuthorised = errors.New("the consent is not authorised")
	ErrAfterCutOff   = errors.New("the consent's CutOffDateTime has passed")
	ErrReserved      = errors.New("a payment on the consent is already under way")
	ErrNotReserved   = errors.New("the consent is not reserved by this payment")
	ErrExpired       = errors.New("the consent has expired")
	ErrNoDebtor      = errors.New("a debtor account must be chosen")
	ErrDebtorFixed   = errors.New("the consent names another debtor account")
)

// Consent is a domestic payment consent.
type Consent struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	Status    Status    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// CutOff is the CutOffDateTime: the consent can be authorised and paid before it only.
	CutOff time.Time `json:"cut_off"`
	// Initiation and Risk are canonical JSON: a payment must equal them.
	Initiation        json.RawMessage `json:"initiation"`
	Risk              json.RawMessage `json:"risk"`
	Authorisation     *Authorisation  `json:"authorisation,omitempty"`
	SCASupportData    json.RawMessage `json:"sca_support_data,omitempty"`
	ReadRefundAccount string          `json:"read_refund_account,omitempty"`

	// Set when the user authorises: who, and the account the payment is made from (the
	// user's AccountId and its OB identification).
	Subject         string     `json:"subject,omitempty"`
	DebtorAccountID string     `json:"debtor_account_id,omitempty"`
	Debtor          *Account   `json:"debtor,omitempty"`
	AuthorisedAt    *time.Time `json:"authorised_at,omitempty"`

	// Reservation is set while one payment on the consent is being forwarded; it is the
	// secret that forward holds to consume or release it.
	Reservation string     `json:"reservation,omitempty"`
	ReservedAt  *time.Time `json:"reserved_at,omitempty"`
	// PaymentID is the bank's DomesticPaymentId of the payment that consumed the consent.
	PaymentID string `json:"payment_id,omitempty"`
}

// NewDomestic is a new consent of the client awaiting authorisation, made from a
// validated request at now; Repo.SaveDomestic stores it.
func NewDomestic(clientID string, req *DomesticConsentRequest, now time.Time, pol Policy) *Consent {
	now = now.UTC().Truncate(time.Second)
	cut := now.Add(pol.cutOff())
	if a := req.Authorisation; a != nil && !a.Completion.IsZero() && a.Completion.Before(cut) {
		cut = a.Completion.UTC()
	}
	return &Consent{
		ID:                NewDomesticID(),
		ClientID:          clientID,
		Status:            AwaitingAuthorisation,
		CreatedAt:         now,
		UpdatedAt:         now,
		CutOff:            cut,
		Initiation:        req.InitiationJSON,
		Risk:              req.RiskJSON,
		Authorisation:     req.Authorisation,
		SCASupportData:    req.SCASupportData,
		ReadRefundAccount: req.ReadRefundAccount,
	}
}

// AfterCutOff tells whether the consent can no longer be authorised or paid.
func (c *Consent) AfterCutOff(now time.Time) bool { return !now.Before(c.CutOff) }

// StatusAt is the status at now: a consent still awaiting authorisation at its cut-off
// has been Rejected.
func (c *Consent) StatusAt(now time.Time) Status {
	if c.Status == AwaitingAuthorisation && c.AfterCutOff(now) {
		return Rejected
	}
	return c.Status
}

// StatusChangedAt is when StatusAt last changed.
func (c *Consent) StatusChangedAt(now time.Time) time.Time {
	if c.Status == AwaitingAuthorisation && c.AfterCutOff(now) {
		return c.CutOff
	}
	return c.UpdatedAt
}

// Usable tells whether a payment may be made on the consent at now (it may be reserved).
func (c *Consent) Usable(now time.Time) bool {
	return c.Status == Authorised && !c.AfterCutOff(now)
}

// ReadInitiation decodes the parts of the stored Initiation the gateway reads.
func (c *Consent) ReadInitiation() (*Initiation, error) {
	var ini Initiation
	if err := json.Unmarshal(c.Initiation, &ini); err != nil {
		return nil, err
	}
	return &ini, nil
}

// Debtor is the account the user chose on the device.
type Debtor struct {
	// AccountID is the user's AccountId (users file) of the account paid from.
	AccountID string
	// Account is its OB identification, when the bank's users file knows it; it must be
	// the consent's DebtorAccount when the Initiation names one.
	Account *Account
}

// Authorise records the user's approval and the account they pay from. When the
// Initiation fixes the DebtorAccount, that is the account; the caller checks the user
// holds AccountID.
func (c *Consent) Authorise(subject string, d Debtor, now time.Time) error {
	if c.StatusAt(now) != AwaitingAuthorisation {
		if c.Status == AwaitingAuthorisation {
			return ErrAfterCutOff
		}
		return ErrNotAwaiting
	}
	if d.AccountID == "" {
		return ErrNoDebtor
	}
	ini, err := c.ReadInitiation()
	if err != nil {
		return err
	}
	debtor := d.Account
	if fixed := ini.DebtorAccount; fixed != nil {
		if debtor != nil && !debtor.Same(fixed) {
			return ErrDebtorFixed
		}
		debtor = fixed
	}
	c.Status, c.Subject, c.DebtorAccountID, c.Debtor, c.UpdatedAt = Authorised, subject, d.AccountID, debtor, now
	c.AuthorisedAt = &now
	return nil
}

// Reject records the user's denial (or a failed authentication).
func (c *Consent) Reject(now time.Time) error {
	if c.StatusAt(now) != AwaitingAuthorisation {
		return ErrNotAwaiting
	}
	c.Status, c.UpdatedAt = Rejected, now
	return nil
}

// reserve takes the consent for one payment.
func (c *Consent) reserve(token string, now time.Time) error {
	switch {
	case c.Status != Authorised:
		return ErrNotAuthorised
	case c.Reservation != "":
		return ErrReserved
	case c.AfterCutOff(now):
		return ErrAfterCutOff
	}
	c.Reservation, c.ReservedAt = token, &now
	return nil
}

// consume ends the consent: the bank accepted the payment.
func (c *Consent) consume(token, paymentID string, now time.Time) error {
	if c.Status != Authorised || c.Reservation == "" || c.Reservation != token {
		return ErrNotReserved
	}
	c.Status, c.UpdatedAt, c.PaymentID = Consumed, now, paymentID
	c.Reservation, c.ReservedAt = "", nil
	return nil
}

// release gives the consent back: the bank refused or did not answer.
func (c *Consent) release(token string) error {
	if c.Status != Authorised || c.Reservation == "" || c.Reservation != token {
		return ErrNotReserved
	}
	c.Reservation, c.ReservedAt = "", nil
	return nil
}

// Problem is the OB answer for an error of this package: a validation error as it is,
// a lifecycle error as its UK.OBIE code (400), ErrNotFound as Resource.NotFound (400);
// anything else is nil (the caller answers 500).
func Problem(err error) *obie.Error {
	var oe *obie.Error
	if errors.As(err, &oe) {
		return oe
	}
	item := func(code, msg, path string) *obie.Error {
		return &obie.Error{Status: http.StatusBadRequest, Message: msg, Items: []obie.Item{{ErrorCode: code, Message: err.Error(), Path: path}}}
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return item(obie.CodeResourceNotFound, "Consent not found", "ConsentId")
	case errors.Is(err, ErrAfterCutOff):
		return item(obie.CodeAfterCutOff, "The consent's cut-off has passed", "Data.CutOffDateTime")
	case errors.Is(err, ErrIdempotencyMismatch):
		return item(obie.CodeHeaderInvalid, "The idempotency key was used for another request", "x-idempotency-key")
	case errors.Is(err, ErrInvalidIdempotencyKey):
		return item(obie.CodeHeaderInvalid, "The idempotency key is invalid", "x-idempotency-key")
	case errors.Is(err, ErrInProgress):
		return &obie.Error{Status: http.StatusConflict, Message: "The first request with this idempotency key is still being processed",
			Items: []obie.Item{{ErrorCode: obie.CodeHeaderInvalid, Message: err.Error(), Path: "x-idempotency-key"}}}
	case errors.Is(err, ErrNotAwaiting), errors.Is(err, ErrNotAuthorised), errors.Is(err, ErrReserved),
		errors.Is(err, ErrNotReserved), errors.Is(err, ErrExpired):
		return item(obie.CodeInvalidConsent, "The consent's status does not allow this", "Data.Status")
	case errors.Is(err, ErrNoDebtor), errors.Is(err, ErrDebtorFixed):
		return item(obie.CodeFieldInvalid, "The debtor account is not allowed", "Data.Initiation.DebtorAccount")
	}
	return nil
}
