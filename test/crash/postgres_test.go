package crash

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/bench/flow"
	"github.com/caddyciba/gateway/internal/bench/gateway"
	"github.com/caddyciba/gateway/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

func postgresStorage(dsn string) string {
	return fmt.Sprintf("postgres {\n\t\t\tdsn %s\n\t\t\tmax_conns %d\n\t\t}", dsn, poolConns)
}

// poolConns is the gateway's max_conns in these tests.
const poolConns = 16

// TestCrashPostgresGateway: kill -9 of a gateway on PostgreSQL under load, restarted:
// nothing acknowledged lost, nothing issued twice.
func TestCrashPostgresGateway(t *testing.T) {
	_, lost, doubles := runTrials(t, trials(), func(int) string { return postgresStorage(testpg.DSN(t)) }, killGateway)
	t.Logf("%d lost, %d issued twice", lost, doubles)
}

// TestCrashPostgresDatabase: the database stopped under load, in turn as `pg_ctl stop -m
// immediate` does and with kill -9, then started again; the gateway keeps running,
// reconnects, and has lost nothing it acknowledged.
func TestCrashPostgresDatabase(t *testing.T) {
	srv, err := testpg.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	storage := func(int) string {
		dsn, err := srv.NewDatabase()
		if err != nil {
			t.Fatal(err)
		}
		return postgresStorage(dsn)
	}
	crashes := 0
	crashDB := func(t *testing.T, g *gateway.Gateway, _ gateway.Config, wait func()) *gateway.Gateway {
		kill := crashes%2 == 1
		crashes++
		srv.Crash(kill)
		wait()
		if err := srv.Restart(); err != nil {
			t.Fatalf("database restart: %v", err)
		}
		waitServing(t, g)
		return g
	}
	_, lost, doubles := runTrials(t, trials(), storage, crashDB)
	t.Logf("%d lost, %d issued twice", lost, doubles)
}

// TestFailoverPostgres: a primary with a synchronous standby; under load the primary is
// killed (kill -9) and the standby promoted. The gateway, given both hosts, reconnects to
// the new primary by itself, and nothing it acknowledged is lost.
func TestFailoverPostgres(t *testing.T) {
	var primary, standby *testpg.Server
	stopPair := func() {
		for _, s := range []*testpg.Server{primary, standby} {
			if s != nil {
				s.Stop()
			}
		}
	}
	t.Cleanup(stopPair)
	storage := func(int) string {
		stopPair()
		var err error
		if primary, err = testpg.Start(); err != nil {
			t.Fatal(err)
		}
		dsn, err := primary.NewDatabase()
		if err != nil {
			t.Fatal(err)
		}
		if standby, err = primary.Standby(); err != nil {
			t.Fatal(err)
		}
		return postgresStorage(testpg.Failover(dsn, primary, standby))
	}
	failover := func(t *testing.T, g *gateway.Gateway, _ gateway.Config, wait func()) *gateway.Gateway {
		primary.Crash(true)
		wait()
		if err := standby.Promote(); err != nil {
			t.Fatalf("promote: %v", err)
		}
		waitServing(t, g)
		return g
	}
	_, lost, doubles := runTrials(t, trials(), storage, failover)
	t.Logf("%d lost, %d issued twice", lost, doubles)
}

// waitServing waits until the gateway writes to the database again: its pool replaces the
// connections a crash broke as it hands them out, one failed request each, so it waits for
// more successes in a row than the pool has connections. (A client-credentials token is
// no proof: it is self-contained and touches no store.)
func waitServing(t *testing.T, g *gateway.Gateway) {
	tpp := &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: flow.NewHTTPClient(1)}
	deadline := time.Now().Add(30 * time.Second)
	for inARow := 0; inARow < 2*poolConns; {
		cc, err := tpp.ClientCredentials()
		if err == nil {
			_, err = tpp.Consent(cc)
		}
		if err == nil {
			inARow++
			continue
		}
		inARow = 0
		if time.Now().After(deadline) {
			t.Fatalf("the gateway does not serve 30 s after the database came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
