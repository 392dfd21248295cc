package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the schema's versions, in order: migrations[i] takes the schema from
// version i to i+1. Append only; never edit one that has shipped.
var migrations = []string{
	`CREATE TABLE ciba_kv (
		key        bytea PRIMARY KEY,
		val        bytea NOT NULL,
		expires_at timestamptz
	);
	CREATE INDEX ciba_kv_expires_at ON ciba_kv (expires_at) WHERE expires_at IS NOT NULL;`,
}

// SchemaVersion is the version of the schema this build creates.
var SchemaVersion = len(migrations)

// migrationLock is the advisory lock (an arbitrary constant, "ciba" in ASCII) that
// serializes migrations between instances starting together.
const migrationLock = 0x63696261

// migrate brings the schema to SchemaVersion in one transaction, under an advisory lock:
// instances that start together wait for the first, then find nothing to do. The lock is
// the transaction's, so it is released with it, also behind a transaction-pooling
// PgBouncer.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS ciba_schema_version (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM ciba_schema_version`).Scan(&have); err != nil {
			return err
		}
		if have > len(migrations) {
			return fmt.Errorf("the database's schema is version %d, newer than this gateway's %d: run a newer gateway", have, len(migrations))
		}
		for v := have; v < len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO ciba_schema_version (version) VALUES ($1)`, v+1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: schema: %w", err)
	}
	return nil
}
