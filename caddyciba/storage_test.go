package caddyciba

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/testpg"
)

// TestStorageCaddyfile: every form of the storage option gives its module's JSON, and
// each mistake is refused at adapt time.
func TestStorageCaddyfile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, option, want, err string
	}{
		{"a directory is Badger", "storage /var/lib/ciba", `{"module":"badger","path":"/var/lib/ciba"}`, ""},
		{"badger default dir", "storage badger", `{"module":"badger"}`, ""},
		{"badger with dir", "storage badger ./data", `{"module":"badger","path":"./data"}`, ""},
		{"postgres block", "storage postgres {\n\t\t\tdsn {env.CIBA_PG_DSN}\n\t\t\tmax_conns 20\n\t\t}",
			`{"dsn":"{env.CIBA_PG_DSN}","max_conns":20,"module":"postgres"}`, ""},
		{"postgres inline dsn", "storage postgres postgres://gw@db.bank.example/ciba?sslmode=verify-full",
			`{"dsn":"postgres://gw@db.bank.example/ciba?sslmode=verify-full","module":"postgres"}`, ""},
		{"no argument", "storage", "", "wrong argument count"},
		{"directory and more", "storage /a /b", "", `unknown storage module "/a"`},
		{"badger two dirs", "storage badger /a /b", "", "wrong argument count"},
		{"postgres without dsn", "storage postgres", "", "storage postgres needs a dsn"},
		{"postgres unknown option", "storage postgres {\n\t\t\tdsn x\n\t\t\tcolour red\n\t\t}", "", `unrecognized postgres storage option "colour"`},
		{"postgres zero conns", "storage postgres {\n\t\t\tdsn x\n\t\t\tmax_conns 0\n\t\t}", "", `max_conns: "0" is not a positive number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := adapt("{\n\tciba {\n\t\tissuer https://bank.example\n\t\t" + tc.option + "\n\t}\n}\n")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Apps struct {
					CIBA struct {
						Storage json.RawMessage `json:"storage"`
					} `json:"ciba"`
				} `json:"apps"`
			}
			if err := json.Unmarshal(out, &cfg); err != nil {
				t.Fatal(err)
			}
			if got := string(cfg.Apps.CIBA.Storage); got != tc.want {
				t.Fatalf("storage = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestStorageJSON: the storage setting before modules (a directory string) and none at
// all still mean Badger.
func TestStorageJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{``, `{"module":"badger"}`},
		{`"/var/lib/ciba"`, `{"module":"badger","path":"/var/lib/ciba"}`},
		{`{"module":"postgres","dsn":"x"}`, `{"module":"postgres","dsn":"x"}`},
	} {
		got, err := storageJSON(json.RawMessage(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("storageJSON(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := storageJSON(json.RawMessage(`"unterminated`)); err == nil {
		t.Error("a broken string was taken")
	}
}

// postgresStorage is the storage option for a fresh database of the test server.
func postgresStorage(t *testing.T) (option, dsn string) {
	dsn = testpg.DSN(t)
	return "postgres {\n\t\t\tdsn " + dsn + "\n\t\t\tmax_conns 8\n\t\t}", dsn
}

// TestStoragePostgresReload runs the gateway on PostgreSQL: a token it issued is in the
// database, a reload keeps the connection pool, and an unload releases it.
func TestStoragePostgresReload(t *testing.T) {
	option, dsn := postgresStorage(t)
	startGateway(t, gatewayConfig(option, ""))
	opensBefore := storeOpens.Load()
	before := activeApp(t).Store()
	// A consent is a record written before the reload (client-credentials tokens are
	// self-contained: their key is what is stored).
	consentID := newConsent(t, "tpp-basic", "b@sic secret+/:~")
	startGateway(t, gatewayConfig(option, "access_token_ttl 20m"))
	if opened := storeOpens.Load() - opensBefore; opened != 0 {
		t.Fatalf("reload opened the store %d more times", opened)
	}
	if activeApp(t).Store() != before {
		t.Fatal("reload gave the app another store")
	}
	if _, err := activeApp(t).Store().Get(consent.StoreKey(consentID)); err != nil {
		t.Fatalf("consent written before the reload: %v", err)
	}
	key := "postgres 8 " + dsn
	if n, _ := stores.References(key); n != 1 {
		t.Fatalf("store referenced %d times after reload, want 1", n)
	}
	unloadGateway(t)
	if n, _ := stores.References(key); n != 0 {
		t.Fatalf("store still referenced %d times after unload", n)
	}
}

// TestStoragePostgresUnreachable: a database that cannot be reached fails the config
// load, and the error does not show the DSN's password.
func TestStoragePostgresUnreachable(t *testing.T) {
	const secret = "pg-s3cret-pw"
	option := "postgres {\n\t\t\tdsn \"postgres://gw:" + secret + "@127.0.0.1:1/ciba?sslmode=disable&connect_timeout=2\"\n\t\t}"
	out, err := adapt(gatewayConfig(option, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err = caddy.Load(out, true); err == nil {
		unloadGateway(t)
		t.Fatal("the gateway started without its database")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the error shows the password: %v", err)
	}
}

// onPostgres makes gatewayConfig keep the state in PostgreSQL: each storage directory a
// test names stands for a database of its own, so a test that restarts the gateway on
// the same storage finds its state again.
var (
	onPostgres  bool
	pgDatabases = map[string]string{}
)

// storageOption is the storage option for a test's storage directory.
func storageOption(dir string) string {
	if !onPostgres || !filepath.IsAbs(dir) {
		return dir
	}
	dsn, ok := pgDatabases[dir]
	if !ok {
		s, err := testpg.Shared()
		if err != nil {
			panic(fmt.Sprintf("PostgreSQL for the tests: %v", err))
		}
		if dsn, err = s.NewDatabase(); err != nil {
			panic(err)
		}
		pgDatabases[dir] = dsn
	}
	return "postgres {\n\t\t\tdsn " + dsn + "\n\t\t\tmax_conns 16\n\t\t}"
}

// TestOnPostgres runs the gate, CIBA, consent, token and admin suites again with the
// state in PostgreSQL instead of Badger.
func TestOnPostgres(t *testing.T) {
	onPostgres = true
	t.Cleanup(func() { onPostgres = false })
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"Gate", TestGate},
		{"GateCertificateBinding", TestGateCertificateBinding},
		{"GateFiltersTheDemoBank", TestGateFiltersTheDemoBank},
		{"GateStreamsLargeBodies", TestGateStreamsLargeBodies},
		{"CIBAPollFlow", TestCIBAPollFlow},
		{"CIBAPing", TestCIBAPing},
		{"CIBAPush", TestCIBAPush},
		{"FAPIMode", TestFAPIMode},
		{"RefreshEndsWithTheConsent", TestRefreshEndsWithTheConsent},
		{"CIBATokenErrors", TestCIBATokenErrors},
		{"CIBAExpiredToken", TestCIBAExpiredToken},
		{"ConcurrentPollsMintOnce", TestConcurrentPollsMintOnce},
		{"DisabledUserAtRedemption", TestDisabledUserAtRedemption},
		{"BackchannelErrors", TestBackchannelErrors},
		{"RevocationAndIntrospection", TestRevocationAndIntrospection},
		{"IntrospectRefreshToken", TestIntrospectRefreshToken},
		{"ConsentEndpoints", TestConsentEndpoints},
		{"ConsentEndpointRefusals", TestConsentEndpointRefusals},
		{"ClientCredentialsGrant", TestClientCredentialsGrant},
		{"ClientAuthentication", TestClientAuthentication},
		{"DevicePage", TestDevicePage},
		{"DevicePagePassword", TestDevicePagePassword},
		{"AdminAPI", TestAdminAPI},
		{"KeyRotation", TestKeyRotation},
		{"ScheduledKeyRotation", TestScheduledKeyRotation},
		{"OpenIDClientCIBA", TestOpenIDClientCIBA},
		{"OpenIDClientClientCredentials", TestOpenIDClientClientCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(pgDatabases)
			tc.run(t)
			if len(pgDatabases) == before && !t.Skipped() {
				t.Fatal("the test ran no gateway on PostgreSQL")
			}
		})
	}
}

// TestPostgresStorageDSNPlaceholders: {env.*} in the DSN is replaced at provision; an
// unset variable or an unknown placeholder is an error, never an empty part of the DSN.
func TestPostgresStorageDSNPlaceholders(t *testing.T) {
	t.Setenv("CIBA_TEST_PG_DSN", "postgres://gw@db.example/ciba")
	for _, tc := range []struct {
		dsn, want string
		ok        bool
	}{
		{"{env.CIBA_TEST_PG_DSN}", "postgres://gw@db.example/ciba", true},
		{"postgres://gw@{env.CIBA_TEST_PG_UNSET}/ciba", "", false},
		{"postgres://gw@{nonsense.placeholder}/ciba", "", false},
		{"", "", false},
	} {
		p := &PostgresStorage{DSN: tc.dsn}
		err := p.Provision(caddy.Context{})
		if err == nil {
			err = p.Validate()
		}
		if (err == nil) != tc.ok || p.dsn != tc.want && tc.ok {
			t.Errorf("dsn %q: %q, %v", tc.dsn, p.dsn, err)
		}
	}
}
