package token

import (
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// Refreshes keeps refresh tokens in the store: each record as JSON under "rt/" and its
// token's hash, expiring with the token, with the list of the access tokens issued under
// it. Its keys are built nowhere else (refresh.go holds the record and its linking); the
// zero value is ready to use.
type Refreshes struct{}

// Key is the store key of a refresh token, what access tokens are linked to it by.
func (Refreshes) Key(tok string) string { return RefreshKey(tok) }

// Mint stores the record under a new refresh token, to expire after ttl.
func (Refreshes) Mint(t store.Txn, rec *Refresh, ttl time.Duration) (string, error) {
	return MintRefresh(t, rec, ttl)
}

// Lookup returns the record of tok if it is live at now, or ErrInvalid.
func (Refreshes) Lookup(r store.Reader, tok string, now time.Time) (*Refresh, error) {
	return LookupRefresh(r, tok, now)
}

// Link records under the refresh token at refreshKey the access token at accessKey,
// expiring at exp (see LinkAccess).
func (Refreshes) Link(t store.Txn, refreshKey, accessKey string, exp int64, now time.Time) error {
	return LinkAccess(t, refreshKey, accessKey, exp, now)
}

// Revoke deletes tok's record and the access tokens issued under it (see RevokeRefresh).
func (Refreshes) Revoke(t store.Txn, tok string) error { return RevokeRefresh(t, tok) }
