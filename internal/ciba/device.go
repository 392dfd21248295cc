package ciba

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// A device link is how the user's authentication device reaches one request:
// /ciba/device/{id} with a one-time 256-bit token. The store keeps the token's hash and
// the request's key, never the auth_req_id, so the device side cannot redeem tokens.

// Errors of the device side; the decision API maps them to 401, 409 and 410.
var (
	ErrBadDeviceToken = errors.New("ciba: unknown device link or wrong token")
	ErrDecided        = errors.New("ciba: the request was already decided")
	ErrExpired        = errors.New("ciba: the request has expired")
)

// Device is the stored side of a device link.
type Device struct {
	RequestKey string `json:"req"`
	TokenHash  []byte `json:"th"`
}

// DeviceLink is what the notifier hands to the user's device.
type DeviceLink struct {
	ID    string
	Token string
}

func deviceKey(id string) string { return "dev/" + id }

// NewDevice makes the link of the request stored under requestKey; it lives as long as
// the request's record, so a late decision hears 410 rather than 401.
func NewDevice(t store.Txn, requestKey string, expiresAt time.Time) (DeviceLink, error) {
	var idBytes [16]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return DeviceLink{}, err
	}
	tok, err := token.New()
	if err != nil {
		return DeviceLink{}, err
	}
	link := DeviceLink{ID: base64.RawURLEncoding.EncodeToString(idBytes[:]), Token: tok}
	sum := sha256.Sum256([]byte(tok))
	buf, err := json.Marshal(&Device{RequestKey: requestKey, TokenHash: sum[:]})
	if err != nil {
		return DeviceLink{}, err
	}
	return link, t.Put(deviceKey(link.ID), buf, max(time.Until(expiresAt)+Tombstone, time.Second))
}

// OpenDevice checks the link's token in constant time and returns the request behind it
// with its key. An unknown id and a wrong token are the same error.
func OpenDevice(t store.Reader, id, tok string) (*Request, string, error) {
	buf, err := t.Get(deviceKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", ErrBadDeviceToken
	}
	if err != nil {
		return nil, "", err
	}
	var d Device
	if err := json.Unmarshal(buf, &d); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(sum[:], d.TokenHash) != 1 {
		return nil, "", ErrBadDeviceToken
	}
	r, err := Load(t, d.RequestKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", ErrExpired
	}
	return r, d.RequestKey, err
}

// Decide records the user's decision on the request under key, once, before expiry.
func Decide(t store.Txn, key string, r *Request, approve bool, now time.Time) error {
	switch {
	case r.State != Pending:
		return ErrDecided
	case !now.Before(r.ExpiresAt):
		return ErrExpired
	}
	r.State, r.DecidedAt = Denied, now
	if approve {
		r.State = Approved
	}
	return Save(t, key, r)
}

// ErrConsentBusy is returned when a consent already has a live backchannel request
// (UK OB: at most one bc-authorize request per consent).
var ErrConsentBusy = errors.New("ciba: the consent already has a pending request")

func consentLockKey(consentID string) string { return "areq-consent/" + consentID }

// ClaimConsent ties the consent to the request under requestKey until the request expires.
// A lock whose request was decided or has expired is taken over.
func ClaimConsent(t store.Txn, consentID, requestKey string, now, expiresAt time.Time) error {
	held, err := t.Get(consentLockKey(consentID))
	switch {
	case err == nil:
		if r, err := Load(t, string(held)); err == nil && r.Live(now) {
			return ErrConsentBusy
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return t.Put(consentLockKey(consentID), []byte(requestKey), max(expiresAt.Sub(now), time.Second))
}
