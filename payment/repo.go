package payment

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/caddyciba/gateway/internal/store"
)

// Store keys: "payconsent/<ConsentId>", "fundsconsent/<ConsentId>" and
// "payidem/<hash of endpoint, client and key>". Every time is passed in by the caller.
const (
	domesticPrefix = "payconsent/"
	fundsPrefix    = "fundsconsent/"
)

// retention is how long a record outlives the moment it can no longer change, so reads
// answer with its final state before it goes.
const retention = 30 * 24 * time.Hour

// ID prefixes tell a payment consent from a funds consent and from an account-access
// consent ("aac-") at a glance, e.g. in a CIBA request object.
const (
	DomesticIDPrefix = "pdc-"
	FundsIDPrefix    = "fcc-"
)

// NewDomesticID makes a payment ConsentId: a random UUID behind a prefix, ≤ 128 characters.
func NewDomesticID() string { return DomesticIDPrefix + uuid.NewString() }

// NewFundsID makes a funds-confirmation ConsentId.
func NewFundsID() string { return FundsIDPrefix + uuid.NewString() }

// DomesticKey is where the payment consent with that id is stored.
func DomesticKey(id string) string { return domesticPrefix + id }

// FundsKey is where the funds consent with that id is stored.
func FundsKey(id string) string { return fundsPrefix + id }

// Repo keeps payment and funds consents and idempotency records in the store.
type Repo struct {
	Store store.Store
	// Lease is how long a request holds its idempotency key; default DefaultLease.
	Lease time.Duration
}

// ---- domestic payment consents ----

func domesticTTL(c *Consent, now time.Time) time.Duration {
	if c.Status == AwaitingAuthorisation || c.Status == Authorised {
		return max(c.CutOff.Sub(now), 0) + retention
	}
	return retention
}

// SaveDomestic stores a new consent (NewDomestic).
func (r *Repo) SaveDomestic(c *Consent, now time.Time) error {
	return r.Store.Update(func(t store.Txn) error { return SaveDomesticIn(t, c, now) })
}

// SaveDomesticIn stores a new consent inside t (with the idempotency answer that names it).
func SaveDomesticIn(t store.Txn, c *Consent, now time.Time) error {
	return putNew(t, DomesticKey(c.ID), c, domesticTTL(c, now))
}

// Domestic reads a payment consent by id, whoever owns it (the gate, the device side).
func (r *Repo) Domestic(id string) (*Consent, error) { return ReadDomestic(r.Store, id) }

// DomesticFor reads a payment consent only if the client owns it.
func (r *Repo) DomesticFor(clientID, id string) (*Consent, error) {
	c, err := ReadDomestic(r.Store, id)
	if err != nil {
		return nil, err
	}
	if c.ClientID != clientID {
		return nil, ErrNotFound
	}
	return c, nil
}

// ReadDomestic reads a payment consent inside a transaction or from the store.
func ReadDomestic(rd store.Reader, id string) (*Consent, error) {
	var c Consent
	if err := read(rd, domesticPrefix, id, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// DecodeDomestic reads a stored payment consent (for store.Decoded caches).
func DecodeDomestic(buf []byte) (*Consent, error) {
	var c Consent
	return &c, json.Unmarshal(buf, &c)
}

// ChangeDomestic applies a transition to a payment consent inside t, so it commits with
// whatever else t writes (the CIBA request's own state). A refused transition writes
// nothing.
func ChangeDomestic(t store.Txn, id string, now time.Time, transition func(*Consent) error) (*Consent, error) {
	c, err := ReadDomestic(t, id)
	if err != nil {
		return nil, err
	}
	if err := transition(c); err != nil {
		return nil, err
	}
	return c, put(t, DomesticKey(id), c, domesticTTL(c, now))
}

func (r *Repo) changeDomestic(id string, now time.Time, transition func(*Consent) error) (c *Consent, err error) {
	err = r.Store.Update(func(t store.Txn) error {
		c, err = ChangeDomestic(t, id, now, transition)
		return err
	})
	return c, err
}

// AuthoriseDomestic records the user's approval with the debtor account chosen.
func (r *Repo) AuthoriseDomestic(id, subject string, d Debtor, now time.Time) (*Consent, error) {
	return r.changeDomestic(id, now, func(c *Consent) error { return c.Authorise(subject, d, now) })
}

// RejectDomestic records the user's denial.
func (r *Repo) RejectDomestic(id string, now time.Time) (*Consent, error) {
	return r.changeDomestic(id, now, func(c *Consent) error { return c.Reject(now) })
}

// Reservation is one payment's hold on its consent, from Reserve to Consume or Release.
type Reservation struct {
	ConsentID string
	Token     string
}

// Reserve takes the client's Authorised consent for one forward of a payment, in one
// transaction: of any number of concurrent Reserves, on any instance, one succeeds and
// the others get ErrReserved until it is released. A consent reserved by a forward that
// never finished stays reserved (a payment the bank may have made is never made twice);
// the bank's answer or an operator releases it.
func (r *Repo) Reserve(clientID, id string, now time.Time) (Reservation, *Consent, error) {
	token, err := randomToken()
	if err != nil {
		return Reservation{}, nil, err
	}
	c, err := r.changeDomestic(id, now, func(c *Consent) error {
		if c.ClientID != clientID {
			return ErrNotFound
		}
		return c.reserve(token, now)
	})
	if err != nil {
		return Reservation{}, nil, err
	}
	return Reservation{ConsentID: id, Token: token}, c, nil
}

// Consume ends the consent after the bank accepted the payment (its 2xx); paymentID is
// the bank's DomesticPaymentId when known.
func (r *Repo) Consume(res Reservation, paymentID string, now time.Time) (*Consent, error) {
	return r.changeDomestic(res.ConsentID, now, func(c *Consent) error { return c.consume(res.Token, paymentID, now) })
}

// Release gives the consent back after the bank refused the payment or did not answer,
// so the TPP can retry.
func (r *Repo) Release(res Reservation, now time.Time) error {
	_, err := r.changeDomestic(res.ConsentID, now, func(c *Consent) error { return c.release(res.Token) })
	return err
}

// ---- funds-confirmation consents ----

func fundsTTL(f *FundsConsent, now time.Time) time.Duration {
	var end time.Time
	switch f.Status {
	case AwaitingAuthorisation:
		end = f.CreatedAt.Add(FundsAuthorisationWindow)
	case Authorised:
		if f.Expiration == nil {
			return 0
		}
		end = f.Expiration.Time
	default:
		end = now
	}
	if f.Expiration != nil && f.Expiration.Time.Before(end) {
		end = f.Expiration.Time
	}
	return max(end.Sub(now), 0) + retention
}

// SaveFunds stores a new funds consent (NewFunds).
func (r *Repo) SaveFunds(f *FundsConsent, now time.Time) error {
	return r.Store.Update(func(t store.Txn) error { return SaveFundsIn(t, f, now) })
}

// SaveFundsIn stores a new funds consent inside t.
func SaveFundsIn(t store.Txn, f *FundsConsent, now time.Time) error {
	return putNew(t, FundsKey(f.ID), f, fundsTTL(f, now))
}

// Funds reads a funds consent by id, whoever owns it.
func (r *Repo) Funds(id string) (*FundsConsent, error) { return ReadFunds(r.Store, id) }

// FundsFor reads a funds consent only if the client owns it.
func (r *Repo) FundsFor(clientID, id string) (*FundsConsent, error) {
	f, err := ReadFunds(r.Store, id)
	if err != nil {
		return nil, err
	}
	if f.ClientID != clientID {
		return nil, ErrNotFound
	}
	return f, nil
}

// ReadFunds reads a funds consent inside a transaction or from the store.
func ReadFunds(rd store.Reader, id string) (*FundsConsent, error) {
	var f FundsConsent
	if err := read(rd, fundsPrefix, id, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// DecodeFunds reads a stored funds consent (for store.Decoded caches).
func DecodeFunds(buf []byte) (*FundsConsent, error) {
	var f FundsConsent
	return &f, json.Unmarshal(buf, &f)
}

// ChangeFunds applies a transition to a funds consent inside t.
func ChangeFunds(t store.Txn, id string, now time.Time, transition func(*FundsConsent) error) (*FundsConsent, error) {
	f, err := ReadFunds(t, id)
	if err != nil {
		return nil, err
	}
	if err := transition(f); err != nil {
		return nil, err
	}
	return f, put(t, FundsKey(id), f, fundsTTL(f, now))
}

// AuthoriseFunds records the user's approval; accountID is their AccountId of the
// consent's DebtorAccount.
func (r *Repo) AuthoriseFunds(id, subject, accountID string, now time.Time) (f *FundsConsent, err error) {
	err = r.Store.Update(func(t store.Txn) error {
		f, err = ChangeFunds(t, id, now, func(f *FundsConsent) error { return f.Authorise(subject, accountID, now) })
		return err
	})
	return f, err
}

// RejectFunds records the user's denial.
func (r *Repo) RejectFunds(id string, now time.Time) (f *FundsConsent, err error) {
	err = r.Store.Update(func(t store.Txn) error {
		f, err = ChangeFunds(t, id, now, func(f *FundsConsent) error { return f.Reject(now) })
		return err
	})
	return f, err
}

// DeleteFunds removes the client's funds consent (the TPP's DELETE); its tokens stop
// working at once because the gate finds no consent behind them.
func (r *Repo) DeleteFunds(clientID, id string) error {
	return r.Store.Update(func(t store.Txn) error { return DeleteFundsIn(t, clientID, id) })
}

// DeleteFundsIn is DeleteFunds inside t (with the end of a pending CIBA request).
func DeleteFundsIn(t store.Txn, clientID, id string) error {
	f, err := ReadFunds(t, id)
	if err != nil {
		return err
	}
	if f.ClientID != clientID {
		return ErrNotFound
	}
	return t.Delete(FundsKey(id))
}

// ---- storage helpers ----

func read(rd store.Reader, prefix, id string, dst any) error {
	if id == "" || len(id) > 128 {
		return ErrNotFound
	}
	buf, err := rd.Get(prefix + id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(buf, dst)
}

func jsonUnmarshal(buf []byte, dst any) error { return json.Unmarshal(buf, dst) }

func put(t store.Txn, key string, v any, ttl time.Duration) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.Put(key, buf, ttl)
}

// putNew writes v under a key that must be absent, else store.ErrExists.
func putNew(t store.Txn, key string, v any, ttl time.Duration) error {
	if _, err := t.Get(key); err == nil {
		return store.ErrExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return put(t, key, v, ttl)
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
