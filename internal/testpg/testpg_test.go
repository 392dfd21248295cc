package testpg

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestDSN: each DSN is its own empty database, reachable as the non-superuser Role, which
// cannot create databases itself; the database goes with the test.
func TestDSN(t *testing.T) {
	var dbs []string
	t.Run("databases", func(t *testing.T) {
		first, second := DSN(t), DSN(t)
		for _, dsn := range []string{first, second} {
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			dbs = append(dbs, strings.TrimPrefix(u.Path, "/"))
			if u.User.Username() != Role {
				t.Errorf("DSN user %q, want %s", u.User.Username(), Role)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			var tables int
			if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
				t.Errorf("a fresh database has %d tables (%v)", tables, err)
			}
			if _, err := c.Exec(ctx, `CREATE TABLE kv (k text PRIMARY KEY)`); err != nil {
				t.Errorf("the role cannot create a table in its database: %v", err)
			}
			if _, err := c.Exec(ctx, `CREATE DATABASE not_allowed`); err == nil {
				t.Error("the test role created a database")
			}
		}
		if dbs[0] == dbs[1] {
			t.Errorf("two DSNs share the database %s", dbs[0])
		}
	})
	s, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, db := range dbs {
		var n int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, db).Scan(&n); err != nil || n != 0 {
			t.Errorf("database %s outlived its test (%d, %v)", db, n, err)
		}
	}
}
