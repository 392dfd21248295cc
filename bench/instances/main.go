// Command instances measures what a second gateway instance on the same PostgreSQL
// database adds: client-credentials tokens/s and CIBA round trips/s (bc-authorize →
// approval → poll → tokens) against one instance, then against two sharing the load, in
// interleaved rounds of one run. Both instances run on this machine, so they share its
// cores with each other and with the database: the figure is what one more process
// gives here, not what a second machine would.
//
//	go run ./bench/instances [-concurrency 32] [-rounds 3] [-phase 5s] [-md BENCHMARKS.md]
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyciba/gateway/internal/bench/flow"
	"github.com/caddyciba/gateway/internal/bench/gateway"
	"github.com/caddyciba/gateway/internal/bench/load"
	"github.com/caddyciba/gateway/internal/bench/report"
)

func main() {
	phase := flag.Duration("phase", 5*time.Second, "length of one measured phase")
	conc := flag.Int("concurrency", 32, "concurrent connections, split evenly over the instances")
	rounds := flag.Int("rounds", 3, "interleaved rounds of one and two instances")
	md := flag.String("md", "", "write the figures into this markdown file's instances section")
	dsn := flag.String("dsn", "", "the database (default: a PostgreSQL server of its own from Debian's binaries)")
	flag.Parse()
	storage, stopDB, err := gateway.Storage("postgres", *dsn)
	check(err)
	defer stopDB()
	dir, bin, cleanup, err := gateway.Workdir("instances")
	check(err)
	defer cleanup()
	phone, err := flow.StartPhone()
	check(err)
	defer phone.Close()

	var tpps []*flow.TPP
	httpc := flow.NewHTTPClient(*conc * 2)
	for i := range 2 {
		d := filepath.Join(dir, fmt.Sprint(i))
		check(os.MkdirAll(d, 0o700))
		g, err := gateway.Start(gateway.Config{Storage: storage, Bin: bin, Dir: d, Port: gateway.FreePort(),
			WebhookURL: phone.URL, Users: *conc, Gated: "ciba_gate\n\t\trespond 200"})
		check(err)
		defer g.Stop()
		tpps = append(tpps, &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: httpc})
	}
	cc, err := tpps[0].ClientCredentials()
	check(err)

	// Worker w of a phase on n instances talks to instance w mod n, with a login hint
	// of its own, so a user has one request at a time.
	type result struct{ cc, ciba []*load.Result }
	results := map[int]*result{1: {}, 2: {}}
	for round := range *rounds {
		for _, n := range []int{1, 2} {
			ccRes := load.RunEach(*conc, *phase, func(w int) func() (int, error) {
				t := tpps[w%n]
				return func() (int, error) { _, err := t.ClientCredentials(); return status(err) }
			})
			consents, err := flow.ConsentPool(tpps[0], cc, consentsPerPhase)
			check(err)
			cibaRes := load.RunEach(*conc, *phase, func(w int) func() (int, error) {
				t, hint := tpps[w%n], fmt.Sprintf("user-%d", w)
				return func() (int, error) {
					var consentID string
					select {
					case consentID = <-consents:
					default:
						return 0, errors.New("the consent pool ran dry: raise consentsPerPhase")
					}
					_, err := flow.Authorize(t, phone, consentID, hint, time.Second)
					return status(err)
				}
			})
			log.Printf("round %d, %d instance(s): client credentials %.0f/s (errors %d), CIBA round trips %.0f/s (errors %d)",
				round+1, n, ccRes.PerSecond(), ccRes.Errors, cibaRes.PerSecond(), cibaRes.Errors)
			results[n].cc = append(results[n].cc, ccRes)
			results[n].ciba = append(results[n].ciba, cibaRes)
		}
	}
	var rows [][]string
	for _, n := range []int{1, 2} {
		r := results[n]
		rows = append(rows, []string{fmt.Sprint(n), fmt.Sprintf("%.0f", mean(r.cc)), fmt.Sprintf("%.0f", mean(r.ciba)), fmt.Sprint(errorsOf(r.cc) + errorsOf(r.ciba))})
	}
	table := report.Table([]string{"instances", "client credentials /s", "CIBA round trips /s", "errors"}, rows)
	summary := fmt.Sprintf("Two instances against one on one PostgreSQL: client credentials **%.2f×**, CIBA round trips **%.2f×**.",
		mean(results[2].cc)/mean(results[1].cc), mean(results[2].ciba)/mean(results[1].ciba))
	about := fmt.Sprintf("%d connections split evenly over the instances, %d interleaved rounds of %v per workload; "+
		"PostgreSQL and both gateway processes on this machine's cores. Means of the rounds.", *conc, *rounds, *phase)
	check(report.Publish(*md, "instances", "Several instances on one PostgreSQL", "instances", about, table, summary))
}

// consentsPerPhase is more consents than a phase of round trips uses on this machine.
const consentsPerPhase = 8000

func mean(rs []*load.Result) float64 {
	sum := 0.0
	for _, r := range rs {
		sum += r.PerSecond()
	}
	return sum / float64(len(rs))
}

func errorsOf(rs []*load.Result) int64 {
	var n int64
	for _, r := range rs {
		n += int64(r.Errors)
	}
	return n
}

func status(err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return 200, nil
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
