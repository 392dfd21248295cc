// Command tokens measures token issuance against the reference peer in one run: client
// credentials tokens/s and full CIBA round trips/s (bc-authorize → approval → poll →
// tokens) at several concurrencies, for the gateway (Badger, every write synced) and for
// panva's oidc-provider (npm, in-memory adapter), started by this program on loopback.
//
//	go run ./bench/tokens [-phase 5s] [-concurrency 1,8,32] [-md BENCHMARKS.md]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddyciba/gateway/internal/bench/flow"
	"github.com/caddyciba/gateway/internal/bench/gateway"
	"github.com/caddyciba/gateway/internal/bench/load"
	"github.com/caddyciba/gateway/internal/bench/report"
)

func main() {
	phase := flag.Duration("phase", 5*time.Second, "length of one measured phase")
	levels := flag.String("concurrency", "1,8,32", "concurrencies to measure")
	md := flag.String("md", "", "write the figures into this markdown file's tokens section")
	alg := flag.String("alg", "ES256", "the gateway's signing_alg for ID tokens (ES256 or PS256, both FAPI)")
	profile := flag.String("pprof", "", "write CPU profiles of the gateway's phases at the highest concurrency to PREFIX-cc.prof and PREFIX-ciba.prof")
	storageFlags := gateway.StorageFlags()
	flag.Parse()
	storage, suffix, stopDB, err := storageFlags()
	check(err)
	defer stopDB()

	dir, bin, cleanup, err := gateway.Workdir("tokens")
	check(err)
	defer cleanup()
	phone, err := flow.StartPhone()
	check(err)
	defer phone.Close()
	var conc []int
	for _, s := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		check(err)
		conc = append(conc, n)
	}
	maxConc := conc[len(conc)-1]
	admin := ""
	if *profile != "" {
		admin = fmt.Sprintf("127.0.0.1:%d", gateway.FreePort())
	}
	ceilingPort := gateway.FreePort()
	g, err := gateway.Start(gateway.Config{Storage: storage, Bin: bin, Dir: dir, Port: gateway.FreePort(), WebhookURL: phone.URL,
		Users: maxConc, Gated: "ciba_gate\n\t\trespond 200", Admin: admin, SigningAlg: *alg,
		ExtraSites: fmt.Sprintf("http://127.0.0.1:%d {\n\trespond `{\"ok\":true}` 200\n}\n", ceilingPort)})
	check(err)
	defer g.Stop()
	peerURL, stopPeer := startPeer(*alg)
	defer stopPeer()

	httpc := flow.NewHTTPClient(maxConc * 2)
	ours := &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: httpc}
	peer := &flow.TPP{Base: peerURL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: httpc}
	cc, err := ours.ClientCredentials()
	check(err)

	var rows [][]string
	var ratioCC, ratioCIBA []string
	for _, c := range conc {
		var n atomic.Int64
		hint := func() string { return fmt.Sprintf("user-%d", n.Add(1)%int64(maxConc)) }
		// Each worker keeps one login hint, so a user has one request at a time.
		profiled := func(name string, run func() *load.Result) *load.Result {
			if *profile == "" || c != maxConc {
				return run()
			}
			done := make(chan error, 1)
			go func() { done <- g.CPUProfile(admin, *phase, *profile+"-"+name+".prof") }()
			r := run()
			check(<-done)
			return r
		}
		ceiling := load.Run(c, *phase, load.Get(httpc, fmt.Sprintf("http://127.0.0.1:%d/", ceilingPort), http.Header{}))
		oursCC := profiled("cc", func() *load.Result { return load.Run(c, *phase, tokenCall(ours)) })
		peerCC := load.Run(c, *phase, tokenCall(peer))
		// The round trip is bc-authorize → approval → poll → tokens, as at the peer: the
		// consents it needs are made before the phase, untimed.
		consents, err := flow.ConsentPool(ours, cc, consentsPerPhase)
		check(err)
		oursCIBA := profiled("ciba", func() *load.Result {
			return load.Run(c, *phase, func() (int, error) {
				var consentID string
				select {
				case consentID = <-consents:
				default:
					return 0, errors.New("the consent pool ran dry: raise consentsPerPhase")
				}
				_, err := flow.Authorize(ours, phone, consentID, hint(), time.Second)
				return status(err)
			})
		})
		peerCIBA := load.Run(c, *phase, func() (int, error) { return peerRoundTrip(peer, hint()) })
		for _, r := range []struct {
			what, who string
			res       *load.Result
		}{{"static respond (ceiling)", "Caddy", ceiling}, {"client credentials", "caddyciba", oursCC}, {"client credentials", "oidc-provider", peerCC},
			{"CIBA round trip", "caddyciba", oursCIBA}, {"CIBA round trip", "oidc-provider", peerCIBA}} {
			log.Printf("c=%d %-24s %-13s %8.0f/s p50 %s p99 %s errors %d", c, r.what, r.who, r.res.PerSecond(),
				load.Ms(r.res.Percentile(.5)), load.Ms(r.res.Percentile(.99)), r.res.Errors)
			rows = append(rows, []string{fmt.Sprint(c), r.what, r.who, fmt.Sprintf("%.0f", r.res.PerSecond()),
				load.Ms(r.res.Percentile(.5)), load.Ms(r.res.Percentile(.99)), fmt.Sprint(r.res.Errors)})
		}
		// Issue 16's targets: at one connection and at several.
		ccTarget, cibaTarget := 3.0, 2.0
		if c == 1 {
			ccTarget, cibaTarget = 1.5, 1.2
		}
		ratioCC = append(ratioCC, fmt.Sprintf("%.2f× at %d (target ≥ %.1f×)", oursCC.PerSecond()/peerCC.PerSecond(), c, ccTarget))
		ratioCIBA = append(ratioCIBA, fmt.Sprintf("%.2f× at %d (target ≥ %.1f×)", oursCIBA.PerSecond()/peerCIBA.PerSecond(), c, cibaTarget))
	}
	table := report.Table([]string{"connections", "what", "server", "per second", "p50", "p99", "errors"}, rows)
	summary := fmt.Sprintf("caddyciba against oidc-provider (ID tokens %s on both sides) — client credentials: **%s**; CIBA round trips: **%s**.", *alg,
		strings.Join(ratioCC, ", "), strings.Join(ratioCIBA, ", "))
	about := fmt.Sprintf("Phases of %v per server, workload and concurrency, the two servers one after the other on the same machine. "+
		"A caddyciba round trip is bc-authorize → webhook to the phone → decision API → poll → tokens, on an "+
		"account-access consent made before the phase (untimed; oidc-provider has no consents); the peer's is "+
		"bc-authorize → its approval route (`provider.backchannelResult`) → poll → tokens. caddyciba syncs every acknowledged write to "+
		"disk before it answers (Badger, commits synced in groups); ID tokens are signed with the same algorithm on both sides (see the summary). oidc-provider keeps its state in its development in-memory adapter, which makes "+
		"the comparison harder for caddyciba, not easier.", *phase)
	check(report.Publish(*md, "tokens"+suffix, "Token issuance against oidc-provider"+suffix, "tokens", about, table, summary))
}

// consentsPerPhase is more consents than a phase of round trips uses on this machine.
const consentsPerPhase = 8000

func tokenCall(t *flow.TPP) func() (int, error) {
	return func() (int, error) {
		_, err := t.ClientCredentials()
		return status(err)
	}
}

func status(err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return 200, nil
}

// peerRoundTrip is bc-authorize, approval and the poll at oidc-provider.
func peerRoundTrip(t *flow.TPP, hint string) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, t.Base+"/backchannel",
		strings.NewReader(url.Values{"scope": {"openid"}, "login_hint": {hint}, "binding_message": {"Bench 1234"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(t.ID, t.Secret)
	resp, err := t.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	var ack struct {
		AuthReqID string `json:"auth_req_id"`
	}
	err = decodeJSON(resp, &ack)
	if err != nil || ack.AuthReqID == "" {
		return resp.StatusCode, fmt.Errorf("peer backchannel: %v", err)
	}
	approve, err := t.HTTP.Post(t.Base+"/approve/"+url.PathEscape(ack.AuthReqID), "text/plain", nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, approve.Body)
	approve.Body.Close()
	if approve.StatusCode != http.StatusNoContent {
		return approve.StatusCode, fmt.Errorf("peer approval: %d", approve.StatusCode)
	}
	_, err = t.PollTokens(ack.AuthReqID)
	return status(err)
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// startPeer installs oidc-provider from bench/peer's lock file and starts it on loopback.
func startPeer(alg string) (string, func()) {
	peerDir, err := filepath.Abs("bench/peer")
	check(err)
	if _, err := os.Stat(filepath.Join(peerDir, "node_modules", "oidc-provider")); err != nil {
		install := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		install.Dir, install.Stdout, install.Stderr = peerDir, os.Stderr, os.Stderr
		check(install.Run())
	}
	port := gateway.FreePort()
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = peerDir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "NODE_ENV=production", "ALG="+alg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	check(err)
	cmd.Stderr = io.Discard
	check(cmd.Start())
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ready") {
				close(ready)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-ready:
	case <-ctx.Done():
		log.Fatal("oidc-provider did not start")
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port), func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
