package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/testpg"
	"github.com/caddyciba/gateway/internal/users"
)

var caddyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "caddyciba-cmd-")
	if err != nil {
		panic(err)
	}
	caddyBin = filepath.Join(dir, "caddy")
	if out, err := exec.Command("go", "build", "-o", caddyBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testpg.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// ciba runs `caddy ciba args...` with stdin and returns stdout, failing on a non-zero exit
// unless wantFail.
func ciba(t *testing.T, stdin string, wantFail bool, args ...string) string {
	t.Helper()
	cmd := exec.Command(caddyBin, append([]string{"ciba"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if (err != nil) != wantFail {
		t.Fatalf("caddy ciba %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestHashSecret(t *testing.T) {
	out := ciba(t, "tpp-secret-42\n", false, "hash-secret")
	hash, ok := strings.CutPrefix(strings.TrimSpace(out), "secret_hash ")
	var c clients.Client
	if !ok || c.SetSecretHash(hash) != nil || !c.CheckSecret("tpp-secret-42") || c.CheckSecret("tpp-secret-43") {
		t.Fatalf("hash-secret printed %q", out)
	}
	ciba(t, "", true, "hash-secret")
}

func TestAddUser(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users.json")
	ciba(t, "pin-1234\n", false, "add-user", "--users", file, "--subject", "sub-1", "--login-hint", "alice",
		"--login-hint", "alice@example.com", "--account", "22289:Bills", "--account", "31820", "--password-stdin")
	ciba(t, "", false, "add-user", "--users", file, "--subject", "sub-2", "--login-hint", "bob", "--email", "bob@bank.example")
	ciba(t, "", true, "add-user", "--users", file, "--subject", "sub-1", "--login-hint", "carol")
	d, err := users.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := d.ByHint("alice@example.com"), d.BySubject("sub-2")
	if alice == nil || !alice.CheckPassword("pin-1234") || alice.CheckPassword("pin-1235") || len(alice.Accounts) != 2 ||
		alice.Accounts[0].Nickname != "Bills" || bob == nil || bob.PasswordHash != "" || bob.MailAddress() != "bob@bank.example" || d.Len() != 2 {
		t.Fatalf("users file: alice %+v, bob %+v", alice, bob)
	}
}

func TestKeygen(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.PS256, jwa.EdDSA} {
		prefix := filepath.Join(t.TempDir(), "tpp")
		ciba(t, "", false, "keygen", "--alg", alg.String(), "--kid", "k-"+alg.String(), "--out", prefix)
		privBuf, err := os.ReadFile(prefix + ".private.jwk.json")
		if err != nil {
			t.Fatal(err)
		}
		private, err := jwk.ParseKey(privBuf)
		if err != nil {
			t.Fatal(err)
		}
		set, err := jwk.ReadFile(prefix + ".jwks.json")
		if err != nil || set.Len() != 1 {
			t.Fatalf("jwks: %v", err)
		}
		public, _ := set.Key(0)
		if _, hasD := public.Get("d"); public.KeyID() != "k-"+alg.String() || hasD {
			t.Fatalf("%s: public key %v", alg, public)
		}
		signed, err := jws.Sign([]byte("payload"), jws.WithKey(alg, private))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.Verify(signed, jws.WithKeySet(set, jws.WithInferAlgorithmFromKey(true))); err != nil {
			t.Fatalf("%s: a signature of the private key does not verify with the JWKS: %v", alg, err)
		}
	}
	ciba(t, "", true, "keygen", "--alg", "HS256", "--out", filepath.Join(t.TempDir(), "x"))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestConsentsOfAStoppedGateway runs the gateway with a client whose secret the config
// holds only as its hash, creates a consent, stops the gateway and lists the consent from
// its storage.
func TestConsentsOfAStoppedGateway(t *testing.T) {
	dir := t.TempDir()
	hash := strings.TrimPrefix(strings.TrimSpace(ciba(t, "s3cret\n", false, "hash-secret")), "secret_hash ")
	ciba(t, "", false, "add-user", "--users", filepath.Join(dir, "users.json"), "--subject", "sub-1", "--login-hint", "alice")
	base := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	config := fmt.Sprintf(`{
	admin off
	ciba {
		issuer  %[1]s
		storage %[2]s/data
		users   %[2]s/users.json
		client tpp-1 {
			auth        client_secret_basic
			secret_hash %[3]s
			scopes      accounts
		}
	}
}
%[1]s {
	ciba_endpoints
}
`, base, dir, hash)
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := exec.Command(caddyBin, "run", "--config", filepath.Join(dir, "Caddyfile"))
	gw.Dir = dir
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = gw.Process.Kill()
			_ = gw.Wait()
		}
	})
	var tok string
	for deadline := time.Now().Add(30 * time.Second); tok == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("tpp-1", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token with the hashed secret: %d %v", resp.StatusCode, body)
		}
		tok, _ = body["access_token"].(string)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/open-banking/v3.1/aisp/account-access-consents",
		strings.NewReader(`{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("consent: %v %v", resp, err)
	}
	var created struct{ Data struct{ ConsentId string } }
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()

	ciba(t, "", true, "consents", "--storage", filepath.Join(dir, "data")) // still running: the storage is locked
	_ = gw.Process.Signal(syscall.SIGTERM)
	_ = gw.Wait()
	stopped = true

	before := tree(t, filepath.Join(dir, "data"))
	out := ciba(t, "", false, "consents", "--storage", filepath.Join(dir, "data"), "--client", "tpp-1")
	if after := tree(t, filepath.Join(dir, "data")); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("listing changed the storage:\nbefore %v\nafter  %v", before, after)
	}
	var lines []map[string]any
	for sc := bufio.NewScanner(strings.NewReader(out)); sc.Scan(); {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 1 || lines[0]["ConsentId"] != created.Data.ConsentId || lines[0]["status"] != "AwaitingAuthorisation" {
		t.Fatalf("consents: %s", out)
	}
	if other := ciba(t, "", false, "consents", "--storage", filepath.Join(dir, "data"), "--client", "tpp-2"); other != "" {
		t.Fatalf("another client's listing: %s", other)
	}
}

// TestConsentsOnPostgres lists the consents of a PostgreSQL storage, which gateways may be
// using at the same time.
func TestConsentsOnPostgres(t *testing.T) {
	dsn := testpg.DSN(t)
	s, err := store.OpenPostgres(dsn, store.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	repo := &consent.Repo{Store: s, Now: time.Now}
	req, err := consent.ParseRequest([]byte(`{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.Create("tpp-1", req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Create("tpp-2", req); err != nil {
		t.Fatal(err)
	}
	out := ciba(t, "", false, "consents", "--postgres", dsn, "--client", "tpp-1")
	var line map[string]any
	if err := json.Unmarshal([]byte(out), &line); err != nil || line["ConsentId"] != c.ID || strings.Count(out, "\n") != 1 {
		t.Fatalf("consents: %q %v", out, err)
	}
	ciba(t, "", true, "consents", "--postgres", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
}
