package store

import (
	"bytes"
	"sync"
)

// Decoded keeps the decoding of values read on every request (the gate's token and
// consent records). Each Get still reads the store, and a cached decoding is used only
// when the stored bytes are the very same, so a change or a delete — by this instance or
// another — is seen on the next read. The values it returns are shared: read them only.
type Decoded[T any] struct {
	decode func([]byte) (*T, error)
	max    int
	mu     sync.RWMutex
	m      map[string]decodedEntry[T]
}

type decodedEntry[T any] struct {
	raw []byte
	val *T
}

// NewDecoded holds up to max decodings; past that it starts afresh, so memory stays
// bounded whatever the number of records.
func NewDecoded[T any](max int, decode func([]byte) (*T, error)) *Decoded[T] {
	return &Decoded[T]{decode: decode, max: max, m: make(map[string]decodedEntry[T])}
}

// Get reads key from r and returns its decoding.
func (d *Decoded[T]) Get(r Reader, key string) (*T, error) {
	raw, err := r.Get(key)
	if err != nil {
		return nil, err
	}
	return d.Of(key, raw)
}

// Of returns the decoding of raw, the value just read at key; nil raw is ErrNotFound, as
// GetMany reports a missing key.
func (d *Decoded[T]) Of(key string, raw []byte) (*T, error) {
	if raw == nil {
		return nil, ErrNotFound
	}
	d.mu.RLock()
	e, ok := d.m[key]
	d.mu.RUnlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.val, nil
	}
	v, err := d.decode(raw)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if len(d.m) >= d.max {
		clear(d.m)
	}
	d.m[key] = decodedEntry[T]{raw: raw, val: v}
	d.mu.Unlock()
	return v, nil
}

// Seen returns the decoding last read at key, which may since have changed or gone: a
// hint of what to read with it (the gate reads a token with its consent), never proof.
func (d *Decoded[T]) Seen(key string) (*T, bool) {
	d.mu.RLock()
	e, ok := d.m[key]
	d.mu.RUnlock()
	return e.val, ok
}
