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
// /ciba/device/{id} with two one-time 256-bit tokens. The app token goes to the bank's own
// app (the webhook), which authenticates the user itself; the page token rides in the
// link's fragment to a browser, and an approval with it must carry the user's password.
// The store keeps both hashes and the request's key, never the auth_req_id, so the
// device side cannot redeem tokens.

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
	PageHash   []byte `json:"ph"`
}

// DeviceLink is what the notifier hands to the user's device.
type DeviceLink struct {
	ID string
	// Token is the bank app's bearer token for the decision API.
	Token string
	// PageToken is the approval page's, carried in the link's fragment.
	PageToken string
}

// Holder tells which of the link's tokens opened it.
type Holder int

// The holders of a device link.
const (
	App Holder = iota
	Page
)

// Devices keeps device links in the store under "dev/<id>", as JSON, as long as the
// request they open. Its keys are built nowhere else; the zero value is ready to use.
type Devices struct{}

func deviceKey(id string) string { return "dev/" + id }

// New makes the link of the request stored under requestKey; it lives as long as the
// request's record (Tombstone past expiresAt, as of now), so a late decision hears 410
// rather than 401.
func (Devices) New(t store.Txn, requestKey string, expiresAt, now time.Time) (DeviceLink, error) {
	var idBytes [16]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return DeviceLink{}, err
	}
	appToken, err := token.New()
	if err != nil {
		return DeviceLink{}, err
	}
	pageToken, err := token.New()
	if err != nil {
		return DeviceLink{}, err
	}
	link := DeviceLink{ID: base64.RawURLEncoding.EncodeToString(idBytes[:]), Token: appToken, PageToken: pageToken}
	appSum, pageSum := sha256.Sum256([]byte(appToken)), sha256.Sum256([]byte(pageToken))
	buf, err := json.Marshal(&Device{RequestKey: requestKey, TokenHash: appSum[:], PageHash: pageSum[:]})
	if err != nil {
		return DeviceLink{}, err
	}
	return link, t.Put(deviceKey(link.ID), buf, max(expiresAt.Sub(now)+Tombstone, time.Second))
}

// Opened is a device link whose token matched.
type Opened struct {
	Request *Request
	Key     string
	Holder  Holder
}

// Open checks a token of the link in constant time and returns the request behind it. An
// unknown id and a wrong token are the same error.
func (Devices) Open(t store.Reader, id, tok string) (*Opened, error) {
	buf, err := t.Get(deviceKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrBadDeviceToken
	}
	if err != nil {
		return nil, err
	}
	var d Device
	if err := json.Unmarshal(buf, &d); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(tok))
	app := subtle.ConstantTimeCompare(sum[:], d.TokenHash)
	page := subtle.ConstantTimeCompare(sum[:], d.PageHash)
	if app|page != 1 {
		return nil, ErrBadDeviceToken
	}
	r, err := Requests{}.Load(t, d.RequestKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrExpired
	}
	if err != nil {
		return nil, err
	}
	o := &Opened{Request: r, Key: d.RequestKey, Holder: App}
	if page == 1 {
		o.Holder = Page
	}
	return o, nil
}

// Answerable tells whether the request still awaits the user's decision.
func (r *Request) Answerable(now time.Time) error {
	switch {
	case r.State == Withdrawn:
		return ErrWithdrawn
	case r.State != Pending:
		return ErrDecided
	case !now.Before(r.ExpiresAt):
		return ErrExpired
	}
	return nil
}

// Decide records the user's decision on the request under key, once, before expiry.
func (rs Requests) Decide(t store.Txn, key string, r *Request, approve bool, now time.Time) error {
	if err := r.Answerable(now); err != nil {
		return err
	}
	r.State, r.DecidedAt = Denied, now
	if approve {
		r.State = Approved
	}
	return rs.Save(t, key, r, now)
}

// ErrConsentBusy is returned when a consent already has a live backchannel request
// (UK OB: at most one bc-authorize request per consent).
var ErrConsentBusy = errors.New("ciba: the consent already has a pending request")

// ClaimConsent ties the consent to the request under requestKey until the request expires.
// A lock whose request was decided or has expired is taken over.
func (rs Requests) ClaimConsent(t store.Txn, consentID, requestKey string, now, expiresAt time.Time) error {
	held, err := t.Get(consentLockKey(consentID))
	switch {
	case err == nil:
		if r, err := rs.Load(t, string(held)); err == nil && r.Live(now) {
			return ErrConsentBusy
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return t.Put(consentLockKey(consentID), []byte(requestKey), max(expiresAt.Sub(now), time.Second))
}
