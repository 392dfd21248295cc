package caddyciba

import (
	"fmt"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyciba/gateway/internal/store"
)

func init() {
	caddy.RegisterModule(BadgerStorage{})
}

// StorageModule is a module in the ciba.storage namespace: where the ciba app keeps its
// state.
type StorageModule interface {
	// OpenStore returns the store, shared with every loaded config that names the same
	// one, and the key that releases this config's hold on it (releaseStore).
	OpenStore() (store.Store, string, error)
}

// BadgerStorage keeps the state in an embedded Badger database: one gateway process per
// directory.
type BadgerStorage struct {
	// Path is the database's directory. Default: <caddy data dir>/ciba.
	Path string `json:"path,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (BadgerStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "ciba.storage.badger",
		New: func() caddy.Module { return new(BadgerStorage) },
	}
}

// Provision sets the default directory.
func (b *BadgerStorage) Provision(caddy.Context) error {
	if b.Path == "" {
		b.Path = filepath.Join(caddy.AppDataDir(), "ciba")
	}
	return nil
}

// OpenStore opens the directory once for all configs that name it: Badger's directory
// lock admits one opener, and Caddy runs the old and the new config side by side for a
// moment on reload.
func (b *BadgerStorage) OpenStore() (store.Store, string, error) {
	key, err := filepath.Abs(b.Path)
	if err != nil {
		return nil, "", err
	}
	return openStore(key, func() (store.Store, error) {
		db, err := store.OpenBadger(key, badgerLogger{})
		if err != nil {
			return nil, fmt.Errorf("opening storage %s: %w (is another caddy process using it? use 'caddy reload')", key, err)
		}
		return db, nil
	})
}

// UnmarshalCaddyfile sets up the module. Syntax:
//
//	badger [<dir>]
func (b *BadgerStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		b.Path = d.Val()
	}
	if d.NextArg() || d.NextBlock(0) {
		return d.ArgErr()
	}
	return nil
}

// Interface guards
var (
	_ StorageModule         = (*BadgerStorage)(nil)
	_ caddy.Provisioner     = (*BadgerStorage)(nil)
	_ caddyfile.Unmarshaler = (*BadgerStorage)(nil)
)
