package payment

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/testpg"
)

// The PostgreSQL server starts only for the tests that ask for a DSN.
func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

// TestPostgresTwoInstances: two gateway instances, each with its own pool to one
// database, race 50 Reserves of one consent and 50 Claims of one key: one of each wins.
func TestPostgresTwoInstances(t *testing.T) {
	dsn := testpg.DSN(t)
	var repos [2]*Repo
	for i := range repos {
		s, err := store.OpenPostgres(dsn, store.PostgresOptions{MaxConns: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		repos[i] = &Repo{Store: s}
	}
	c := sampleDomestic(t)
	if err := repos[0].SaveDomestic(c, now); err != nil {
		t.Fatal(err)
	}
	if _, err := repos[1].AuthoriseDomestic(c.ID, "s", Debtor{AccountID: "a1"}, now); err != nil {
		t.Fatal(err)
	}
	k := IdempotencyKey{"domestic-payments", "tpp-1", "pg"}
	var reserved, claimed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		r := repos[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch _, _, err := r.Reserve("tpp-1", c.ID, now); {
			case err == nil:
				reserved.Add(1)
			case !errors.Is(err, ErrReserved):
				t.Error(err)
			}
			switch a, err := r.Claim(k, []byte(`{}`), now); {
			case err == nil && a == nil:
				claimed.Add(1)
			case !errors.Is(err, ErrInProgress):
				t.Error(a, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if reserved.Load() != 1 || claimed.Load() != 1 {
		t.Fatalf("%d reserved, %d claimed", reserved.Load(), claimed.Load())
	}
}
