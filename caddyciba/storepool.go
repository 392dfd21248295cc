package caddyciba

import (
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddyciba/gateway/internal/store"
)

// stores keeps each store open across config reloads, keyed by what identifies it (a
// Badger directory, a PostgreSQL DSN): Caddy runs the old and the new config side by side
// for a moment, and a reload must neither reopen a database nor drop its connections.
var stores = caddy.NewUsagePool()

// storeOpens counts how often a store was opened, so tests can tell a reload reused it.
var storeOpens atomic.Int64

type pooledStore struct{ store.Store }

func (p pooledStore) Destruct() error { return p.Close() }

// openStore returns the shared store under key, opening it with open if no loaded config
// holds it; releaseStore(key) gives this hold back.
func openStore(key string, open func() (store.Store, error)) (store.Store, string, error) {
	v, _, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		storeOpens.Add(1)
		s, err := open()
		if err != nil {
			return nil, err
		}
		return pooledStore{s}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return v.(pooledStore).Store, key, nil
}

func releaseStore(key string) error {
	if key == "" {
		return nil
	}
	_, err := stores.Delete(key)
	return err
}

// badgerLogger sends Badger's messages to Caddy's current default logger; the pooled DB
// outlives any one config, so it must not hold a config's logger.
type badgerLogger struct{}

func (badgerLogger) sugar() *zap.SugaredLogger     { return caddy.Log().Named("ciba.badger").Sugar() }
func (l badgerLogger) Errorf(f string, a ...any)   { l.sugar().Errorf(f, a...) }
func (l badgerLogger) Warningf(f string, a ...any) { l.sugar().Warnf(f, a...) }
func (l badgerLogger) Infof(f string, a ...any)    { l.sugar().Debugf(f, a...) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.sugar().Debugf(f, a...) }
