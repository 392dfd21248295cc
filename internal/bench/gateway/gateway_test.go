package gateway

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                string
		cfg                 Config
		admin, alg, storage string
	}{
		{"defaults", Config{Dir: "/w"}, "off", "", "/w/data"},
		{"set", Config{Dir: "/w", Admin: "127.0.0.1:2020", SigningAlg: "ES256", Storage: "postgres {}", Options: "fapi"},
			"127.0.0.1:2020", "signing_alg ES256\n\t\tfapi", "postgres {}"},
		{"options only", Config{Dir: "/w", Options: "poll_interval 1s"}, "off", "poll_interval 1s", "/w/data"},
	} {
		if got := adminOf(tc.cfg); got != tc.admin {
			t.Errorf("%s: adminOf = %q, want %q", tc.name, got, tc.admin)
		}
		if got := algOf(tc.cfg); got != tc.alg {
			t.Errorf("%s: algOf = %q, want %q", tc.name, got, tc.alg)
		}
		if got := storageOf(tc.cfg); got != tc.storage {
			t.Errorf("%s: storageOf = %q, want %q", tc.name, got, tc.storage)
		}
	}
}

func TestStorage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind, dsn, option string
		fails             bool
	}{
		{"", "", "", false},
		{"badger", "", "", false},
		{"postgres", "postgres://gw@db/ciba", "postgres {\n\t\t\tdsn postgres://gw@db/ciba\n\t\t\tmax_conns 32\n\t\t}", false},
		{"sqlite", "", "", true},
	} {
		option, stop, err := Storage(tc.kind, tc.dsn)
		if (err != nil) != tc.fails || option != tc.option {
			t.Errorf("Storage(%q, %q) = %q, %v", tc.kind, tc.dsn, option, err)
		}
		if stop != nil {
			stop()
		}
	}
}

// TestWriteUsers: n users, user-i signing in with the shared password, each with the two
// accounts the benchmarks approve and read.
func TestWriteUsers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.json")
	if err := writeUsers(path, 3); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var users []struct {
		Subject      string   `json:"subject"`
		LoginHints   []string `json:"login_hints"`
		PasswordHash string   `json:"password_hash"`
		Accounts     []struct{ AccountId string }
	}
	if err := json.Unmarshal(b, &users); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if len(users) != 3 {
		t.Fatalf("%d users", len(users))
	}
	for i, u := range users {
		if u.Subject != "sub-"+strconv.Itoa(i) || len(u.LoginHints) != 1 || u.LoginHints[0] != "user-"+strconv.Itoa(i) {
			t.Errorf("user %d: %+v", i, u)
		}
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(UserPassword)) != nil {
			t.Errorf("user %d: the password does not match its hash", i)
		}
		if len(u.Accounts) != 2 || u.Accounts[0].AccountId != "22289" || u.Accounts[1].AccountId != "31820" {
			t.Errorf("user %d accounts %+v", i, u.Accounts)
		}
	}
}

func TestFreePortAndUpstream(t *testing.T) {
	t.Parallel()
	p := FreePort()
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("FreePort gave %d, not free: %v", p, err)
	}
	l.Close()
	addr, err := StartUpstream(`{"Data":{}}`)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/open-banking/v3.1/aisp/accounts")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(body) != `{"Data":{}}` {
		t.Errorf("%d %v %q", resp.StatusCode, resp.Header, body)
	}
}

// TestMemory reads a real process's /proc status.
func TestMemory(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &Gateway{cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for _, field := range []string{"VmHWM", "VmRSS"} {
		n, err := g.Memory(field)
		if err != nil || n <= 0 || n%1024 != 0 {
			t.Errorf("Memory(%s) = %d, %v", field, n, err)
		}
	}
	if peak, err := g.PeakRSS(); err != nil || peak <= 0 {
		t.Errorf("PeakRSS = %d, %v", peak, err)
	}
	if _, err := g.Memory("NoSuchField"); err == nil || !strings.Contains(err.Error(), "no NoSuchField") {
		t.Errorf("Memory(NoSuchField) = %v", err)
	}
}
