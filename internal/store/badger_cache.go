package store

import (
	"sync"
	"time"
)

// readCache holds values GetMany has read, so the gate's reads on every request cost no
// Badger transaction. It is exact, not eventually consistent: one process owns a Badger
// directory, so every write passes through this Store, and each write drops the keys it
// wrote from the cache after it commits and before it returns — a write acknowledged is
// seen by the next read. A value is cached with Badger's expiry and not served past it.
//
// A read that misses leaves a marker for the key before its transaction takes its read
// timestamp, and fills the marker only if no write removed it meanwhile: a value read
// before a commit can never land in the cache after that commit's invalidation.
type readCache struct {
	mu      sync.RWMutex
	entries map[string]cacheEntry
	next    uint64 // the ticket of the next marker
	max     int
}

type cacheEntry struct {
	val []byte
	// expiresAt is Badger's (Unix seconds; 0: never).
	expiresAt uint64
	// ticket is nonzero while the entry is a marker waiting for its read.
	ticket uint64
}

// The cache holds small records only, and at most maxCached of them; past that it starts
// afresh, so memory stays bounded whatever the number of records.
const (
	maxCached      = 16384
	maxCachedValue = 16 << 10
)

func newReadCache(max int) *readCache {
	return &readCache{entries: make(map[string]cacheEntry), max: max}
}

// get returns the cached value of key, live at now.
func (c *readCache) get(key string, now time.Time) ([]byte, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || e.ticket != 0 || (e.expiresAt != 0 && e.expiresAt <= uint64(now.Unix())) {
		return nil, false
	}
	return e.val, true
}

// reserve leaves a marker for a read of key about to start; 0 when another read holds one
// (the caller reads without caching).
func (c *readCache) reserve(key string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && e.ticket != 0 {
		return 0
	}
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.next++
	c.entries[key] = cacheEntry{ticket: c.next}
	return c.next
}

// fill completes the marker ticket of key with what the read found; a nil val (no such
// key) or a large one drops the marker instead.
func (c *readCache) fill(key string, ticket uint64, val []byte, expiresAt uint64) {
	if ticket == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; !ok || e.ticket != ticket {
		return // a write came between: what was read may be stale
	}
	if val == nil || len(val) > maxCachedValue {
		delete(c.entries, key)
		return
	}
	c.entries[key] = cacheEntry{val: val, expiresAt: expiresAt}
}

// drop forgets keys that a write has just committed.
func (c *readCache) drop(keys ...string) {
	c.mu.Lock()
	for _, k := range keys {
		delete(c.entries, k)
	}
	c.mu.Unlock()
}

// dropAll forgets everything, after writes whose keys are not known one by one.
func (c *readCache) dropAll() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
