package ciba

import (
	"errors"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// Withdrawn is a request that ended before the user decided: its consent was revoked,
// rejected or deleted, or its user was disabled. A poll hears access_denied and the device
// link 410.
const Withdrawn State = "withdrawn"

// ErrWithdrawn is a device-side answer on a withdrawn request.
var ErrWithdrawn = errors.New("ciba: the request was withdrawn")

// WithdrawConsent ends the live request that holds the consent, inside t, so it commits
// with the consent's own change. It returns the request ended, or nil when none was live.
func (rs Requests) WithdrawConsent(t store.Txn, consentID string, now time.Time) (*Request, string, error) {
	held, err := t.Get(consentLockKey(consentID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	r, err := rs.Withdraw(t, string(held), now)
	return r, string(held), err
}

// Withdraw ends the request under key if it still waits for the user; nil when it does
// not (decided, expired or gone), so a withdrawal never undoes a decision.
func (rs Requests) Withdraw(t store.Txn, key string, now time.Time) (*Request, error) {
	r, err := rs.Load(t, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil || !r.Live(now) {
		return nil, err
	}
	r.State, r.DecidedAt = Withdrawn, now
	return r, rs.Save(t, key, r, now)
}
