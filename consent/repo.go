package consent

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/caddyciba/gateway/internal/store"
)

// ErrNotFound is returned for a consent that does not exist, was deleted, or belongs to
// another client: a client cannot tell those apart.
var ErrNotFound = errors.New("consent not found")

// retention is how long a consent record outlives its end (expiry, rejection), so that
// reads answer with its final state before it goes.
const retention = 30 * 24 * time.Hour

// Repo keeps consents in the store under "consent/<ConsentId>".
type Repo struct {
	Store store.Store
	Now   func() time.Time
}

func key(id string) string { return "consent/" + id }

// StoreKey is where the consent with that id is stored, for readers that cache its
// decoding (store.Decoded with Decode).
func StoreKey(id string) string { return key(id) }

// Each calls fn with every stored consent, its Status as of now (a consent past its
// expiry or its authorisation window reads Expired or Rejected), until fn returns an error.
func Each(s store.Store, now time.Time, fn func(*Consent) error) error {
	return s.Scan(key(""), func(_ string, val []byte) error {
		c, err := Decode(val)
		if err != nil {
			return err
		}
		c.Status = c.StatusAt(now)
		return fn(c)
	})
}

// Decode reads a stored consent.
func Decode(buf []byte) (*Consent, error) {
	var c Consent
	if err := json.Unmarshal(buf, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// NewID makes a ConsentId: a random UUID behind a prefix, unguessable and ≤ 128 characters.
func NewID() string { return "aac-" + uuid.NewString() }

// Create stores a new consent of the client, awaiting authorisation.
func (r *Repo) Create(clientID string, req *Request) (*Consent, error) {
	now := r.Now().UTC().Truncate(time.Second)
	c := &Consent{
		ID:              NewID(),
		ClientID:        clientID,
		Status:          AwaitingAuthorisation,
		CreatedAt:       now,
		UpdatedAt:       now,
		Permissions:     req.Permissions,
		Expiration:      req.Expiration,
		TransactionFrom: req.TransactionFrom,
		TransactionTo:   req.TransactionTo,
	}
	buf, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	if err := r.Store.PutNew(key(c.ID), buf, ttl(c, now)); err != nil {
		return nil, err
	}
	return c, nil
}

// ttl keeps a record for retention past the moment it can no longer change or be used.
func ttl(c *Consent, now time.Time) time.Duration {
	var end time.Time
	switch c.Status {
	case AwaitingAuthorisation:
		end = c.CreatedAt.Add(AuthorisationWindow)
	case Authorised:
		if c.Expiration == nil {
			return 0
		}
		end = c.Expiration.Time
	default:
		end = now
	}
	if c.Expiration != nil && c.Expiration.Time.Before(end) {
		end = c.Expiration.Time
	}
	return max(end.Sub(now), 0) + retention
}

// Get reads a consent by id, whoever owns it (the gate and the device side).
func (r *Repo) Get(id string) (*Consent, error) { return get(r.Store, id) }

// GetFor reads a consent only if the client owns it.
func (r *Repo) GetFor(clientID, id string) (*Consent, error) {
	c, err := get(r.Store, id)
	if err != nil {
		return nil, err
	}
	if c.ClientID != clientID {
		return nil, ErrNotFound
	}
	return c, nil
}

// Read reads a consent inside a transaction (or from the store), for checks that must
// commit together with what depends on them.
func Read(rd store.Reader, id string) (*Consent, error) { return get(rd, id) }

func get(rd store.Reader, id string) (*Consent, error) {
	if id == "" || len(id) > 128 {
		return nil, ErrNotFound
	}
	buf, err := rd.Get(key(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return Decode(buf)
}

// Delete removes the client's consent; its tokens stop working at once because the gate
// finds no consent behind them.
func (r *Repo) Delete(clientID, id string) error {
	return r.Store.Update(func(t store.Txn) error { return DeleteIn(t, clientID, id) })
}

// DeleteIn is Delete inside the transaction t, so it commits together with whatever else
// t writes (the end of the consent's pending backchannel request).
func DeleteIn(t store.Txn, clientID, id string) error {
	c, err := get(t, id)
	if err != nil {
		return err
	}
	if c.ClientID != clientID {
		return ErrNotFound
	}
	return t.Delete(key(id))
}

// Change applies a lifecycle transition to a consent inside the transaction t, so it
// commits together with whatever else t writes (the CIBA request's own state).
func Change(t store.Txn, id string, now time.Time, transition func(*Consent) error) (*Consent, error) {
	c, err := get(t, id)
	if err != nil {
		return nil, err
	}
	if err := transition(c); err != nil {
		return nil, err
	}
	buf, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return c, t.Put(key(id), buf, ttl(c, now))
}
