package op

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// deliveryRecords keeps the delivery queue in the store: each delivery as JSON under
// "delivery/q/<due as 20-digit unix nanoseconds>/<id>", so a scan in key order meets the
// due ones first, kept a lease past its expiry so the store drops it if no worker does;
// and the queue's sealing key under "delivery/key". Its keys are built nowhere else; time
// comes from the caller.
type deliveryRecords struct{}

const (
	deliveryPrefix = "delivery/q/"
	deliveryKeyKey = "delivery/key"
)

func deliveryKey(due time.Time, id string) string {
	return fmt.Sprintf("%s%020d/%s", deliveryPrefix, due.UnixNano(), id)
}

// dueOf reads the due time back from a key.
func dueOf(key string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(key, deliveryPrefix)
	if !ok || len(rest) < 21 || rest[20] != '/' {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(rest[:20], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// recordTTL keeps a record a lease past its expiry, so the store drops it if no worker does.
func recordTTL(now, expires time.Time) time.Duration {
	return max(expires.Sub(now), 0) + leaseTTL
}

// put writes the delivery, due at due.
func (deliveryRecords) put(t store.Txn, d *delivery, due, now time.Time) error {
	val, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return t.Put(deliveryKey(due, d.ID), val, recordTTL(now, d.Expires))
}

// sealingKey loads, or makes once for every instance on the store, the 32-byte key that
// seals the payloads.
func (deliveryRecords) sealingKey(s store.Store) ([]byte, error) {
	key, err := s.Get(deliveryKeyKey)
	if errors.Is(err, store.ErrNotFound) {
		key = make([]byte, 32)
		if _, err = rand.Read(key); err != nil {
			return nil, err
		}
		if err = s.PutNew(deliveryKeyKey, key, 0); errors.Is(err, store.ErrExists) {
			key, err = s.Get(deliveryKeyKey)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, errors.New("the delivery key in the store is not 32 bytes")
	}
	return key, nil
}

var errStopScan = errors.New("stop scan")

// scanDue lists up to limit due keys in due order, and up to 4*limit expired ones met on
// the way; with none due, next is when the next one is.
func (deliveryRecords) scanDue(s store.Store, now time.Time, limit int) (due, expired []string, next time.Time, err error) {
	err = s.Scan(deliveryPrefix, func(key string, val []byte) error {
		at, ok := dueOf(key)
		if !ok {
			return nil
		}
		if at.After(now) {
			next = at
			return errStopScan
		}
		var d delivery
		if json.Unmarshal(val, &d) == nil && !now.Before(d.Expires) {
			if expired = append(expired, key); len(expired) == 4*limit {
				return errStopScan
			}
			return nil
		}
		due = append(due, key)
		if len(due) == limit {
			return errStopScan
		}
		return nil
	})
	if errors.Is(err, errStopScan) {
		err = nil
	}
	return due, expired, next, err
}

// dropExpired deletes, in one transaction, the records among keys that are still there
// and expired at now, and returns them.
func (deliveryRecords) dropExpired(s store.Store, keys []string, now time.Time) ([]delivery, error) {
	var gone []delivery
	err := s.Update(func(t store.Txn) error {
		gone = gone[:0]
		for _, key := range keys {
			val, err := t.Get(key)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var d delivery
			if json.Unmarshal(val, &d) != nil || now.Before(d.Expires) {
				continue
			}
			if err := t.Delete(key); err != nil {
				return err
			}
			gone = append(gone, d)
		}
		return nil
	})
	return gone, err
}

// claim moves the record at key to now+leaseTTL and returns it and its leased key; no
// leased key when another instance took it first or it expired (then it is dropped and
// returned with expired set). A record that does not decode can never be delivered and
// is dropped.
func (deliveryRecords) claim(s store.Store, key string, now time.Time) (d *delivery, leased string, expired bool, err error) {
	err = s.Update(func(t store.Txn) error {
		d, leased, expired = nil, "", false
		val, err := t.Get(key)
		if err != nil {
			return err
		}
		var rec delivery
		if err := json.Unmarshal(val, &rec); err != nil {
			return t.Delete(key)
		}
		if err := t.Delete(key); err != nil {
			return err
		}
		d = &rec
		if !now.Before(rec.Expires) {
			expired = true
			return nil
		}
		leased = deliveryKey(now.Add(leaseTTL), rec.ID)
		return t.Put(leased, val, recordTTL(now, rec.Expires))
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", false, nil
	}
	return d, leased, expired, err
}

// remove deletes a leased record: delivered, or failed for good. The deletion need not be
// durable: after a crash the record would come back and be delivered once more, which
// at-least-once delivery allows anyway (a crash mid-attempt does the same).
func (deliveryRecords) remove(s store.Store, leased string) error { return s.Forget(leased) }

// reschedule moves a leased record, with its new attempt count, to due; store.ErrNotFound
// when the lease is gone (another worker took it over).
func (r deliveryRecords) reschedule(s store.Store, leased string, d *delivery, due, now time.Time) error {
	return s.Update(func(t store.Txn) error {
		if _, err := t.Get(leased); err != nil {
			return err
		}
		if err := t.Delete(leased); err != nil {
			return err
		}
		return r.put(t, d, due, now)
	})
}
