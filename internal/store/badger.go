package store

import (
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/caddyciba/gateway/internal/backoff"
)

// Badger is the embedded Store. Writes are synced to disk before they return, in groups
// (groupSync).
type Badger struct {
	db     *badger.DB
	cache  *readCache // nil in a read-only store
	synced *groupSync
	stop   context.CancelFunc
	done   chan struct{}
}

// conflictDeadline bounds how long an Update that keeps losing races on hot keys retries
// before it reports the conflict instead of spinning.
const conflictDeadline = 5 * time.Second

// OpenBadger opens (or creates) the database in dir. logger may be nil for silence.
func OpenBadger(dir string, logger badger.Logger) (*Badger, error) {
	opts := badger.DefaultOptions(dir).
		// Commits are synced by groupSync, together, before any returns.
		WithSyncWrites(false).
		WithLogger(logger).
		// Bounded memory whatever the number of records: small memtables and caches.
		WithMemTableSize(16 << 20).
		WithNumMemtables(3).
		// Records are small JSON: uncompressed tables spare the compactions' compression
		// buffers, and without compression Badger reads through the page cache, so it
		// needs no block cache of its own.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(16 << 20).
		WithValueLogFileSize(64 << 20).
		// Tables of one size at every level: a compaction's table builders hold a table's
		// worth of memory each, and the default doubling per level reaches 64 MiB tables.
		WithBaseTableSize(2 << 20).
		WithNumCompactors(2)
	opts.TableSizeMultiplier = 1 // no With method for it
	db, err := badger.Open(opts)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &Badger{db: db, cache: newReadCache(maxCached), synced: newGroupSync(db, dir), stop: stop, done: make(chan struct{})}
	go b.collectGarbage(ctx)
	return b, nil
}

// collectGarbage reclaims value-log space from expired and overwritten records.
func (b *Badger) collectGarbage(ctx context.Context) {
	defer close(b.done)
	tick := time.NewTicker(5 * time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for b.db.RunValueLogGC(0.5) == nil {
				if ctx.Err() != nil {
					return
				}
			}
		}
	}
}

func (b *Badger) Close() error {
	b.stop()
	<-b.done
	b.synced.stop()
	return b.db.Close()
}

// durable waits for the sync of a commit that succeeded.
func (b *Badger) durable(err error) error {
	if err != nil {
		return err
	}
	return b.synced.wait()
}

func (b *Badger) Get(key string) ([]byte, error) {
	var val []byte
	err := b.db.View(func(txn *badger.Txn) error {
		var err error
		val, err = get(txn, key)
		return err
	})
	return val, err
}

// GetMany serves from the read cache what it holds, and reads the rest in one transaction,
// caching it. The values it returns are shared: read them only.
func (b *Badger) GetMany(keys []string, vals [][]byte) error {
	if b.cache == nil {
		return b.getMany(keys, vals, nil)
	}
	now := time.Now()
	missing := 0
	for i, k := range keys {
		var ok bool
		if vals[i], ok = b.cache.get(k, now); !ok {
			missing++
		}
	}
	if missing == 0 {
		return nil
	}
	// The markers are left before the transaction takes its read timestamp (readCache).
	var small [4]uint64
	tickets := small[:0]
	for i, k := range keys {
		var t uint64
		if vals[i] == nil {
			t = b.cache.reserve(k)
		}
		tickets = append(tickets, t)
	}
	return b.getMany(keys, vals, tickets)
}

// getMany reads into vals the keys not already there, in one transaction, filling the
// cache markers tickets (nil: none).
func (b *Badger) getMany(keys []string, vals [][]byte, tickets []uint64) error {
	return b.db.View(func(txn *badger.Txn) error {
		for i, key := range keys {
			if tickets != nil && vals[i] != nil {
				continue
			}
			val, expiresAt, err := getItem(txn, key)
			switch {
			case errors.Is(err, ErrNotFound):
				val = nil
			case err != nil:
				return err
			}
			vals[i] = val
			if tickets != nil {
				b.cache.fill(key, tickets[i], val, expiresAt)
			}
		}
		return nil
	})
}

// wrote drops from the read cache the keys a committed write changed.
func (b *Badger) wrote(keys ...string) {
	if b.cache != nil {
		b.cache.drop(keys...)
	}
}

func (b *Badger) Put(key string, val []byte, ttl time.Duration) error {
	err := b.db.Update(func(txn *badger.Txn) error {
		return (&badgerTxn{txn: txn, synced: b.synced}).Put(key, val, ttl)
	})
	b.wrote(key)
	return b.durable(err)
}

func (b *Badger) PutNew(key string, val []byte, ttl time.Duration) error {
	return b.Update(func(t Txn) error {
		if _, err := t.Get(key); err == nil {
			return ErrExists
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		return t.Put(key, val, ttl)
	})
}

func (b *Badger) Delete(key string) error { return b.durable(b.Forget(key)) }

// Forget commits the deletion and leaves it to the next group sync.
func (b *Badger) Forget(key string) error {
	err := b.db.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(key)) })
	b.wrote(key)
	return err
}

func (b *Badger) Update(fn func(Txn) error) error {
	deadline := time.Now().Add(conflictDeadline)
	for attempt := 1; ; attempt++ {
		t := &badgerTxn{synced: b.synced}
		err := b.db.Update(func(txn *badger.Txn) error {
			t.txn = txn
			return fn(t)
		})
		// Whether it committed or not, what it wrote is dropped: a commit's keys must be.
		b.wrote(t.written...)
		if !errors.Is(err, badger.ErrConflict) || time.Now().After(deadline) {
			return b.durable(err)
		}
		time.Sleep(backoff.Wait(50*time.Microsecond, 10*time.Millisecond, attempt))
	}
}

func (b *Badger) Scan(prefix string, fn func(key string, val []byte) error) error {
	return b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64, Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(string(item.Key()), val); err != nil {
				return err
			}
		}
		return nil
	})
}

// badgerTxn is an Update's transaction; it notes the keys it writes, for the read cache.
type badgerTxn struct {
	txn     *badger.Txn
	synced  *groupSync
	written []string
}

func (t *badgerTxn) Get(key string) ([]byte, error) { return get(t.txn, key) }
func (t *badgerTxn) Put(key string, val []byte, ttl time.Duration) error {
	t.written = append(t.written, key)
	if len(val) >= largeValue {
		t.synced.wroteLarge()
	}
	return put(t.txn, key, val, ttl)
}
func (t *badgerTxn) Delete(key string) error {
	t.written = append(t.written, key)
	return t.txn.Delete([]byte(key))
}

func get(txn *badger.Txn, key string) ([]byte, error) {
	val, _, err := getItem(txn, key)
	return val, err
}

// getItem reads key's value and its expiry (Unix seconds; 0: never).
func getItem(txn *badger.Txn, key string) ([]byte, uint64, error) {
	item, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	val, err := item.ValueCopy(nil)
	if val == nil && err == nil {
		val = []byte{} // found, though empty: nil is how GetMany says missing
	}
	return val, item.ExpiresAt(), err
}

func put(txn *badger.Txn, key string, val []byte, ttl time.Duration) error {
	e := badger.NewEntry([]byte(key), val)
	if ttl > 0 {
		e = e.WithTTL(ttl)
	}
	return txn.SetEntry(e)
}
