package payment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyciba/gateway/internal/store"
)

// x-idempotency-key (UK OB): at most 40 characters, per client, kept 24 hours. A repeat
// with the same body answers the first answer; a different body is refused.

// IdempotencyTTL is how long a key is remembered.
const IdempotencyTTL = 24 * time.Hour

// DefaultLease is how long the first request holds its key before a repeat may take
// over (it crashed); Repo.Lease overrides it. It only guards against a second resource
// or forward; a payment's consent is held by its Reservation, which never lapses.
const DefaultLease = 2 * time.Minute

// MaxIdempotencyKey is the longest key accepted.
const MaxIdempotencyKey = 40

var (
	ErrInvalidIdempotencyKey = errors.New("the x-idempotency-key is empty, longer than 40 characters, or starts or ends with a space")
	ErrIdempotencyMismatch   = errors.New("the x-idempotency-key was used with another body")
	ErrInProgress            = errors.New("the first request with this x-idempotency-key is still being processed")
)

// ValidIdempotencyKey tells whether key has the OB form: 1..40 characters, the first and
// the last not white space (^(?!\s)(.*)(\S)$), no control characters.
func ValidIdempotencyKey(key string) bool {
	if key == "" || !utf8.ValidString(key) || utf8.RuneCountInString(key) > MaxIdempotencyKey {
		return false
	}
	first, _ := utf8.DecodeRuneInString(key)
	last, _ := utf8.DecodeLastRuneInString(key)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return false
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// IdempotencyKey names one key: the endpoint (a key is per client and per endpoint), the
// client and the key the client sent.
type IdempotencyKey struct {
	Endpoint string
	ClientID string
	Key      string
}

func (k IdempotencyKey) storeKey() string {
	h := sha256.Sum256([]byte(k.Endpoint + "\x00" + k.ClientID + "\x00" + k.Key))
	return "payidem/" + hex.EncodeToString(h[:])
}

// Answer is the first answer to a request, replayed to its repeats.
type Answer struct {
	Status int    `json:"status"`
	Body   []byte `json:"body"`
	// Resource is the id of what the request made (ConsentId, DomesticPaymentId).
	Resource string `json:"resource,omitempty"`
}

type idemRecord struct {
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	// HeldUntil is when the first request's hold ends; zero once answered.
	HeldUntil time.Time `json:"held_until,omitzero"`
	Answer    *Answer   `json:"answer,omitempty"`
}

// bodyHash is the hash of the body's canonical JSON (member order and white space do not
// make a different body), or of its bytes when it is not JSON.
func bodyHash(body []byte) string {
	if c, err := Canonical(body); err == nil {
		body = c
	}
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}

func (r *Repo) lease() time.Duration {
	if r.Lease > 0 {
		return r.Lease
	}
	return DefaultLease
}

// Claim is called before a POST with an x-idempotency-key does anything, in one
// transaction, so of racing repeats one goes ahead:
//   - (nil, nil): the caller holds the key; it does the work, then Complete (or
//     CompleteIn, in the transaction that makes the resource) or Abandon;
//   - (answer, nil): a repeat of a finished request; answer it as is;
//   - ErrInProgress: the first is still running (answer 409, the TPP retries);
//   - ErrIdempotencyMismatch: the key came with another body;
//   - ErrInvalidIdempotencyKey.
func (r *Repo) Claim(k IdempotencyKey, body []byte, now time.Time) (*Answer, error) {
	if !ValidIdempotencyKey(k.Key) {
		return nil, ErrInvalidIdempotencyKey
	}
	hash := bodyHash(body)
	var answer *Answer
	err := r.Store.Update(func(t store.Txn) error {
		answer = nil
		rec, err := readIdem(t, k)
		switch {
		case errors.Is(err, store.ErrNotFound):
			rec = &idemRecord{Hash: hash, CreatedAt: now}
		case err != nil:
			return err
		case rec.Hash != hash:
			return ErrIdempotencyMismatch
		case rec.Answer != nil:
			answer = rec.Answer
			return nil
		case now.Before(rec.HeldUntil):
			return ErrInProgress
		}
		// A new key, or one whose holder let its lease lapse: take it.
		rec.HeldUntil = now.Add(r.lease())
		return putIdem(t, k, rec, now)
	})
	return answer, err
}

// ClaimOrWait is Claim that waits while the first request with the key is running, so
// racing repeats all answer the first answer: it returns as Claim does once the first has
// answered (its answer), let go (the caller now holds the key) or let its lease lapse;
// ErrInProgress only when ctx ends first. now is the caller's clock.
func (r *Repo) ClaimOrWait(ctx context.Context, k IdempotencyKey, body []byte, now func() time.Time) (*Answer, error) {
	wait := 5 * time.Millisecond
	for {
		answer, err := r.Claim(k, body, now())
		if !errors.Is(err, ErrInProgress) {
			return answer, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Complete records the first answer for the key's repeats.
func (r *Repo) Complete(k IdempotencyKey, a Answer, now time.Time) error {
	return r.Store.Update(func(t store.Txn) error { return CompleteIn(t, k, a, now) })
}

// CompleteIn records the first answer inside t, so it commits with the resource it names.
func CompleteIn(t store.Txn, k IdempotencyKey, a Answer, now time.Time) error {
	rec, err := readIdem(t, k)
	if err != nil {
		return err
	}
	rec.Answer, rec.HeldUntil = &a, time.Time{}
	return putIdem(t, k, rec, now)
}

// Abandon frees a key whose request made nothing (refused, or the bank failed), so a
// repeat is processed afresh. An answered key stays.
func (r *Repo) Abandon(k IdempotencyKey) error {
	return r.Store.Update(func(t store.Txn) error {
		rec, err := readIdem(t, k)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || rec.Answer != nil {
			return err
		}
		return t.Delete(k.storeKey())
	})
}

func readIdem(rd store.Reader, k IdempotencyKey) (*idemRecord, error) {
	buf, err := rd.Get(k.storeKey())
	if err != nil {
		return nil, err
	}
	var rec idemRecord
	if err := jsonUnmarshal(buf, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

func putIdem(t store.Txn, k IdempotencyKey, rec *idemRecord, now time.Time) error {
	ttl := max(rec.CreatedAt.Add(IdempotencyTTL).Sub(now), time.Second)
	return put(t, k.storeKey(), rec, ttl)
}
