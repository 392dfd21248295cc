package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/store/storetest"
	"github.com/caddyciba/gateway/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

func openPostgres(t *testing.T, dsn string) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(dsn, store.PostgresOptions{MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPostgres(t, testpg.DSN(t)) })
}

func TestBadgerConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		b, err := store.OpenBadger(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}

func query[T any](t *testing.T, dsn, sql string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var v T
	if err := c.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPostgresMigrationRace: three instances opening a fresh database at once all
// succeed, and the schema is made once.
func TestPostgresMigrationRace(t *testing.T) {
	dsn := testpg.DSN(t)
	const n = 3
	var wg sync.WaitGroup
	errs := make([]error, n)
	opened := make([]*store.Postgres, n)
	for i := range n {
		wg.Go(func() { opened[i], errs[i] = store.OpenPostgres(dsn, store.PostgresOptions{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer opened[i].Close()
	}
	if v := query[int64](t, dsn, `SELECT count(*) FROM ciba_schema_version`); v != int64(store.SchemaVersion) {
		t.Fatalf("%d schema versions recorded, want %d", v, store.SchemaVersion)
	}
	// Opening again is a no-op, and each instance sees the others' writes.
	again := openPostgres(t, dsn)
	if err := opened[0].Put("k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := again.Get("k"); err != nil || string(v) != "v" {
		t.Fatalf("Get through another instance = %q, %v", v, err)
	}
}

// TestPostgresNewerSchemaRefused: a database migrated by a newer gateway is not used.
func TestPostgresNewerSchemaRefused(t *testing.T) {
	dsn := testpg.DSN(t)
	openPostgres(t, dsn).Close()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(context.Background(), fmt.Sprintf(`INSERT INTO ciba_schema_version (version) VALUES (%d)`, store.SchemaVersion+1))
	c.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := store.OpenPostgres(dsn, store.PostgresOptions{}); err == nil {
		p.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

// TestPostgresJanitor: expired rows are deleted, live ones kept, by the background
// janitor of one of two instances.
func TestPostgresJanitor(t *testing.T) {
	dsn := testpg.DSN(t)
	a, err := store.OpenPostgres(dsn, store.PostgresOptions{JanitorEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.OpenPostgres(dsn, store.PostgresOptions{JanitorEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const expiring = 2500 // more than two janitor batches
	if err := a.Update(func(tx store.Txn) error {
		for i := range expiring {
			if err := tx.Put(fmt.Sprintf("exp/%d", i), []byte("x"), 100*time.Millisecond); err != nil {
				return err
			}
		}
		return tx.Put("live", []byte("x"), time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Put("forever", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := query[int64](t, dsn, `SELECT count(*) FROM ciba_kv`)
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows left, want 2", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, k := range []string{"live", "forever"} {
		if _, err := b.Get(k); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
}

// TestPostgresDownIsAnError: a store whose database is gone answers errors, not
// ErrNotFound (which the gateway would read as "no such token": fail closed either way,
// but a missing revocation must not read as absent).
func TestPostgresClosedIsAnError(t *testing.T) {
	p, err := store.OpenPostgres(testpg.DSN(t), store.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := p.Get("k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get on a closed store = %v", err)
	}
	if err := p.Put("k", nil, 0); err == nil {
		t.Fatal("Put on a closed store succeeded")
	}
}

func TestRetryable(t *testing.T) {
	if store.Retryable(nil) || store.Retryable(errors.New("40001")) || store.Retryable(store.ErrExists) {
		t.Fatal("a non-PostgreSQL error is retryable")
	}
}

// BenchmarkGet is the gate's read: one key by its primary key, on each backend.
func BenchmarkGet(b *testing.B) {
	for _, backend := range []string{"badger", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var s store.Store
			if backend == "badger" {
				bs, err := store.OpenBadger(b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				s = bs
			} else {
				p, err := store.OpenPostgres(testpg.DSN(b), store.PostgresOptions{MaxConns: 8})
				if err != nil {
					b.Fatal(err)
				}
				s = p
			}
			defer s.Close()
			if err := s.Put("at/some-token-hash", make([]byte, 400), time.Hour); err != nil {
				b.Fatal(err)
			}
			if err := s.Put("consent/some-id", make([]byte, 600), time.Hour); err != nil {
				b.Fatal(err)
			}
			b.Run("Get", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Get("at/some-token-hash"); err != nil {
						b.Fatal(err)
					}
				}
			})
			// The gate's read: a token with its consent.
			b.Run("GetMany", func(b *testing.B) {
				keys, vals := []string{"at/some-token-hash", "consent/some-id"}, make([][]byte, 2)
				for b.Loop() {
					if err := s.GetMany(keys, vals); err != nil || vals[1] == nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
