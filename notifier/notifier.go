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
	Accounts       []any          `json:"accounts"`
	DeviceURL      string         `json:"device_url"`
	DecisionURL    string         `json:"decision_url"`
	DeviceToken    string         `json:"device_token"`
	ExpiresAt      time.Time      `json:"expires_at"`
}

// ConsentSummary is the part of the consent the user decides on.
type ConsentSummary struct {
	ConsentID          string   `json:"ConsentId"`
	Permissions        []string `json:"Permissions"`
	ExpirationDateTime string   `json:"ExpirationDateTime,omitempty"`
}

// Channel delivers notifications to authentication devices. Notify returns once the
// notification is delivered or can no longer be (a refusal, or the context's deadline).
type Channel interface {
	Name() string
	Notify(ctx context.Context, n *Notification) error
}
