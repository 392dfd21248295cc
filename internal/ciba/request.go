// Package ciba is the backchannel authentication request and its state machine:
// pending → approved | denied | expired → redeemed, kept in the store past expiry so a late
// poll hears expired_token, and redeemed in one transaction so racing polls mint once.
package ciba

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// State is where a request stands.
type State string

const (
	Pending  State = "pending"
	Approved State = "approved"
	Denied   State = "denied"
	Redeemed State = "redeemed"
)

// Request is one backchannel authentication request.
type Request struct {
	ClientID          string        `json:"client_id"`
	Subject           string        `json:"sub"`
	Scope             string        `json:"scope"`
	ACR               string        `json:"acr,omitempty"`
	BindingMessage    string        `json:"binding_message,omitempty"`
	ConsentID         string        `json:"consent_id"`
	Mode              string        `json:"mode"`
	NotificationToken string        `json:"notification_token,omitempty"`
	CertThumbprint    string        `json:"x5t_s256,omitempty"`
	CreatedAt         time.Time     `json:"created_at"`
	ExpiresAt         time.Time     `json:"expires_at"`
	Interval          time.Duration `json:"interval"`
	State             State         `json:"state"`
	DecidedAt         time.Time     `json:"decided_at,omitzero"`
	LastPollAt        time.Time     `json:"last_poll_at,omitzero"`
	// Pinged is set when the ping went out; the first poll after it is not throttled.
	Pinged bool `json:"pinged,omitempty"`
}

// Tombstone is how long a request outlives its expiry, to answer expired_token rather
// than invalid_grant (the conformance suite checks it).
const Tombstone = 10 * time.Minute

func key(authReqID string) string { return token.Key("areq", authReqID) }

// Save writes the request under its auth_req_id (stored hashed).
func Save(t store.Txn, authReqID string, r *Request) error {
	buf, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// Never 0: the store reads a zero TTL as "keep forever".
	return t.Put(key(authReqID), buf, max(time.Until(r.ExpiresAt)+Tombstone, time.Second))
}

// Load reads the request of an auth_req_id.
func Load(t store.Reader, authReqID string) (*Request, error) {
	buf, err := t.Get(key(authReqID))
	if err != nil {
		return nil, err
	}
	var r Request
	if err := json.Unmarshal(buf, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Poll applies one token-endpoint poll by clientID at now, inside t: it records the poll
// and, for an approved request, marks it redeemed and returns it for minting in the same
// transaction. Otherwise answer is the OAuth answer of CIBA Core §11; the caller commits t
// either way, so the poll's time counts for slow_down. err is a storage failure.
func Poll(t store.Txn, authReqID, clientID string, now time.Time) (r *Request, answer *oauth.Error, err error) {
	r, err = Load(t, authReqID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.InvalidGrant("the auth_req_id is unknown"), nil
	}
	if err != nil {
		return nil, nil, err
	}
	outcome := r.decide(clientID, now)
	if outcome != nil && outcome.Code == "invalid_grant" {
		return nil, outcome, nil
	}
	if outcome != nil && outcome.Code == "slow_down" && r.Pinged {
		outcome = r.stateError() // the first poll after a ping is not throttled
	}
	if outcome == nil {
		r.State = Redeemed
	}
	r.Pinged = false
	r.LastPollAt = now
	if err := Save(t, authReqID, r); err != nil {
		return nil, nil, err
	}
	if outcome != nil {
		return nil, outcome, nil
	}
	return r, nil, nil
}

// decide is the decision table: nil means approved and redeemable now.
func (r *Request) decide(clientID string, now time.Time) *oauth.Error {
	switch {
	case r.ClientID != clientID:
		return oauth.InvalidGrant("the auth_req_id was issued to another client")
	case r.State == Redeemed:
		return oauth.InvalidGrant("the auth_req_id was already used")
	case !now.Before(r.ExpiresAt):
		return oauth.ExpiredToken()
	case !r.LastPollAt.IsZero() && now.Sub(r.LastPollAt) < r.Interval:
		return oauth.SlowDown()
	}
	return r.stateError()
}

func (r *Request) stateError() *oauth.Error {
	switch r.State {
	case Pending:
		return oauth.AuthorizationPending()
	case Denied:
		return oauth.TokenDenied()
	}
	return nil
}
