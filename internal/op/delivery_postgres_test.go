package op

import (
	"os"
	"testing"

	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/testpg"
)

// The PostgreSQL server starts only for the tests that ask for a DSN.
func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

func openPostgres(t *testing.T, dsn string) store.Store {
	t.Helper()
	p, err := store.OpenPostgres(dsn, store.PostgresOptions{MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestDeliveryPostgresTwoInstances: two instances, each with its own connection pool to
// one PostgreSQL database, share the queue; each delivery arrives exactly once.
func TestDeliveryPostgresTwoInstances(t *testing.T) {
	t.Parallel()
	dsn := testpg.DSN(t)
	twoInstancesOnce(t, openPostgres(t, dsn), openPostgres(t, dsn))
}
