package token

import (
	"encoding/json"
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

// RevokeRefresh deletes tok's record.
func RevokeRefresh(t store.Txn, tok string) error { return t.Delete(RefreshKey(tok)) }
