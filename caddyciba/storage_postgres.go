package caddyciba

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyciba/gateway/internal/store"
)

func init() {
	caddy.RegisterModule(PostgresStorage{})
}

// PostgresStorage keeps the state in a PostgreSQL database, so that several gateway
// instances behind a load balancer are one gateway. The gateway creates and migrates its
// tables at start; the role needs CONNECT on the database and CREATE on the schema its
// search_path names first (or to own it).
type PostgresStorage struct {
	// DSN is the database, as a PostgreSQL URL or key=value string (libpq's syntax, read
	// by pgx); TLS as its sslmode says. Placeholders such as {env.CIBA_PG_DSN} are
	// replaced. Required.
	DSN string `json:"dsn"`
	// MaxConns caps this instance's connections. Default: the greater of 4 and the
	// number of CPUs.
	MaxConns int `json:"max_conns,omitempty"`

	dsn string
}

// CaddyModule returns the Caddy module information.
func (PostgresStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "ciba.storage.postgres",
		New: func() caddy.Module { return new(PostgresStorage) },
	}
}

// Provision replaces the DSN's placeholders; one that is unknown or empty is an error,
// never an empty part of the DSN.
func (p *PostgresStorage) Provision(caddy.Context) error {
	dsn, err := caddy.NewReplacer().ReplaceOrErr(p.DSN, true, true)
	if err != nil {
		return fmt.Errorf("ciba.storage.postgres: dsn: %w", err)
	}
	p.dsn = dsn
	return nil
}

// Validate checks the settings.
func (p *PostgresStorage) Validate() error {
	if p.DSN == "" {
		return errors.New("ciba.storage.postgres: dsn is required")
	}
	if p.MaxConns < 0 {
		return errors.New("ciba.storage.postgres: max_conns must be positive")
	}
	return nil
}

// OpenStore connects once for all loaded configs with the same DSN and pool size, so a
// reload keeps the connections.
func (p *PostgresStorage) OpenStore() (store.Store, string, error) {
	key := "postgres " + strconv.Itoa(p.MaxConns) + " " + p.dsn
	return openStore(key, func() (store.Store, error) {
		return store.OpenPostgres(p.dsn, store.PostgresOptions{MaxConns: p.MaxConns})
	})
}

// UnmarshalCaddyfile sets up the module. Syntax:
//
//	postgres [<dsn>] {
//		dsn       <dsn>
//		max_conns <n>
//	}
func (p *PostgresStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		p.DSN = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "dsn":
			if err := oneArg(d, &p.DSN); err != nil {
				return err
			}
		case "max_conns":
			if err := intArg(d, &p.MaxConns); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized postgres storage option %q", opt)
		}
	}
	if p.DSN == "" {
		return d.Err("storage postgres needs a dsn")
	}
	return nil
}

// Interface guards
var (
	_ StorageModule         = (*PostgresStorage)(nil)
	_ caddy.Provisioner     = (*PostgresStorage)(nil)
	_ caddy.Validator       = (*PostgresStorage)(nil)
	_ caddyfile.Unmarshaler = (*PostgresStorage)(nil)
)
