package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/caddyciba/gateway/internal/bench/gateway"
)

// usage is what the gateway process holds at one moment, read from /proc and from the
// admin endpoint's goroutine profile.
type usage struct {
	RSS, HWM   int64 // bytes
	Goroutines int
	FDs        int
}

// proc is a running gateway with its admin endpoint.
type proc struct {
	*gateway.Gateway
	admin string
}

// read takes one sample; a field it cannot read stays 0.
func (p *proc) read() usage {
	var u usage
	u.RSS, _ = p.Memory("VmRSS")
	u.HWM, _ = p.Memory("VmHWM")
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID())); err == nil {
		u.FDs = len(ents)
	}
	u.Goroutines = p.goroutines()
	return u
}

// goroutines reads the total from the first line of /debug/pprof/goroutine?debug=1:
// "goroutine profile: total N".
func (p *proc) goroutines() int {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "goroutine profile: total %d", &n); err != nil {
		return 0
	}
	return n
}

// watcher samples a gateway every interval and keeps the peaks.
type watcher struct {
	p    *proc
	mu   sync.Mutex
	peak usage
	n    int
	stop chan struct{}
	done chan struct{}
}

func watch(p *proc, every time.Duration) *watcher {
	w := &watcher{p: p, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			w.add(p.read())
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *watcher) add(u usage) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	w.peak.RSS = max(w.peak.RSS, u.RSS)
	w.peak.HWM = max(w.peak.HWM, u.HWM)
	w.peak.Goroutines = max(w.peak.Goroutines, u.Goroutines)
	w.peak.FDs = max(w.peak.FDs, u.FDs)
}

// Stop ends the sampling, takes a last sample and returns the peaks and the number of
// samples taken.
func (w *watcher) Stop() (usage, int) {
	close(w.stop)
	<-w.done
	w.add(w.p.read())
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.n
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
