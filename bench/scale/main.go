// Command scale measures the gateway with a large store: it seeds 1,000 and then
// 1,000,000 backchannel requests (with 100 and 100,000 consents) into the gateway's
// storage, starts the gateway on it, and measures the poll latency of 1,000 pending
// requests in each, and the gateway's peak resident memory.
//
//	go run ./bench/scale [-requests 1000000] [-consents 100000] [-md BENCHMARKS.md]
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/bench/flow"
	"github.com/caddyciba/gateway/internal/bench/gateway"
	"github.com/caddyciba/gateway/internal/bench/load"
	"github.com/caddyciba/gateway/internal/bench/report"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// measured is how many pending requests are polled in each store.
const measured = 1000

func main() {
	requests := flag.Int("requests", 1_000_000, "backchannel requests in the large store")
	consents := flag.Int("consents", 100_000, "consents in the large store")
	rounds := flag.Int("rounds", 5, "rounds of polls, each request polled once a round, a second apart")
	concurrency := flag.Int("concurrency", 8, "concurrent polls")
	md := flag.String("md", "", "write the figures into this markdown file's scale section")
	heap := flag.String("pprof", "", "write a heap profile of the gateway with the large store here")
	flag.Parse()

	dir, bin, cleanup, err := gateway.Workdir("scale")
	check(err)
	defer cleanup()

	type run struct {
		stored, consents int
		latencies        []time.Duration
		rss              int64
		seedTime         time.Duration
	}
	runs := []*run{{stored: measured, consents: *consents / 1000}, {stored: *requests, consents: *consents}}
	large := runs[1]
	for _, r := range runs {
		storage := filepath.Join(dir, fmt.Sprint(r.stored))
		check(os.MkdirAll(storage, 0o700))
		start := time.Now()
		ids, err := seed(filepath.Join(storage, "data"), r.stored, r.consents)
		check(err)
		r.seedTime = time.Since(start)
		log.Printf("seeded %d requests and %d consents in %v", r.stored, r.consents, r.seedTime.Round(time.Millisecond))

		phone, err := flow.StartPhone()
		check(err)
		admin := fmt.Sprintf("127.0.0.1:%d", gateway.FreePort())
		g, err := gateway.Start(gateway.Config{Bin: bin, Dir: storage, Port: gateway.FreePort(), WebhookURL: phone.URL,
			Gated: "ciba_gate\n\t\trespond 200", Admin: admin})
		check(err)
		tpp := &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: flow.NewHTTPClient(*concurrency)}
		r.latencies, err = pollRounds(tpp, ids, *rounds, *concurrency)
		check(err)
		r.rss, err = g.PeakRSS()
		check(err)
		if *heap != "" && r == large {
			check(g.HeapProfile(admin, *heap))
		}
		anon, _ := g.Memory("RssAnon")
		file, _ := g.Memory("RssFile")
		log.Printf("resident now: %d MiB anonymous, %d MiB file-backed (mapped tables and logs)", anon>>20, file>>20)
		g.Stop()
		phone.Close()
		log.Printf("%d stored: poll p50 %s p99 %s, peak RSS %d MiB", r.stored, load.Ms(pct(r.latencies, .5)),
			load.Ms(pct(r.latencies, .99)), r.rss>>20)
	}
	small := runs[0]
	rows := [][]string{}
	for _, r := range runs {
		rows = append(rows, []string{fmt.Sprint(r.stored), fmt.Sprint(r.consents), r.seedTime.Round(time.Second).String(),
			load.Ms(pct(r.latencies, .5)), load.Ms(pct(r.latencies, .99)), fmt.Sprintf("%d MiB", r.rss>>20)})
	}
	table := report.Table([]string{"stored requests", "consents", "seeding", "poll p50", "poll p99", "gateway peak RSS"}, rows)
	summary := fmt.Sprintf("Poll latency at %d stored against %d: p50 **%.2f×**, p99 **%.2f×** (target ≤ 1.5). Peak RSS with %d stored: **%d MiB** (target ≤ 256 MiB).",
		large.stored, small.stored, ratio(large.latencies, small.latencies, .5), ratio(large.latencies, small.latencies, .99),
		large.stored, large.rss>>20)
	about := fmt.Sprintf("The store is seeded with the gateway's own record writers (ciba.Requests, consent.Repo) through a Badger write batch, "+
		"then the gateway starts on it. %d pending requests are polled %d rounds (each once a round, rounds a second apart, %d at a time); "+
		"every poll is answered authorization_pending after a synced write of the poll time. Peak RSS is VmHWM of the gateway process.",
		measured, *rounds, *concurrency)
	check(report.Publish(*md, "scale", "Scale: a million stored requests", "scale", about, table, summary))
}

// seed writes n pending requests (the first `measured` returned by auth_req_id) and the
// consents into a new store.
func seed(dir string, n, consents int) ([]string, error) {
	s, err := store.OpenBadger(dir, nil)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	l := s.NewLoader()
	now := time.Now()
	req, err := consent.ParseRequest([]byte(`{"Data":{"Permissions":["ReadAccountsDetail","ReadBalances"]},"Risk":{}}`), now)
	if err != nil {
		return nil, err
	}
	repo := &consent.Repo{Store: l, Now: time.Now}
	var requests ciba.Requests
	consentIDs := make([]string, 0, consents)
	for range consents {
		c, err := repo.Create(gateway.ClientID, req)
		if err != nil {
			return nil, err
		}
		consentIDs = append(consentIDs, c.ID)
	}
	ids := make([]string, 0, measured)
	for i := range n {
		id, err := token.New()
		if err != nil {
			return nil, err
		}
		r := &ciba.Request{ClientID: gateway.ClientID, Subject: fmt.Sprintf("sub-%d", i%1000), Scope: "openid accounts",
			ConsentID: consentIDs[i%len(consentIDs)], Mode: "poll", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			Interval: time.Second, State: ciba.Pending, BindingMessage: "Bench 1234"}
		if err := requests.Save(l, requests.Key(id), r, now); err != nil {
			return nil, err
		}
		if i < measured {
			ids = append(ids, id)
		}
	}
	if err := l.Flush(); err != nil {
		return nil, err
	}
	return ids, l.Compact()
}

// pollRounds polls every id once a round, rounds at least a second apart, and returns
// the latency of each poll; every answer must be authorization_pending.
func pollRounds(tpp *flow.TPP, ids []string, rounds, concurrency int) ([]time.Duration, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	for range rounds {
		start := time.Now()
		next := make(chan string)
		var wg sync.WaitGroup
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range next {
					t0 := time.Now()
					_, err := tpp.PollTokens(id)
					d := time.Since(t0)
					mu.Lock()
					if errors.Is(err, flow.ErrPending) {
						lat = append(lat, d)
					} else if firstErr == nil {
						firstErr = fmt.Errorf("poll: %v", err)
					}
					mu.Unlock()
				}
			}()
		}
		for _, id := range ids {
			next <- id
		}
		close(next)
		wg.Wait()
		if firstErr != nil {
			return nil, firstErr
		}
		time.Sleep(time.Until(start.Add(1100 * time.Millisecond)))
	}
	return lat, nil
}

func pct(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

func ratio(a, b []time.Duration, q float64) float64 { return float64(pct(a, q)) / float64(pct(b, q)) }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
