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
	ClientID          string `json:"client_id"`
	Subject           string `json:"sub"`
	Scope             string `json:"scope"`
	ACR               string `json:"acr,omitempty"`
	BindingMessage    string `json:"binding_message,omitempty"`
	ConsentID         string `json:"consent_id"`
	Mode              string `json:"mode"`
	NotificationToken string `json:"notification_token,omitempty"`
	// AuthReqID is kept only for ping and push clients, whose callbacks must carry it.
	// Push clients may not redeem it, and a ping client still needs its own credentials.
	AuthReqID      string        `json:"auth_req_id,omitempty"`
	CertThumbprint string        `json:"x5t_s256,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
	ExpiresAt      time.Time     `json:"expires_at"`
	Interval       time.Duration `json:"interval"`
	State          State         `json:"state"`
	DecidedAt      time.Time     `json:"decided_at,omitzero"`
	LastPollAt     time.Time     `json:"last_poll_at,omitzero"`
	// Pinged is set when the ping went out; the first poll after it is not throttled.
	Pinged bool `json:"pinged,omitempty"`
	// Minted holds the store keys of the tokens issued on redemption, revoked if the
	// auth_req_id is replayed.
	Minted []string `json:"minted,omitempty"`
}

// Tombstone is how long a request outlives its expiry, to answer expired_token rather
// than invalid_grant (the conformance suite checks it).
const Tombstone = 10 * time.Minute

// Key is the store key of an auth_req_id: its hash, so the store never holds a
// redeemable id (except as AuthReqID above).
func Key(authReqID string) string { return token.Key(keyKind, authReqID) }

const keyKind = "areq"

// KeyPrefix starts the key of every stored request, for listings.
const KeyPrefix = keyKind + "/"

// Save writes the request under its key.
func Save(t store.Txn, key string, r *Request) error {
	buf, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// Never 0: the store reads a zero TTL as "keep forever".
	return t.Put(key, buf, max(time.Until(r.ExpiresAt)+Tombstone, time.Second))
}

// Load reads the request stored under key.
func Load(t store.Reader, key string) (*Request, error) {
	buf, err := t.Get(key)
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
	k := Key(authReqID)
	r, err = Load(t, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.InvalidGrant("the auth_req_id is unknown"), nil
	}
	if err != nil {
		return nil, nil, err
	}
	outcome := r.decide(clientID, now)
	if outcome != nil && outcome.Code == "invalid_grant" {
		if r.State == Redeemed && r.ClientID == clientID && len(r.Minted) > 0 {
			// A replayed auth_req_id may have leaked with what it minted: revoke that too.
			if err := r.revokeMinted(t, k); err != nil {
				return nil, nil, err
			}
		}
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
	if err := Save(t, k, r); err != nil {
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
	case Withdrawn:
		return oauth.TokenWithdrawn()
	}
	return nil
}

func (r *Request) revokeMinted(t store.Txn, k string) error {
	for _, m := range r.Minted {
		if err := t.Delete(m); err != nil {
			return err
		}
	}
	r.Minted = nil
	return Save(t, k, r)
}

// Live tells whether the request still waits for the user at now.
func (r *Request) Live(now time.Time) bool { return r.State == Pending && now.Before(r.ExpiresAt) }
