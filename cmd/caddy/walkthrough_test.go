package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWalkthrough runs examples/walkthrough.sh, the README's walk-through, against the real
// example gateway (Caddyfile.example, from the repository root, with fresh storage): a
// client-credentials token, a consent, the backchannel request, Alice's approval through
// the decision API with the link the log channel printed, the poll, and the gated call
// answering only the account she chose. The example's ports (8080, the bank's 9000 and the
// admin API's default 2019) are swapped for free ones in a copy of it, so the test runs
// beside a gateway a developer has running and beside other test processes.
func TestWalkthrough(t *testing.T) {
	for _, bin := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("the walk-through needs %s (.ci/run installs it): %v", bin, err)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	ports := freePorts(t, 3)
	gatewayPort, bankPort, adminPort := ports[0], ports[1], ports[2]
	base := fmt.Sprintf("http://localhost:%d", gatewayPort)
	example, err := os.ReadFile(filepath.Join(root, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	config := string(example)
	for _, r := range []struct{ old, new string }{
		{"{\n\thttp_port 8080\n", fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\thttp_port %d\n", adminPort, gatewayPort)},
		{"http://localhost:8080", base},
		{"127.0.0.1:9000", fmt.Sprintf("127.0.0.1:%d", bankPort)},
		{"http://:9000 {", fmt.Sprintf("http://:%d {", bankPort)},
	} {
		if !strings.Contains(config, r.old) {
			t.Fatalf("Caddyfile.example no longer has %q, which the test replaces to run it on free ports", r.old)
		}
		config = strings.ReplaceAll(config, r.old, r.new)
	}
	// The copy is read from the repository root, so the example's relative paths still hold.
	configPath := filepath.Join(home, "Caddyfile")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(home, "gateway.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	gw := exec.Command(caddyBin, "run", "--config", configPath, "--adapter", "caddyfile")
	gw.Dir = root
	gw.Env = append(cleanEnv(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	gw.Stdout, gw.Stderr = logFile, logFile
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Wait() }()
	defer func() {
		_ = gw.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = gw.Process.Kill()
			<-done
		}
		if t.Failed() {
			buf, _ := os.ReadFile(logPath)
			t.Logf("gateway log:\n%s", buf)
		}
	}()
	ready := false
	for deadline := time.Now().Add(60 * time.Second); !ready && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the example gateway exited: %v", err)
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/.well-known/openid-configuration", gatewayPort))
		if err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
	}
	if !ready {
		t.Fatal("the example gateway did not start")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := exec.CommandContext(ctx, "bash", "examples/walkthrough.sh")
	script.Dir = root
	script.Env = append(cleanEnv(), "GATEWAY_LOG="+logPath, "BASE="+base)
	var out, stderr bytes.Buffer
	script.Stdout, script.Stderr = &out, &stderr
	if err := script.Run(); err != nil {
		t.Fatalf("walkthrough.sh: %v\n%s\n%s", err, out.String(), stderr.String())
	}
	text := out.String()
	for _, want := range []string{
		"TOKEN=", "CONSENT=aac-", "AUTH_REQ_ID=", "DEVICE_URL=" + base + "/ciba/device/", "DECISION_URL=" + base + "/ciba/device/",
		`Www-Authenticate: Bearer realm="` + base + `"`, `"client_name":"Budget Buddy"`, "→ HTTP 204", "ACCESS_TOKEN=",
		"== Done: the TPP reads account 22289 under consent aac-",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the walk-through's output lacks %q", want)
		}
	}
	// The gated list: only the account Alice chose, then the other refused.
	_, gated, ok := strings.Cut(text, "== 7.")
	list, refused, ok2 := strings.Cut(gated, "An account Alice did not choose:")
	if !ok || !ok2 || !strings.Contains(list, `"AccountId": "22289"`) || strings.Contains(list, "31820") ||
		!strings.Contains(refused, "→ HTTP 403") || !strings.Contains(refused, "UK.OBIE.Field.Invalid") {
		t.Errorf("the gated answers:\n%s", gated)
	}
	if t.Failed() {
		t.Logf("walk-through output:\n%s", text)
	}
}

// cleanEnv is the test's environment without the variables the example and the script
// read, so both run with their defaults.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "TPP1_SECRET", "BASE", "GATEWAY_LOG", "PASSWORD", "ACCOUNT":
		default:
			env = append(env, kv)
		}
	}
	return env
}

// freePorts asks the kernel for n distinct free loopback ports, holding each until all are
// known so none comes back twice.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out[i] = l.Addr().(*net.TCPAddr).Port
	}
	return out
}
