// Package store is the state behind the gateway: a small key-value interface with TTLs and
// atomic read-modify-write, so a distributed backend can stand beside the embedded Badger one.
package store

import (
	"errors"
	"time"
)

var (
	// ErrNotFound is returned for a key that does not exist or has expired.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is returned by PutNew when the key is already present.
	ErrExists = errors.New("store: key exists")
)

// Reader reads keys.
type Reader interface {
	Get(key string) ([]byte, error)
}

// Txn is the view a transaction has: reads see its own writes, and the whole
// transaction commits atomically or not at all.
type Txn interface {
	Reader
	// Put writes val under key; ttl 0 keeps it until deleted.
	Put(key string, val []byte, ttl time.Duration) error
	Delete(key string) error
}

// Store is every operation the gateway needs from its state. Each write returns only after
// the change is durable.
type Store interface {
	Reader
	// GetMany reads keys in one snapshot and, on a database, one round trip: vals[i]
	// becomes the value of keys[i], or nil when it does not exist or has expired. vals has
	// the length of keys. It is how a hot path reads records that must agree.
	GetMany(keys []string, vals [][]byte) error
	Put(key string, val []byte, ttl time.Duration) error
	// PutNew writes val only if key is absent (replay caches, unique ids), else ErrExists.
	PutNew(key string, val []byte, ttl time.Duration) error
	Delete(key string) error
	// Forget deletes key like Delete but may return before the deletion is durable: for
	// records whose return after a crash is harmless (a delivered notification, which
	// would be sent once more), so the deletion does not hold up a disk sync that others
	// wait on.
	Forget(key string) error
	// Update runs fn in a serializable transaction; concurrent updates of the same keys
	// never both commit. An error from fn aborts the transaction and is returned as is.
	Update(fn func(Txn) error) error
	// Scan calls fn for every live key with the prefix, in key order, until fn returns an error.
	Scan(prefix string, fn func(key string, val []byte) error) error
	Close() error
}
