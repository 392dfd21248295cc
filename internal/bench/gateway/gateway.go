// Package gateway builds cmd/caddy and runs it as a separate process on loopback for the
// benchmarks, with a demo user, one secret client and a webhook to the benchmark.
package gateway

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Client credentials of the benchmark's TPP.
const (
	ClientID     = "bench-tpp"
	ClientSecret = "bench-secret-0f3c"
)

// WebhookKey signs the notifications the benchmark receives.
var WebhookKey = []byte("caddyciba-bench-webhook-key-32by")

// Gateway is a running gateway process.
type Gateway struct {
	URL  string
	Dir  string
	cmd  *exec.Cmd
	done chan error
}

// Workdir makes a temporary directory for one benchmark and builds the gateway into it;
// cleanup removes it.
func Workdir(name string) (dir, bin string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", "caddyciba-bench-"+name+"-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if bin, err = Build(dir); err != nil {
		cleanup()
		return "", "", nil, err
	}
	return dir, bin, cleanup, nil
}

// Build compiles cmd/caddy into dir and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "caddy")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/caddyciba/gateway/cmd/caddy")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return bin, cmd.Run()
}

// StartUpstream serves body as JSON on a loopback port, for as long as the process runs:
// the bank's account API behind the gateway. It returns host:port.
func StartUpstream(body string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	b := []byte(body)
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	return l.Addr().String(), nil
}

// FreePort asks the kernel for a free loopback port.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Config is what the gateway is started with.
type Config struct {
	Bin, Dir   string
	Port       int
	WebhookURL string
	// Users is the number of users in the users file (user-0 … ), each with two accounts.
	Users int
	// ExtraSites are appended to the Caddyfile (the bare reverse_proxy site, upstreams).
	ExtraSites string
	// Gated is the handler block for the gated account API route.
	Gated string
	// Admin is the admin endpoint's address (for pprof); off when empty.
	Admin string
	// SigningAlg is the ID token algorithm; the gateway's default (PS256) when empty.
	SigningAlg string
	// Storage is the ciba storage option; Badger in Dir/data when empty.
	Storage string
	// Options are more lines for the ciba block.
	Options string
	// ClientOptions are more lines for the client's block (rate_limit …).
	ClientOptions string
	// Global are more global options (servers { timeouts … }).
	Global string
}

// Start writes the users file and the Caddyfile and starts the gateway; it returns once
// the discovery document answers.
func Start(cfg Config) (*Gateway, error) {
	if err := writeUsers(filepath.Join(cfg.Dir, "users.json"), max(cfg.Users, 1)); err != nil {
		return nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", cfg.Port)
	caddyfile := fmt.Sprintf(`{
	admin %[9]s
	auto_https off
	%[12]s
	log {
		level ERROR
	}
	ciba {
		%[10]s
		issuer        %[1]s
		storage       %[11]s
		users         %[2]s/users.json
		poll_interval 1s
		client %[3]s {
			name   "Bench TPP"
			auth   client_secret_basic
			secret %[4]s
			scopes openid accounts
			%[13]s
		}
		notifier webhook %[5]s {
			secret whsec_%[6]s
		}
	}
}

%[1]s {
	ciba_endpoints
	route /open-banking/v3.1/aisp/* {
		%[7]s
	}
}
%[8]s
`, url, cfg.Dir, ClientID, ClientSecret, cfg.WebhookURL, base64.StdEncoding.EncodeToString(WebhookKey), cfg.Gated, cfg.ExtraSites, adminOf(cfg), algOf(cfg), storageOf(cfg), cfg.Global, cfg.ClientOptions)
	path := filepath.Join(cfg.Dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(caddyfile), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.Bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &Gateway{URL: url, Dir: cfg.Dir, cmd: cmd, done: make(chan error, 1)}
	go func() { g.done <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url + "/.well-known/openid-configuration"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return g, nil
			}
		}
		select {
		case err := <-g.done:
			return nil, fmt.Errorf("the gateway exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	g.Kill()
	return nil, fmt.Errorf("the gateway did not answer within a minute")
}

func algOf(cfg Config) string {
	if cfg.SigningAlg == "" {
		return cfg.Options
	}
	return "signing_alg " + cfg.SigningAlg + "\n\t\t" + cfg.Options
}

func storageOf(cfg Config) string {
	if cfg.Storage == "" {
		return filepath.Join(cfg.Dir, "data")
	}
	return cfg.Storage
}

func adminOf(cfg Config) string {
	if cfg.Admin == "" {
		return "off"
	}
	return cfg.Admin
}

// CPUProfile fetches a CPU profile of the gateway over d from its admin endpoint.
func (g *Gateway) CPUProfile(admin string, d time.Duration, path string) error {
	return fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, int(d.Seconds())), path)
}

// HeapProfile fetches a heap profile of the gateway from its admin endpoint.
func (g *Gateway) HeapProfile(admin, path string) error {
	return fetch(fmt.Sprintf("http://%s/debug/pprof/heap", admin), path)
}

func fetch(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// PID is the gateway's process id.
func (g *Gateway) PID() int { return g.cmd.Process.Pid }

// Kill ends the gateway at once (SIGKILL) and waits for it.
func (g *Gateway) Kill() {
	_ = g.cmd.Process.Kill()
	<-g.done
}

// Stop ends the gateway gracefully.
func (g *Gateway) Stop() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		g.Kill()
	}
}

// PeakRSS is the process's peak resident set (VmHWM) in bytes, read from /proc.
func (g *Gateway) PeakRSS() (int64, error) { return g.Memory("VmHWM") }

// Memory reads one memory line of /proc/<pid>/status (VmHWM, VmRSS, RssAnon, RssFile) in bytes.
func (g *Gateway) Memory(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.PID()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s", field)
}

// UserPassword is every benchmark user's password.
const UserPassword = "bench-password"

func writeUsers(path string, n int) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(UserPassword), bcrypt.MinCost)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"subject":"sub-%d","login_hints":["user-%d"],"password_hash":%q,`+
			`"accounts":[{"AccountId":"22289","Nickname":"Bills"},{"AccountId":"31820","Nickname":"Household"}]}`, i, i, hash)
	}
	b.WriteString("]")
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
