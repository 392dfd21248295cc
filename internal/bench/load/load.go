// Package load drives a fixed number of workers against an HTTP request for a fixed time
// and reports throughput and latency percentiles.
package load

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Result is one measured phase.
type Result struct {
	Requests  int
	Errors    int
	Elapsed   time.Duration
	latencies []time.Duration
}

// PerSecond is the throughput of successful requests.
func (r *Result) PerSecond() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Percentile is the q-th (0..1) latency.
func (r *Result) Percentile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	return r.latencies[min(int(q*float64(len(r.latencies))), len(r.latencies)-1)]
}

// Merge adds another phase of the same kind.
func (r *Result) Merge(o *Result) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.Elapsed += o.Elapsed
	r.latencies = append(r.latencies, o.latencies...)
}

// maxSamples bounds the latencies kept per worker and phase.
const maxSamples = 200_000

// Run sends requests from workers goroutines for d: do sends one and returns its status.
func Run(workers int, d time.Duration, do func() (int, error)) *Result {
	return RunEach(workers, d, func(int) func() (int, error) { return do })
}

// RunEach is Run with a request function of each worker's own (worker numbers from 0).
func RunEach(workers int, d time.Duration, each func(worker int) func() (int, error)) *Result {
	var mu sync.Mutex
	total := &Result{}
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		do := each(w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := &Result{}
			for time.Now().Before(deadline) {
				t0 := time.Now()
				status, err := do()
				lat := time.Since(t0)
				if err != nil || status >= 400 {
					local.Errors++
					continue
				}
				local.Requests++
				if len(local.latencies) < maxSamples {
					local.latencies = append(local.latencies, lat)
				}
			}
			mu.Lock()
			total.Requests += local.Requests
			total.Errors += local.Errors
			total.latencies = append(total.latencies, local.latencies...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.Elapsed = time.Since(start)
	return total
}

// Get returns a do func for Run that GETs url with the headers and drains the body.
func Get(c *http.Client, url string, header http.Header) func() (int, error) {
	return func() (int, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		req.Header = header
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
}

// Ms formats a duration in milliseconds.
func Ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
