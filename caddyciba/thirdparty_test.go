package caddyciba

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// e2eDir holds the npm project of the third-party client scripts.
var e2eDir, _ = filepath.Abs("../test/e2e")

var npmOnce sync.Once
var npmErr error

// runClient runs a script of test/e2e with node and returns its last output line decoded.
func runClient(t *testing.T, script string, env map[string]string, out any) {
	t.Helper()
	startClient(t, script, env, 60*time.Second)(out)
}

// startClient starts a script of test/e2e with node, for a test that acts while the
// client runs (approves on the device page), and returns the wait for its last output
// line, decoded. The npm dependencies are installed from the committed lock file on first
// use. If the test fails before the wait, the client is stopped and its stderr logged.
// files become the script's fds 3, 4, ….
func startClient(t *testing.T, script string, env map[string]string, timeout time.Duration, files ...*os.File) (wait func(out any)) {
	t.Helper()
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "openid-client")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = e2eDir
		if b, err := cmd.CombinedOutput(); err != nil {
			npmErr = err
			t.Logf("npm ci: %s", b)
		}
	})
	if npmErr != nil {
		t.Fatalf("installing the third-party client: %v", npmErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = e2eDir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.ExtraFiles = files
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("node %s: %v", script, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waited := false
	t.Cleanup(func() {
		cancel()
		if !waited {
			<-done
			t.Logf("node %s stopped; stderr:\n%s", script, stderr.String())
		}
	})
	return func(out any) {
		t.Helper()
		waited = true
		if err := <-done; err != nil {
			t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
		}
		lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
		if err := json.Unmarshal(lines[len(lines)-1], out); err != nil {
			t.Fatalf("node %s printed %q: %v", script, stdout.String(), err)
		}
	}
}

// TestOpenIDClientClientCredentials gets tokens with openid-client v6 (discovery, then
// clientCredentialsGrant) with a shared secret and with a private key.
func TestOpenIDClientClientCredentials(t *testing.T) {
	startGateway(t, gatewayConfig(t.TempDir(), ""))
	jwkJSON, err := json.Marshal(fx.pkjKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, clientID string
		env            map[string]string
	}{
		{"client_secret_basic", "tpp-basic", map[string]string{"CLIENT_SECRET": "b@sic secret+/:~"}},
		{"private_key_jwt", "tpp-pkj", map[string]string{"CLIENT_JWK": string(jwkJSON)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"ISSUER": httpBase, "CLIENT_ID": tc.clientID}
			for k, v := range tc.env {
				env[k] = v
			}
			var got struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				Scope       string `json:"scope"`
			}
			runClient(t, "client_credentials.mjs", env, &got)
			if got.TokenType != "bearer" || got.Scope != "accounts" || got.ExpiresIn <= 0 {
				t.Errorf("token response %+v", got)
			}
			rec, err := activeApp(t).provider.LookupAccess(got.AccessToken, time.Now())
			if err != nil || rec.ClientID != tc.clientID {
				t.Fatalf("token record %+v, %v", rec, err)
			}
		})
	}
}
