// Command steps times each step of a caddyciba CIBA round trip — bc-authorize, the
// webhook to the phone, the decision, the poll that redeems — at one concurrency, so a
// round trip's time can be read step by step (bench/tokens gives only the whole).
//
//	go run ./bench/steps [-concurrency 1] [-n 500] [-alg PS256] [-pprof steps.prof]
package main

import (
	"flag"
	"fmt"
	"log"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyciba/gateway/internal/bench/flow"
	"github.com/caddyciba/gateway/internal/bench/gateway"
)

var stepNames = []string{"bc-authorize", "webhook to the phone", "decision", "poll (tokens)", "round trip"}

func main() {
	conc := flag.Int("concurrency", 1, "concurrent round trips")
	n := flag.Int("n", 500, "round trips in all")
	alg := flag.String("alg", "PS256", "the gateway's signing_alg for ID tokens")
	profile := flag.String("pprof", "", "write a CPU profile of the gateway's first 2 s of round trips here")
	flag.Parse()

	dir, bin, cleanup, err := gateway.Workdir("steps")
	check(err)
	defer cleanup()
	phone, err := flow.StartPhone()
	check(err)
	defer phone.Close()
	admin := ""
	if *profile != "" {
		admin = fmt.Sprintf("127.0.0.1:%d", gateway.FreePort())
	}
	g, err := gateway.Start(gateway.Config{Bin: bin, Dir: dir, Port: gateway.FreePort(), WebhookURL: phone.URL,
		Users: *conc, Gated: "respond 200", SigningAlg: *alg, Admin: admin})
	check(err)
	defer g.Stop()
	tpp := &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: flow.NewHTTPClient(*conc * 2)}
	cc, err := tpp.ClientCredentials()
	check(err)
	consents, err := flow.ConsentPool(tpp, cc, *n)
	check(err)

	var mu sync.Mutex
	took := make([][]time.Duration, len(stepNames))
	var left atomic.Int64
	left.Store(int64(*n))
	profiled := make(chan error, 1)
	if *profile != "" {
		go func() { profiled <- g.CPUProfile(admin, 2*time.Second, *profile) }()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hint := fmt.Sprintf("user-%d", w) // one user per worker: one request at a time each
			for left.Add(-1) >= 0 {
				t := roundTrip(tpp, phone, <-consents, hint)
				mu.Lock()
				for i := range took {
					took[i] = append(took[i], t[i])
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if *profile != "" {
		check(<-profiled)
	}
	fmt.Printf("%d round trips at %d concurrent, ID tokens %s: %.0f/s\n", *n, *conc, *alg, float64(*n)/elapsed.Seconds())
	for i, name := range stepNames {
		d := took[i]
		slices.Sort(d)
		fmt.Printf("%-22s p50 %8v  p90 %8v\n", name, d[len(d)/2].Round(time.Microsecond), d[len(d)*9/10].Round(time.Microsecond))
	}
}

// roundTrip runs one flow and returns each step's time and the whole.
func roundTrip(tpp *flow.TPP, phone *flow.Phone, consentID, hint string) []time.Duration {
	t0 := time.Now()
	authReqID, err := tpp.Backchannel(hint, consentID)
	check(err)
	t1 := time.Now()
	note, err := phone.Await(consentID, 30*time.Second)
	check(err)
	t2 := time.Now()
	check(flow.Approve(tpp.HTTP, note, "22289"))
	t3 := time.Now()
	_, err = tpp.PollTokens(authReqID)
	check(err)
	t4 := time.Now()
	return []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t4.Sub(t0)}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
