// Package ciba is the backchannel authentication request and its state machine:
// pending → approved | denied | expired → redeemed, kept in the store past expiry so a late
// poll hears expired_token, and redeemed in one transaction so racing polls mint once.
package ciba

import (
	"encoding/json"
	"errors"
	"strings"
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

// Requests keeps backchannel requests in the store: each as JSON under "areq/" and the
// hash of its auth_req_id (so the store never holds a redeemable id, except as AuthReqID
// above), kept Tombstone past its expiry; and each consent's claim on the live request
// that holds it under "areq-consent/<ConsentId>". Its keys are built nowhere else. The
// zero value is ready to use; time always comes from the caller.
type Requests struct{}

const (
	requestKind     = "areq"
	requestPrefix   = requestKind + "/"
	consentLockPref = "areq-consent/"
)

func consentLockKey(consentID string) string { return consentLockPref + consentID }

// Key is the store key of an auth_req_id, what device links, pending lists and consent
// locks refer to a request by.
func (Requests) Key(authReqID string) string { return token.Key(requestKind, authReqID) }

// Save writes the request under its key, to live until Tombstone past its expiry as of now.
func (Requests) Save(t store.Txn, key string, r *Request, now time.Time) error {
	buf, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// Never 0: the store reads a zero TTL as "keep forever".
	return t.Put(key, buf, max(r.ExpiresAt.Sub(now)+Tombstone, time.Second))
}

// Load reads the request stored under key; store.ErrNotFound when there is none.
func (Requests) Load(rd store.Reader, key string) (*Request, error) {
	buf, err := rd.Get(key)
	if err != nil {
		return nil, err
	}
	var r Request
	if err := json.Unmarshal(buf, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Each calls fn with every stored request and its id (the hash its key is made of, never
// the auth_req_id), until fn returns an error.
func (Requests) Each(s store.Store, fn func(id string, r *Request) error) error {
	return s.Scan(requestPrefix, func(key string, val []byte) error {
		var r Request
		if err := json.Unmarshal(val, &r); err != nil {
			return err
		}
		return fn(strings.TrimPrefix(key, requestPrefix), &r)
	})
}

// Poll applies one token-endpoint poll by clientID at now, inside t: it records the poll
// and, for an approved request, marks it redeemed and returns it for minting in the same
// transaction. Otherwise answer is the OAuth answer of CIBA Core §11; the caller commits t
// either way, so the poll's time counts for slow_down. err is a storage failure.
func (rs Requests) Poll(t store.Txn, authReqID, clientID string, now time.Time) (r *Request, answer *oauth.Error, err error) {
	k := rs.Key(authReqID)
	r, err = rs.Load(t, k)
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
			if err := rs.revokeMinted(t, k, r, now); err != nil {
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
	if err := rs.Save(t, k, r, now); err != nil {
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

func (rs Requests) revokeMinted(t store.Txn, k string, r *Request, now time.Time) error {
	for _, m := range r.Minted {
		if err := t.Delete(m); err != nil {
			return err
		}
	}
	r.Minted = nil
	return rs.Save(t, k, r, now)
}

// Live tells whether the request still waits for the user at now.
func (r *Request) Live(now time.Time) bool { return r.State == Pending && now.Before(r.ExpiresAt) }
