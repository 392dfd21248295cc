// Package crash kills the gateway with SIGKILL in the middle of a load of CIBA flows,
// restarts it on the same storage, and checks that everything it acknowledged survived
// and that no auth_req_id was redeemed twice.
//
//	go test ./test/crash                                   # the short form (3 trials), as CI runs it
//	CADDYCIBA_CRASH_TRIALS=20 go test ./test/crash -v -timeout 30m
//	CADDYCIBA_CRASH_TRIALS=20 CADDYCIBA_CRASH_REPORT=$PWD/BENCHMARKS.md go test ./test/crash -v -timeout 30m
package crash

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/bench/flow"
	"github.com/caddyciba/gateway/internal/bench/gateway"
	"github.com/caddyciba/gateway/internal/bench/report"
)

const workers = 8

// ledger is what the gateway acknowledged before it died.
type ledger struct {
	mu       sync.Mutex
	acks     int
	consents map[string]string // ConsentId → the furthest status acknowledged ("Deleted" for a DELETE)
	requests map[string]string // auth_req_id → ConsentId
	redeemed map[string]bool   // auth_req_ids whose tokens were acknowledged
	live     map[string]string // access and refresh tokens → ConsentId ("" for client credentials)
	revoked  map[string]bool
	// attempted holds the changes sent but not acknowledged when the gateway died: they
	// may or may not have been made, so either outcome passes.
	attempted map[string]bool
}

func newLedger() *ledger {
	return &ledger{consents: map[string]string{}, requests: map[string]string{}, redeemed: map[string]bool{},
		live: map[string]string{}, revoked: map[string]bool{}, attempted: map[string]bool{}}
}

// try marks a change as sent before its answer arrives.
func (l *ledger) try(what, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempted[what+" "+key] = true
}

func (l *ledger) tried(what, key string) bool { return l.attempted[what+" "+key] }

func (l *ledger) record(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acks++
	f()
}

// flows runs CIBA flows with random follow-ups until the gateway stops answering.
func flows(tpp *flow.TPP, phone *flow.Phone, hint string, l *ledger, rng *rand.Rand) {
	for {
		cc, err := tpp.ClientCredentials()
		if err != nil {
			return
		}
		l.record(func() { l.live[cc] = "" })
		consentID, err := tpp.Consent(cc)
		if err != nil {
			return
		}
		l.record(func() { l.consents[consentID] = "AwaitingAuthorisation" })
		authReqID, err := tpp.Backchannel(hint, consentID)
		if err != nil {
			return
		}
		l.record(func() { l.requests[authReqID] = consentID })
		n, err := phone.Await(consentID, 3*time.Second)
		if err != nil {
			return
		}
		if flow.Approve(tpp.HTTP, n, "22289") != nil {
			return
		}
		l.record(func() { l.consents[consentID] = "Authorised" })
		l.try("redeem", authReqID)
		toks, err := tpp.PollTokens(authReqID)
		if err != nil {
			return
		}
		l.record(func() { l.redeemed[authReqID], l.live[toks.Access], l.live[toks.Refresh] = true, consentID, consentID })
		switch rng.IntN(4) {
		case 0:
			l.try("revoke", toks.Access)
			if tpp.Revoke(toks.Access) != nil {
				return
			}
			l.record(func() { l.revoked[toks.Access] = true })
		case 1:
			l.try("delete", consentID)
			if tpp.DeleteConsent(cc, consentID) != nil {
				return
			}
			l.record(func() { l.consents[consentID] = "Deleted" })
		case 2:
			again, err := tpp.Refresh(toks.Refresh)
			if err != nil {
				return
			}
			l.record(func() { l.live[again.Access] = consentID })
		}
	}
}

// result of one trial's check.
type result struct {
	checked, lost, doubles int
	problems               []string
}

func (r *result) lose(format string, args ...any) {
	r.lost++
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// verify checks the restarted gateway against the ledger: consents, then tokens and
// revocations, then auth requests (a replayed auth_req_id revokes its tokens, so last).
func verify(tpp *flow.TPP, l *ledger) (*result, error) {
	res := &result{}
	cc, err := tpp.ClientCredentials()
	if err != nil {
		return nil, err
	}
	for id, acked := range l.consents {
		res.checked++
		status, code, err := tpp.ConsentStatus(cc, id)
		if err != nil {
			return nil, err
		}
		switch acked {
		case "Deleted":
			if code == 200 {
				res.lose("consent %s was deleted but is back as %s", id, status)
			}
		case "Authorised":
			if code != 200 && l.tried("delete", id) {
				continue
			}
			if status != "Authorised" {
				res.lose("consent %s was Authorised, now %q (%d)", id, status, code)
			}
		default:
			if status != "AwaitingAuthorisation" && status != "Authorised" {
				res.lose("consent %s was created, now %q (%d)", id, status, code)
			}
		}
	}
	for tok, consentID := range l.live {
		if l.revoked[tok] || l.tried("revoke", tok) || l.consents[consentID] == "Deleted" || l.tried("delete", consentID) {
			continue
		}
		res.checked++
		if active, err := tpp.Active(tok); err != nil {
			return nil, err
		} else if !active {
			res.lose("an issued token of consent %q is no longer active", consentID)
		}
	}
	for tok := range l.revoked {
		res.checked++
		if active, err := tpp.Active(tok); err != nil {
			return nil, err
		} else if active {
			res.lose("a revoked token is active again")
		}
	}
	for authReqID, consentID := range l.requests {
		res.checked++
		_, err := pollSettled(tpp, authReqID)
		var oe *flow.OAuthError
		switch {
		case l.redeemed[authReqID] && err == nil:
			res.doubles++
			res.problems = append(res.problems, "auth_req_id of consent "+consentID+" redeemed twice")
		case l.redeemed[authReqID]:
			if !errors.As(err, &oe) || oe.Code != "invalid_grant" {
				return nil, fmt.Errorf("replayed auth_req_id: %v", err)
			}
		case errors.As(err, &oe) && oe.Code == "invalid_grant" && l.tried("redeem", authReqID):
			// redeemed before the crash, its answer lost on the way
		case errors.As(err, &oe) && oe.Code == "invalid_grant":
			res.lose("auth_req_id of consent %s is unknown after the restart", consentID)
		case err != nil && !errors.Is(err, flow.ErrPending):
			return nil, fmt.Errorf("poll after the restart: %v", err)
		}
	}
	return res, nil
}

// crashFunc makes a crash under load and returns the gateway to verify through once it
// is back (wait ends the load).
type crashFunc func(t *testing.T, g *gateway.Gateway, cfg gateway.Config, wait func()) *gateway.Gateway

// killGateway kills the gateway with SIGKILL and starts it again on the same storage.
func killGateway(t *testing.T, g *gateway.Gateway, cfg gateway.Config, wait func()) *gateway.Gateway {
	g.Kill()
	wait()
	g, err := gateway.Start(cfg)
	if err != nil {
		t.Fatalf("restart after kill -9: %v", err)
	}
	return g
}

// runTrials runs n trials: workers run CIBA flows through a gateway on the trial's
// storage (Badger in the trial's directory when storage is nil), crash strikes at a
// random moment, and every acknowledged write is checked afterwards.
func runTrials(t *testing.T, n int, storage func(trial int) string, crash crashFunc) (checked, lost, doubles int) {
	dir := t.TempDir()
	bin, err := gateway.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	for trial := range n {
		phone, err := flow.StartPhone()
		if err != nil {
			t.Fatal(err)
		}
		cfg := gateway.Config{Bin: bin, Dir: filepath.Join(dir, fmt.Sprint(trial)), Port: gateway.FreePort(),
			WebhookURL: phone.URL, Users: workers, Gated: "ciba_gate\n\t\trespond 200"}
		if storage != nil {
			cfg.Storage = storage(trial)
		}
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		g, err := gateway.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l := newLedger()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			tpp := &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: flow.NewHTTPClient(2)}
			wrng := rand.New(rand.NewPCG(seed, uint64(trial*100+w)))
			go func() { defer wg.Done(); flows(tpp, phone, fmt.Sprintf("user-%d", w), l, wrng) }()
		}
		crashAfter := time.Duration(500+rng.IntN(2500)) * time.Millisecond
		time.Sleep(crashAfter)
		g = crash(t, g, cfg, func() { wg.Wait(); phone.Close() })

		tpp := &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: flow.NewHTTPClient(4)}
		res, err := verify(tpp, l)
		g.Stop()
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		t.Logf("trial %d: crashed after %v; %d acknowledgements, %d checks, %d lost, %d issued twice",
			trial+1, crashAfter, l.acks, res.checked, res.lost, res.doubles)
		for _, p := range res.problems {
			t.Error(p)
		}
		if l.acks < 10 {
			t.Errorf("trial %d: only %d acknowledgements before the crash", trial, l.acks)
		}
		checked, lost, doubles = checked+res.checked, lost+res.lost, doubles+res.doubles
	}
	return checked, lost, doubles
}

// pollSettled polls once, waiting out slow_down from polls made just before the crash.
func pollSettled(tpp *flow.TPP, authReqID string) (flow.Tokens, error) {
	for range 5 {
		toks, err := tpp.PollTokens(authReqID)
		var oe *flow.OAuthError
		if errors.As(err, &oe) || err == nil {
			return toks, err
		}
		if errors.Is(err, flow.ErrPending) {
			// authorization_pending is an answer; slow_down is not: only pending is final here.
			return toks, err
		}
		time.Sleep(time.Second)
	}
	return flow.Tokens{}, errors.New("no settled answer")
}

func trials() int {
	if n, err := strconv.Atoi(os.Getenv("CADDYCIBA_CRASH_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// TestCrash: trials of load, kill -9 at a random moment, restart, verify.
func TestCrash(t *testing.T) {
	n := trials()
	totalChecked, totalLost, totalDoubles := runTrials(t, n, nil, killGateway)
	if path := os.Getenv("CADDYCIBA_CRASH_REPORT"); path != "" && !t.Failed() {
		body := fmt.Sprintf("%d trials of %d concurrent CIBA flows (client credentials, consent, bc-authorize, approval, poll, then a revocation, a consent DELETE or a refresh), each killed with SIGKILL at a random moment between 0.5 s and 3 s and restarted on the same storage.\n\n",
			n, workers) + report.Table([]string{"trials", "acknowledged writes checked", "lost", "issued twice"},
			[][]string{{fmt.Sprint(n), fmt.Sprint(totalChecked), fmt.Sprint(totalLost), fmt.Sprint(totalDoubles)}})
		cmd := fmt.Sprintf("CADDYCIBA_CRASH_TRIALS=%d go test ./test/crash -v -timeout 30m", n)
		if err := report.WriteSection(path, "crash", "Crash safety: kill -9 under load", cmd, body); err != nil {
			t.Fatal(err)
		}
	}
}
