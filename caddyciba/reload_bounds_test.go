package caddyciba

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// settled waits for the goroutine count to stop falling and returns it with the fds.
func settled(t *testing.T) (goroutines, fds int) {
	t.Helper()
	prev := -1
	for range 20 {
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == prev {
			break
		}
		prev = n
	}
	return prev, openFDs(t)
}

// TestReloadUnderLoad reloads the config 50 times through the admin API while clients
// ask for tokens and start backchannel requests: every request is answered, none with a
// 5xx; every device notification arrives, including the one whose retries span the
// reloads; goroutines and descriptors end where they started (each config's delivery
// pool is closed by Cleanup, and what it had not delivered is taken over from the store).
func TestReloadUnderLoad(t *testing.T) {
	const reloads, requests = 50, 10
	hook := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n < 3 { // the first request's first attempts fail: its retries run across reloads
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	storage, usersFile := t.TempDir(), writeUsers(t)
	config := func(i int) string {
		cfg := gatewayConfig(storage, fmt.Sprintf(`users %s
		poll_interval 1s
		max_deliveries 4
		max_pending_per_user 32
		access_token_ttl %dm
		notifier webhook %s {
			secret %s
		}`, usersFile, 10+i, hook.URL, webhookSecret))
		// Old servers finish what they serve; the harness default (1ns) cuts it off.
		return strings.Replace(cfg, "grace_period 1ns", "grace_period 10s", 1)
	}
	startGateway(t, config(0))
	consents := make([]string, requests+1)
	for i := range consents {
		consents[i] = newConsent(t, basicID, basicSecret)
	}
	// Clients without keep-alive: each request is a connection of its own, so no idle
	// connection of the test's is counted as the gateway's.
	plain := client(nil)
	plain.Transport.(*http.Transport).DisableKeepAlives = true
	bc := func(consentID string) response {
		return postForm(t, plain, httpBase+"/bc-authorize", formOf("scope", "openid accounts",
			"login_hint", "alice@example.com", "openbanking_intent_id", consentID), basicID, basicSecret)
	}
	if r := bc(consents[0]); r.status != http.StatusOK {
		t.Fatalf("bc-authorize: %d %s", r.status, r.raw)
	}
	tester := caddytest.NewTester(t)
	for i := 1; i <= 3; i++ { // warm up: the first reloads make what every later one reuses
		tester.InitServer(config(i), "caddyfile")
	}
	baseG, baseFD := settled(t)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var answered, retried int
	var failures []string
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 2000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := tokenOnce(plain)
				for try := 0; try < 3 && err != nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)); try++ {
					// Go's server closes, unanswered, a connection whose request it reads
					// after its shutdown began (net/http conn.serve); the old config's
					// server does that to requests that raced the reload. Nothing was
					// handled, so the client may send it again (up to 3 times: reloads
					// follow each other closely here).
					mu.Lock()
					retried++
					mu.Unlock()
					resp, err = tokenOnce(plain)
				}
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case resp.StatusCode >= 500:
					failures = append(failures, resp.Status)
				default:
					answered++
				}
				mu.Unlock()
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	for i := 4; i < 4+reloads; i++ {
		tester.InitServer(config(i), "caddyfile")
		if k := i - 3; k <= requests {
			if r := bc(consents[k]); r.status != http.StatusOK {
				t.Errorf("bc-authorize during reload %d: %d %s", i, r.status, r.raw)
			}
		}
	}
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d token requests failed during the reloads, even after retries, first: %s", len(failures), answered+len(failures), failures[0])
	}
	if answered == 0 {
		t.Fatal("no token request was answered during the reloads")
	}

	// Every notification arrives once accepted: 3 refusals, then one 204 per request.
	delivered := func() map[string]bool {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		ids := map[string]bool{}
		for n, got := range hook.got {
			if n >= 3 {
				ids[got.header.Get("webhook-id")] = true
			}
		}
		return ids
	}
	for end := time.Now().Add(20 * time.Second); len(delivered()) < requests+1 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(delivered()); n != requests+1 {
		t.Fatalf("%d of %d notifications delivered", n, requests+1)
	}

	g, fds := settled(t)
	t.Logf("%d token requests answered (%d retries of a connection closed unanswered) over %d reloads; goroutines %d -> %d, fds %d -> %d", answered, retried, reloads, baseG, g, baseFD, fds)
	// Tolerance: the shared delivery transport's idle connections (both ends live in this
	// process) and the admin API's. One leaked pool per reload would be 5 x 50.
	if g > baseG+30 {
		t.Errorf("goroutines grew from %d to %d over %d reloads", baseG, g, reloads)
	}
	if fds > baseFD+20 {
		t.Errorf("descriptors grew from %d to %d over %d reloads", baseFD, fds, reloads)
	}
	if n, _ := stores.References(mustAbs(t, storage)); n != 1 {
		t.Errorf("store referenced %d times after the reloads, want 1", n)
	}
}

// tokenOnce asks for a client-credentials token on a connection of its own.
func tokenOnce(c *http.Client) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodPost, httpBase+"/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(basicID, basicSecret)
	return c.Do(req)
}
