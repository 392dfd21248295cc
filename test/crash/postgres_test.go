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
	return fmt.Sprintf("postgres {\n\t\t\tdsn %s\n\t\t\tmax_conns 16\n\t\t}", dsn)
}

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
		// The pool replaces the connections the crash broke as it hands them out.
		tpp := &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: flow.NewHTTPClient(1)}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := tpp.ClientCredentials()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the gateway does not serve 30 s after the database came back: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		return g
	}
	_, lost, doubles := runTrials(t, trials(), storage, crashDB)
	t.Logf("%d lost, %d issued twice", lost, doubles)
}
