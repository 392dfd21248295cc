package caddyciba

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyciba/gateway/internal/store"
)

// openStorage loads the storage module and opens its shared store.
func (a *App) openStorage(ctx caddy.Context) (store.Store, string, error) {
	raw, err := storageJSON(a.StorageRaw)
	if err != nil {
		return nil, "", err
	}
	a.StorageRaw = raw
	mod, err := ctx.LoadModule(a, "StorageRaw")
	if err != nil {
		return nil, "", fmt.Errorf("ciba: loading storage module: %w", err)
	}
	sm, ok := mod.(StorageModule)
	if !ok {
		return nil, "", fmt.Errorf("ciba: module %T is not a ciba storage", mod)
	}
	return sm.OpenStore()
}

// storageJSON gives the module object for the storage setting: none means Badger in its
// default directory, and a string (the setting before storage modules) a Badger directory.
func storageJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return badgerJSON(""), nil
	}
	var dir string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &dir); err != nil {
			return nil, fmt.Errorf("ciba: storage: %w", err)
		}
		return badgerJSON(dir), nil
	}
	return raw, nil
}

func badgerJSON(dir string) json.RawMessage {
	return caddyconfig.JSONModuleObject(BadgerStorage{Path: dir}, "module", "badger", nil)
}

// unmarshalStorage reads the storage option. Syntax:
//
//	storage <dir>
//	storage badger [<dir>]
//	storage postgres [<dsn>] {
//		dsn       <dsn>
//		max_conns <n>
//	}
//
// A name that is no ciba.storage module is a Badger directory.
func unmarshalStorage(d *caddyfile.Dispenser) (json.RawMessage, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	name := d.Val()
	if _, err := caddy.GetModule("ciba.storage." + name); err != nil {
		// Not a module name: a Badger directory, as before storage modules.
		if d.NextArg() || d.NextBlock(d.Nesting()) {
			return nil, d.Errf("unknown storage module %q", name)
		}
		return badgerJSON(name), nil
	}
	mod, err := caddyfile.UnmarshalModule(d, "ciba.storage."+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(mod, "module", name, nil), nil
}
