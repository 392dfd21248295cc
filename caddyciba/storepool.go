package caddyciba

import (
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddyciba/gateway/internal/store"
)

// stores keeps each Badger directory open across config reloads: Caddy runs the old and
// the new config side by side for a moment, and Badger's directory lock admits one opener.
var stores = caddy.NewUsagePool()

// storeOpens counts how often a store was opened, so tests can tell a reload reused it.
var storeOpens atomic.Int64

type pooledStore struct{ *store.Badger }

func (p pooledStore) Destruct() error { return p.Close() }

// openStore returns the shared store of dir and the key to release it with.
func openStore(dir string) (store.Store, string, error) {
	key, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", err
	}
	v, _, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		storeOpens.Add(1)
		db, err := store.OpenBadger(key, badgerLogger{})
		if err != nil {
			return nil, fmt.Errorf("opening storage %s: %w (is another caddy process using it? use 'caddy reload')", key, err)
		}
		return pooledStore{db}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return v.(pooledStore), key, nil
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
