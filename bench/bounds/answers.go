package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyciba/gateway/internal/bench/gateway"
	"github.com/caddyciba/gateway/internal/bench/load"
)

// get asks url for the bank's answer of shape and drains it.
func get(c *http.Client, url, access, shape, id string) (int, int64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	if access != "" {
		req.Header.Set("Authorization", "Bearer "+access)
	}
	req.Header.Set(shapeHeader, shape)
	req.Header.Set(idHeader, id)
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n, err
}

// batch sends n requests from conc workers and returns the time taken and the answers
// that were not a complete 200.
func batch(c *http.Client, url, access, shape string, n, conc int) (time.Duration, int) {
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if status, _, err := get(c, url, access, shape, ""); err != nil || status != 200 {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), int(bad.Load())
}

// largeLists is scenario 1: gated against bare throughput on valid 10 and 50 MB lists.
func largeLists(e *env) result {
	const conc, rounds = 2, 3
	barePort := gateway.FreePort()
	p, t, access := e.gated("lists", conc, gateway.Config{
		ExtraSites: fmt.Sprintf("http://127.0.0.1:%d {\n\treverse_proxy %s\n}\n", barePort, e.bank.addr)})
	defer p.Stop()
	before := p.read()
	w := watch(p, 100*time.Millisecond)

	gatedURL := p.URL + accountPath
	bareURL := fmt.Sprintf("http://127.0.0.1:%d%s", barePort, accountPath)
	type size struct {
		shape string
		mb, n int
	}
	var worst = 1e9
	var details []string
	for _, s := range []size{{"list10", 10, 12}, {"list50", 50, 4}} {
		batch(t.HTTP, bareURL, "", s.shape, conc, conc) // warm-up
		batch(t.HTTP, gatedURL, access, s.shape, conc, conc)
		var bare, gated time.Duration
		bad := 0
		for r := range rounds {
			d, b := batch(t.HTTP, bareURL, "", s.shape, s.n, conc)
			bare += d
			bad += b
			d2, b2 := batch(t.HTTP, gatedURL, access, s.shape, s.n, conc)
			gated += d2
			bad += b2
			log.Printf("lists %s round %d: bare %v gated %v", s.shape, r+1, d, d2)
		}
		mbs := func(d time.Duration) float64 { return float64(s.mb*s.n*rounds) / d.Seconds() }
		ratio := mbs(gated) / mbs(bare)
		worst = min(worst, ratio)
		details = append(details, fmt.Sprintf("%d MB: bare %.0f MB/s, gated %.0f MB/s, ratio **%.2f**%s",
			s.mb, mbs(bare), mbs(gated), ratio, failures(bad)))
	}
	peak, _ := w.Stop()
	after := fmt.Sprintf("%s; peak RSS %s (+%s)", join(details), mib(peak.HWM), mib(peak.HWM-before.RSS))
	return result{
		scenario: fmt.Sprintf("1. valid 10/50 MB lists, 1 %% kept, %d connections, %d interleaved rounds", conc, rounds),
		before:   "36 MB/s, ~0.05× bare (200 MB: 5.5 s vs 0.24 s); RSS ~90 MB",
		after:    after, target: "gated ÷ bare ≥ 0.5",
		met: worst >= 0.5,
	}
}

// hugeValues is scenario 2: 10 answers at once, each with one 50 MB value.
func hugeValues(e *env) result {
	const conc = 10
	p, t, access := e.gated("huge", conc, gateway.Config{})
	defer p.Stop()
	time.Sleep(500 * time.Millisecond)
	before := p.read()
	w := watch(p, 50*time.Millisecond)
	// An answer is refused either before its first byte (a 502 with an OB error body) or,
	// once a streamed 200 has begun, by cutting the body short: never with the value.
	statuses := map[string]int{}
	var most int64
	var mu sync.Mutex
	for _, shape := range []string{"hugeItem", "hugeMeta"} {
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, n, err := get(t.HTTP, p.URL+accountPath, access, shape, "")
				key := fmt.Sprint(status)
				switch {
				case status == 0:
					key = "closed before the status line"
				case err != nil:
					key += " cut short"
				}
				mu.Lock()
				statuses[key]++
				most = max(most, n)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	peak, _ := w.Stop()
	growth := peak.HWM - before.RSS
	all502 := statuses["502"] == 2*conc
	r := result{
		scenario: "2. one 50 MB value (in a kept item, then in Meta), 10 answers at once each",
		before:   "+1.5 GB RSS; every answer 200 with the whole value",
		after: fmt.Sprintf("RSS growth **+%s** (peak %s); answers %s, at most %d bytes of body received",
			mib(growth), mib(peak.HWM), statusList(statuses), most),
		target: "growth ≤ 64 MiB; all 502",
		met:    growth <= 64<<20 && all502,
	}
	if growth <= 64<<20 && !all502 && most < 1<<20 && statuses["200"] == 0 {
		r.verdict = "memory met; refused, but as a 200 cut short after the stream began, not a 502"
	}
	return r
}

// trickled is scenario 3: the delay from the bank flushing a kept item to the client
// reading it, on 20 answers trickled at 100 KB/s at once.
func trickled(e *env) result {
	const n = 20
	p, t, access := e.gated("trickle", n, gateway.Config{})
	defer p.Stop()
	w := watch(p, 100*time.Millisecond)
	delays := make([]time.Duration, n)
	found := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint(i)
			req, _ := http.NewRequest(http.MethodGet, p.URL+accountPath, nil)
			req.Header.Set("Authorization", "Bearer "+access)
			req.Header.Set(shapeHeader, "trickle")
			req.Header.Set(idHeader, id)
			resp, err := t.HTTP.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			seen, mark := []byte{}, []byte(marker(id))
			buf := make([]byte, 32<<10)
			for {
				k, err := resp.Body.Read(buf)
				if k > 0 && !found[i] {
					seen = append(seen, buf[:k]...)
					if bytes.Contains(seen, mark) {
						at := time.Now()
						if sent, ok := e.bank.sentAt(id); ok {
							delays[i], found[i] = at.Sub(sent), true
						}
					} else if len(seen) > len(mark) {
						seen = seen[len(seen)-len(mark):]
					}
				}
				if err != nil {
					break
				}
			}
		}()
	}
	wg.Wait()
	peak, _ := w.Stop()
	var got []time.Duration
	for i := range n {
		if found[i] {
			got = append(got, delays[i])
		}
	}
	slices.Sort(got)
	after := fmt.Sprintf("%d/%d kept items arrived", len(got), n)
	met := len(got) == n
	if len(got) > 0 {
		after += fmt.Sprintf("; delay p50 %s, max **%s**", load.Ms(got[len(got)/2]), load.Ms(got[len(got)-1]))
		met = met && got[len(got)-1] <= 100*time.Millisecond
	}
	after += fmt.Sprintf("; peak RSS %s", mib(peak.HWM))
	return result{
		scenario: fmt.Sprintf("3. %d answers trickled at 100 KB/s, a kept item after 20 KB", n),
		before:   "first byte after up to 32 s; RSS 95 MB",
		after:    after, target: "kept bytes ≤ 100 ms after the bank sends them",
		met: met,
	}
}

func failures(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d failed)", n)
}

func statusList(m map[string]int) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%d × %s", n, k))
	}
	slices.Sort(parts)
	return join(parts)
}

func join(parts []string) string { return strings.Join(parts, ", ") }
