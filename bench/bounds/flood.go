package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyciba/gateway/internal/bench/flow"
	"github.com/caddyciba/gateway/internal/bench/gateway"
	"github.com/caddyciba/gateway/internal/bench/load"
)

// each runs do(i) for i in [0, n) from conc workers and counts the failures.
func each(n, conc int, do func(i int) error) int {
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if err := do(int(i)); err != nil {
					bad.Add(1)
					once.Do(func() { log.Printf("first failure: %v", err) })
				}
			}
		}()
	}
	wg.Wait()
	return int(bad.Load())
}

// blackHoleWebhook is scenario 4: 5,000 backchannel requests whose notifications go to a
// webhook that accepts connections and never answers.
func blackHoleWebhook(e *env) result {
	const n, users, conc, pool = 5000, 500, 16, 16
	bh, err := startBlackHole()
	check(err)
	defer bh.Close()
	// One client may hold half of a user's cap: 40 lets it hold 20 per user, 10,000 in all.
	p := e.start("webhook", gateway.Config{WebhookURL: bh.URL(), Users: users, Options: "max_pending_per_user 40"})
	defer p.Stop()
	t := e.tpp(p, conc)
	cc, err := t.ClientCredentials()
	check(err)
	consents := make([]string, n)
	if bad := each(n, conc, func(i int) (err error) { consents[i], err = t.Consent(cc); return }); bad > 0 {
		log.Fatalf("webhook: %d consents failed", bad)
	}
	time.Sleep(time.Second)
	before := p.read()
	w := watch(p, 100*time.Millisecond)
	start := time.Now()
	bad := each(n, conc, func(i int) error {
		_, err := t.Backchannel(fmt.Sprintf("user-%d", i%users), consents[i])
		return err
	})
	took := time.Since(start)
	t.HTTP.CloseIdleConnections()
	time.Sleep(5 * time.Second)
	after := p.read()
	peak, _ := w.Stop()
	// A delivery worker, its connection's read and write loops and one more; the bench's
	// own connections while they last; a file per worker connection and per bench one.
	limitG := before.Goroutines + 4*pool + 3*conc
	limitF := before.FDs + pool + conc + 8
	return result{
		scenario: fmt.Sprintf("4. %d `/bc-authorize` (%d users) with a webhook that accepts and never answers, %d connections", n, users, conc),
		before:   "500 pending: 1,533 goroutines, 517 fds (3 goroutines and 1 connection per pending request)",
		after: fmt.Sprintf("%d accepted in %.1f s%s; goroutines %d → peak %d → %d; fds %d → peak %d → %d; %d connections to the webhook",
			n-bad, took.Seconds(), failures(bad), before.Goroutines, peak.Goroutines, after.Goroutines,
			before.FDs, peak.FDs, after.FDs, bh.accepted()),
		target: fmt.Sprintf("flat: peak ≤ baseline + pool (max_deliveries %d) + the bench's connections: goroutines ≤ %d, fds ≤ %d", pool, limitG, limitF),
		met:    bad == 0 && peak.Goroutines <= limitG && peak.FDs <= limitF,
	}
}

// ccFlood is scenario 5: client credentials as fast as 16 connections go, against
// rate_limit 20/s burst 40.
func ccFlood(e *env) result {
	const conc, rate, burst = 16, 20, 40
	const d = 5 * time.Second
	p := e.start("flood", gateway.Config{ClientOptions: fmt.Sprintf("rate_limit %d/s burst %d", rate, burst)})
	defer p.Stop()
	c := flow.NewHTTPClient(conc)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}}.Encode()
	var ok, limited, retryAfter, other atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(gateway.ClientID, gateway.ClientSecret)
				resp, err := c.Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
					if resp.Header.Get("Retry-After") != "" {
						retryAfter.Add(1)
					}
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	allowed := float64(burst) + rate*secs
	return result{
		scenario: fmt.Sprintf("5. client-credentials flood, %d connections, %v, `rate_limit %d/s burst %d`", conc, d, rate, burst),
		before:   "4,361 tokens/s granted, no per-client limit",
		after: fmt.Sprintf("**%.1f tokens/s** granted (%d), %.0f 429/s (%d, %d with Retry-After), %d other",
			float64(ok.Load())/secs, ok.Load(), float64(limited.Load())/secs, limited.Load(), retryAfter.Load(), other.Load()),
		target: fmt.Sprintf("granted ≤ burst + rate × time (%.0f); the rest 429 with Retry-After", allowed),
		met:    float64(ok.Load()) <= allowed+1 && ok.Load() > 0 && limited.Load() == retryAfter.Load() && other.Load() == 0,
	}
}

// idleAndSlow is scenario 6: 2,000 idle keep-alive connections and 200 slowloris ones
// against read_header 2s and idle 5s, with normal requests meanwhile.
func idleAndSlow(e *env) result {
	const idle, slow, workers = 2000, 200, 4
	const readHeader, idleTimeout = 2 * time.Second, 5 * time.Second
	const slack = 1500 * time.Millisecond
	p := e.start("conns", gateway.Config{Global: fmt.Sprintf("servers {\n\t\ttimeouts {\n\t\t\tread_header %v\n\t\t\tidle %v\n\t\t}\n\t}", readHeader, idleTimeout)})
	defer p.Stop()
	hostport := strings.TrimPrefix(p.URL, "http://")
	c := flow.NewHTTPClient(workers)
	normal := load.Get(c, p.URL+"/.well-known/openid-configuration", http.Header{})
	base := load.Run(workers, 2*time.Second, normal)
	w := watch(p, 200*time.Millisecond)

	type closed struct {
		slow  bool
		ok    bool // closed by the gateway, not by our deadline
		after time.Duration
	}
	results := make(chan closed, idle+slow)
	stop := make(chan struct{})
	sem := make(chan struct{}, 64) // dials at once
	var opened atomic.Int64
	for i := range idle + slow {
		isSlow := i >= idle
		go func() {
			sem <- struct{}{}
			conn, err := net.DialTimeout("tcp", hostport, 5*time.Second)
			if err != nil {
				<-sem
				results <- closed{slow: isSlow}
				return
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			var since time.Time
			if isSlow {
				fmt.Fprintf(conn, "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: %s\r\n", hostport)
				since = time.Now()
				go func() { // one more header line every 500 ms, never the blank line
					for {
						select {
						case <-stop:
							return
						case <-time.After(500 * time.Millisecond):
							if _, err := conn.Write([]byte("X-Slow: 1\r\n")); err != nil {
								return
							}
						}
					}
				}()
			} else {
				fmt.Fprintf(conn, "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: %s\r\n\r\n", hostport)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					<-sem
					results <- closed{}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				since = time.Now()
			}
			opened.Add(1)
			<-sem
			conn.SetReadDeadline(time.Now().Add(idleTimeout + 10*time.Second))
			_, err = io.Copy(io.Discard, br)
			var ne net.Error
			results <- closed{slow: isSlow, ok: !(errors.As(err, &ne) && ne.Timeout()), after: time.Since(since)}
		}()
	}
	// Normal requests while the connections are held: once all are open, before the
	// first timeout.
	for wait := time.Now().Add(readHeader); opened.Load() < idle+slow && time.Now().Before(wait); {
		time.Sleep(20 * time.Millisecond)
	}
	held := opened.Load()
	during := load.Run(workers, 1500*time.Millisecond, normal)
	var idleAfter, slowAfter []time.Duration
	idleOK, slowOK := 0, 0
	for range idle + slow {
		r := <-results
		switch {
		case r.slow && r.ok:
			slowOK++
			slowAfter = append(slowAfter, r.after)
		case !r.slow && r.ok:
			idleOK++
			idleAfter = append(idleAfter, r.after)
		}
	}
	close(stop)
	peak, _ := w.Stop()
	pct := func(ds []time.Duration, q float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return ds[min(int(q*float64(len(ds))), len(ds)-1)]
	}
	sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	after := fmt.Sprintf("normal requests p50 %s before, **%s** during (%d errors); %d/%d idle closed after %s (max %s); "+
		"%d/%d slowloris closed after %s (max %s); %d held when measured, gateway peak %d fds, %d goroutines",
		load.Ms(base.Percentile(.5)), load.Ms(during.Percentile(.5)), during.Errors,
		idleOK, idle, sec(pct(idleAfter, .5)), sec(pct(idleAfter, 1)),
		slowOK, slow, sec(pct(slowAfter, .5)), sec(pct(slowAfter, 1)), held, peak.FDs, peak.Goroutines)
	return result{
		scenario: fmt.Sprintf("6. %d idle + %d slowloris connections, `timeouts { read_header %v idle %v }`", idle, slow, readHeader, idleTimeout),
		before:   "p50 3 ms; each closed at 60 s (Caddy's default read_header)",
		after:    after,
		target:   fmt.Sprintf("all closed by their timeout (+%v)", slack),
		met: idleOK == idle && slowOK == slow && pct(idleAfter, 1) <= idleTimeout+slack &&
			pct(slowAfter, 1) <= readHeader+slack && during.Errors == 0,
	}
}
