package notifier

import (
	"context"
	"time"
)

// Notification is what the user's authentication device receives for one backchannel
// request. It carries the one-time device token, so it must never be logged whole.
type Notification struct {
	ID        string `json:"id"`
	Subject   string `json:"subject"`
	LoginHint string `json:"login_hint"`
	// Email is the user's mail address, for the smtp channel; empty when unknown.
	Email          string         `json:"email,omitempty"`
	ClientID       string         `json:"client_id"`
	ClientName     string         `json:"client_name"`
	BindingMessage string         `json:"binding_message,omitempty"`
	Scope          string         `json:"scope"`
	Consent        ConsentSummary `json:"consent"`
	// Payment is what a payment or funds-confirmation consent asks; nil for account access.
	Payment     *PaymentSummary `json:"payment,omitempty"`
	Accounts    []any           `json:"accounts"`
	DeviceURL   string          `json:"device_url"`
	DecisionURL string          `json:"decision_url"`
	DeviceToken string          `json:"device_token"`
	ExpiresAt   time.Time       `json:"expires_at"`
}

// ConsentSummary is the part of the consent the user decides on.
type ConsentSummary struct {
	ConsentID          string   `json:"ConsentId"`
	Permissions        []string `json:"Permissions"`
	ExpirationDateTime string   `json:"ExpirationDateTime,omitempty"`
}

// The kinds of PaymentSummary.
const (
	KindPayment = "domestic-payment"
	KindFunds   = "funds-confirmation"
)

// PaymentSummary is what the user approves on a payment or funds-confirmation consent:
// what is paid, to whom, from where. Account numbers are masked to their last four
// characters ("••••5698"), as everywhere the device shows an account.
type PaymentSummary struct {
	// Kind is "domestic-payment" or "funds-confirmation".
	Kind         string `json:"kind"`
	PayeeName    string `json:"payee_name,omitempty"`
	PayeeAccount string `json:"payee_account,omitempty"`
	Amount       string `json:"amount,omitempty"`
	Currency     string `json:"currency,omitempty"`
	Reference    string `json:"reference,omitempty"`
	// DebtorAccount is the account the consent fixes (a payment's account to pay from, the
	// account a funds confirmation checks), masked; empty when the user chooses.
	DebtorAccount string `json:"debtor_account,omitempty"`
	// DebtorNotHeld: the consent fixes an account the user does not hold, so the request
	// cannot be approved, only denied.
	DebtorNotHeld bool `json:"debtor_not_held,omitempty"`
	// Until is the payment's CutOffDateTime or the funds consent's ExpirationDateTime
	// (ISO 8601); empty for none.
	Until string `json:"until,omitempty"`
}

// Channel delivers notifications to authentication devices. Notify returns once the
// notification is delivered or can no longer be (a refusal, or the context's deadline).
type Channel interface {
	Name() string
	Notify(ctx context.Context, n *Notification) error
}
