package store

import (
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Loader writes many records at once, for seeding a store (the scale benchmark) or a
// migration: through a Badger WriteBatch, made durable once by Flush. It is a Store whose
// reads find nothing, so the packages that write records (ciba.Save, consent.Repo) write
// through it unchanged.
type Loader struct {
	store *Badger
	wb    *badger.WriteBatch
}

// NewLoader starts a bulk load into b; nothing is visible until Flush.
func (b *Badger) NewLoader() *Loader { return &Loader{store: b, wb: b.db.NewWriteBatch()} }

func (l *Loader) Get(string) ([]byte, error) { return nil, ErrNotFound }

func (l *Loader) GetMany(keys []string, vals [][]byte) error {
	clear(vals)
	return nil
}

func (l *Loader) Put(key string, val []byte, ttl time.Duration) error {
	e := badger.NewEntry([]byte(key), val)
	if ttl > 0 {
		e = e.WithTTL(ttl)
	}
	return l.wb.SetEntry(e)
}

func (l *Loader) PutNew(key string, val []byte, ttl time.Duration) error { return l.Put(key, val, ttl) }

func (l *Loader) Delete(key string) error { return l.wb.Delete([]byte(key)) }

func (l *Loader) Forget(key string) error { return l.Delete(key) }

func (l *Loader) Update(fn func(Txn) error) error { return fn(l) }

func (l *Loader) Scan(string, func(string, []byte) error) error { return nil }

// Flush writes what is pending and syncs it.
func (l *Loader) Flush() error {
	err := l.wb.Flush()
	if l.store.cache != nil {
		l.store.cache.dropAll()
	}
	return l.store.durable(err)
}

// Compact flattens the tree after a bulk load, as the compactions of a store that grew
// over time would have left it.
func (l *Loader) Compact() error { return l.store.db.Flatten(2) }

// Close is Flush.
func (l *Loader) Close() error { return l.Flush() }

var (
	_ Store = (*Loader)(nil)
	_ Txn   = (*Loader)(nil)
)
