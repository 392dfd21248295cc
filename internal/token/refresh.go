package token

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

const refreshKind = "rt"

// Refresh is what a refresh token stands for: the user's grant to one client under one
// consent. It is not rotated (FAPI 2.0 advises against rotation); it dies with its
// consent, its expiry or a revocation.
type Refresh struct {
	ClientID       string `json:"client_id"`
	Subject        string `json:"sub"`
	ConsentID      string `json:"consent_id"`
	Scope          string `json:"scope"`
	CertThumbprint string `json:"x5t_s256,omitempty"`
	AuthTime       int64  `json:"auth_time"`
	ACR            string `json:"acr,omitempty"`
	ExpiresAt      int64  `json:"exp"`
	// Access lists the live access tokens issued under this refresh token, so that revoking
	// it ends them too (RFC 7009 §2.1) without the gate reading the refresh token on every
	// request. Their expiry never passes the refresh token's.
	Access []Issued `json:"at,omitempty"`
}

// Issued is an access token a refresh token ends with it: its store key and expiry.
type Issued struct {
	Key       string `json:"k"`
	ExpiresAt int64  `json:"exp"`
}

// MintRefresh stores the record under a new refresh token.
func MintRefresh(t store.Txn, rec *Refresh, ttl time.Duration) (string, error) {
	return mint(t, refreshKind, rec, ttl)
}

// LookupRefresh returns the live record of tok, or ErrInvalid.
func LookupRefresh(r store.Reader, tok string, now time.Time) (*Refresh, error) {
	var rec Refresh
	if err := lookup(r, refreshKind, tok, &rec); err != nil {
		return nil, err
	}
	if !rec.Live(now) {
		return nil, ErrInvalid
	}
	return &rec, nil
}

// Live tells whether the refresh token has not expired at now.
func (rec *Refresh) Live(now time.Time) bool { return now.Unix() < rec.ExpiresAt }

// DecodeRefresh reads a stored refresh token record, for readers that cache its decoding
// (store.Decoded at RefreshKey); they check Live themselves.
func DecodeRefresh(buf []byte) (*Refresh, error) {
	var rec Refresh
	if err := json.Unmarshal(buf, &rec); err != nil {
		return nil, ErrInvalid
	}
	return &rec, nil
}

// RefreshKey is the store key of a refresh token.
func RefreshKey(tok string) string { return Key(refreshKind, tok) }

// LinkAccess records in the refresh token at refreshKey an access token issued under it
// (accessKey, expiring at exp), in the transaction that mints it; entries already expired
// at now are dropped, so the list holds only what revocation must end.
func LinkAccess(t store.Txn, refreshKey, accessKey string, exp int64, now time.Time) error {
	buf, err := t.Get(refreshKey)
	if err != nil {
		return err
	}
	rec, err := DecodeRefresh(buf)
	if err != nil {
		return err
	}
	live := rec.Access[:0]
	for _, a := range rec.Access {
		if now.Unix() < a.ExpiresAt {
			live = append(live, a)
		}
	}
	rec.Access = append(live, Issued{Key: accessKey, ExpiresAt: exp})
	ttl := time.Unix(rec.ExpiresAt, 0).Sub(now)
	if ttl <= 0 || exp > rec.ExpiresAt {
		// Put keeps a record with no TTL forever, and an access token outliving the
		// refresh token would outlive its revocation.
		return ErrInvalid
	}
	if buf, err = json.Marshal(rec); err != nil {
		return err
	}
	return t.Put(refreshKey, buf, ttl)
}

// RevokeRefresh deletes tok's record and the access tokens issued under it.
func RevokeRefresh(t store.Txn, tok string) error {
	key := RefreshKey(tok)
	buf, err := t.Get(key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	// A record that cannot be read has no list to follow; it goes all the same.
	if rec, err := DecodeRefresh(buf); err == nil {
		for _, a := range rec.Access {
			if err := t.Delete(a.Key); err != nil {
				return err
			}
		}
	}
	return t.Delete(key)
}
