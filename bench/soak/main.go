// Command soak runs the gateway under a mixed load for a while — CIBA flows, gated
// account calls, revocations, requests left to expire — and samples its resident memory,
// open files and goroutines, to show they stay flat.
//
//	go run ./bench/soak [-duration 10m] [-sample 30s] [-md BENCHMARKS.md]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyciba/gateway/internal/bench/flow"
	"github.com/caddyciba/gateway/internal/bench/gateway"
	"github.com/caddyciba/gateway/internal/bench/report"
)

type sample struct {
	at time.Duration
	// anonMiB is the process's own memory; fileMiB the pages of the store's mapped files.
	anonMiB, fileMiB, storeMiB int
	// tables are the store's open files; others every other descriptor (sockets, logs).
	tables, others, goroutines int
}

func main() {
	duration := flag.Duration("duration", 10*time.Minute, "how long the load runs")
	every := flag.Duration("sample", 30*time.Second, "how often the gateway is sampled")
	workers := flag.Int("workers", 8, "concurrent flows")
	md := flag.String("md", "", "write the figures into this markdown file's soak section")
	flag.Parse()

	dir, bin, cleanup, err := gateway.Workdir("soak")
	check(err)
	defer cleanup()
	phone, err := flow.StartPhone()
	check(err)
	defer phone.Close()
	upstream, err := gateway.StartUpstream(`{"Data":{"Balance":[{"AccountId":"22289","Amount":{"Amount":"1.00","Currency":"GBP"}}]},"Links":{"Self":"x"},"Meta":{}}`)
	check(err)
	admin := fmt.Sprintf("127.0.0.1:%d", gateway.FreePort())
	g, err := gateway.Start(gateway.Config{Bin: bin, Dir: dir, Port: gateway.FreePort(), WebhookURL: phone.URL,
		Users: *workers, Admin: admin, Gated: "ciba_gate\n\t\treverse_proxy " + upstream})
	check(err)
	defer g.Stop()

	var flows, gated, revoked, abandoned, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tpp := &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: flow.NewHTTPClient(2)}
			hint := fmt.Sprintf("user-%d", w)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := oneRound(tpp, phone, hint, i, &flows, &gated, &revoked, &abandoned); err != nil {
					failures.Add(1)
					log.Printf("worker %d: %v", w, err)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}

	var samples []sample
	start := time.Now()
	take := func() {
		s, err := measure(g, admin, dir)
		check(err)
		s.at = time.Since(start).Round(time.Second)
		samples = append(samples, s)
		log.Printf("%v: RSS %d MiB own + %d MiB mapped store, store %d MiB, %d store files + %d other descriptors, %d goroutines; "+
			"%d flows, %d gated calls, %d revocations, %d abandoned, %d failures",
			s.at, s.anonMiB, s.fileMiB, s.storeMiB, s.tables, s.others, s.goroutines,
			flows.Load(), gated.Load(), revoked.Load(), abandoned.Load(), failures.Load())
	}
	take()
	for time.Since(start) < *duration {
		time.Sleep(min(*every, *duration-time.Since(start)))
		take()
	}
	close(stop)
	wg.Wait()
	time.Sleep(2 * time.Second) // let idle connections and deliveries settle
	take()

	var rows [][]string
	for _, s := range samples {
		rows = append(rows, []string{s.at.String(), fmt.Sprint(s.anonMiB), fmt.Sprint(s.fileMiB), fmt.Sprint(s.storeMiB),
			fmt.Sprint(s.tables), fmt.Sprint(s.others), fmt.Sprint(s.goroutines)})
	}
	// The first sample is of the idle gateway; the second is the first under load.
	first, last := samples[min(1, len(samples)-1)], samples[len(samples)-1]
	summary := fmt.Sprintf("%d flows, %d gated calls, %d revocations, %d requests left to expire, %d failures in %v. "+
		"From the first sample under load to the end: the process's own memory %d → %d MiB, descriptors other than the store's files %d → %d, "+
		"goroutines %d → %d; the store grew %d → %d MiB on disk (records with their TTLs: refresh tokens live 90 days), "+
		"and with it its mapped pages and table files.",
		flows.Load(), gated.Load(), revoked.Load(), abandoned.Load(), failures.Load(), *duration,
		first.anonMiB, last.anonMiB, first.others, last.others, first.goroutines, last.goroutines, first.storeMiB, last.storeMiB)
	table := report.Table([]string{"time", "own memory MiB (RssAnon)", "mapped store MiB (RssFile)", "store on disk MiB",
		"store files", "other descriptors", "goroutines"}, rows)
	about := fmt.Sprintf("%d workers, each in a loop: consent, bc-authorize, approval through the decision API, poll, "+
		"five gated calls through reverse_proxy, then either a revocation, a refresh, or (every fourth round) a second "+
		"request that is never approved and expires after 5 s. The last row is taken after the load stopped.",
		*workers)
	check(report.Publish(*md, "soak", "Soak: mixed load", "soak", about, table, summary))
}

// oneRound is one flow with its follow-ups.
func oneRound(tpp *flow.TPP, phone *flow.Phone, hint string, i int, flows, gated, revoked, abandoned *atomic.Int64) error {
	cc, err := tpp.ClientCredentials()
	if err != nil {
		return err
	}
	consentID, err := tpp.Consent(cc)
	if err != nil {
		return err
	}
	authReqID, err := tpp.Backchannel(hint, consentID)
	if err != nil {
		return err
	}
	n, err := phone.Await(consentID, 10*time.Second)
	if err != nil {
		return err
	}
	if err := flow.Approve(tpp.HTTP, n, "22289"); err != nil {
		return err
	}
	toks, err := tpp.PollTokens(authReqID)
	if err != nil {
		return err
	}
	flows.Add(1)
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, tpp.Base+"/open-banking/v3.1/aisp/accounts/22289/balances", nil)
		req.Header.Set("Authorization", "Bearer "+toks.Access)
		resp, err := tpp.HTTP.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("gated call: %d", resp.StatusCode)
		}
		gated.Add(1)
	}
	switch {
	case i%4 == 3:
		other, err := tpp.Consent(cc)
		if err != nil {
			return err
		}
		status, body, err := postForm(tpp, "/bc-authorize", url.Values{"scope": {"openid accounts"}, "login_hint": {hint},
			"openbanking_intent_id": {other}, "requested_expiry": {"5"}})
		if err != nil || status != 200 {
			return fmt.Errorf("abandoned request: %d %s %v", status, body, err)
		}
		if _, err := phone.Await(other, 10*time.Second); err != nil {
			return err
		}
		abandoned.Add(1)
	case i%2 == 0:
		if err := tpp.Revoke(toks.Access); err != nil {
			return err
		}
		revoked.Add(1)
	default:
		if _, err := tpp.Refresh(toks.Refresh); err != nil {
			return err
		}
	}
	return nil
}

func postForm(tpp *flow.TPP, path string, form url.Values) (int, string, error) {
	req, _ := http.NewRequest(http.MethodPost, tpp.Base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tpp.ID, tpp.Secret)
	resp, err := tpp.HTTP.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		b.WriteString(sc.Text())
	}
	return resp.StatusCode, b.String(), nil
}

// measure reads the gateway's resident memory and open files from /proc, the store's
// size on disk, and its goroutine count from the admin endpoint's pprof.
func measure(g *gateway.Gateway, admin, dir string) (sample, error) {
	var s sample
	anon, err := g.Memory("RssAnon")
	if err != nil {
		return s, err
	}
	file, err := g.Memory("RssFile")
	if err != nil {
		return s, err
	}
	s.anonMiB, s.fileMiB = int(anon>>20), int(file>>20)
	data := filepath.Join(dir, "data")
	var size int64
	_ = filepath.WalkDir(data, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	s.storeMiB = int(size >> 20)
	fdDir := fmt.Sprintf("/proc/%d/fd", g.PID())
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return s, err
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && strings.HasPrefix(target, data) {
			s.tables++
		} else {
			s.others++
		}
	}
	resp, err := http.Get("http://" + admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	_, err = fmt.Sscanf(line, "goroutine profile: total %d", &s.goroutines)
	return s, err
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
