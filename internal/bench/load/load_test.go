package load

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	r := &Result{}
	for i := 100; i >= 1; i-- { // unsorted on purpose
		r.latencies = append(r.latencies, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, time.Millisecond}, {0.5, 51 * time.Millisecond}, {0.99, 100 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := r.Percentile(tc.q); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := (&Result{}).Percentile(0.5); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestMergeAndPerSecond(t *testing.T) {
	t.Parallel()
	a := &Result{Requests: 10, Errors: 1, Elapsed: time.Second, latencies: []time.Duration{1}}
	a.Merge(&Result{Requests: 30, Errors: 2, Elapsed: time.Second, latencies: []time.Duration{2, 3}})
	if a.Requests != 40 || a.Errors != 3 || a.Elapsed != 2*time.Second || len(a.latencies) != 3 {
		t.Errorf("merged %+v", a)
	}
	if got := a.PerSecond(); got != 20 {
		t.Errorf("PerSecond = %v", got)
	}
}

// TestRun: failures (errors and 4xx/5xx statuses) are counted apart from the requests and
// their latencies.
func TestRun(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	r := Run(3, 50*time.Millisecond, func() (int, error) {
		time.Sleep(time.Millisecond)
		switch n.Add(1) % 3 {
		case 0:
			return 0, errors.New("refused")
		case 1:
			return 503, nil
		}
		return 200, nil
	})
	if r.Requests == 0 || r.Errors == 0 || int64(r.Requests+r.Errors) != n.Load() {
		t.Errorf("requests %d errors %d calls %d", r.Requests, r.Errors, n.Load())
	}
	if len(r.latencies) != r.Requests || r.Elapsed < 50*time.Millisecond {
		t.Errorf("latencies %d elapsed %v", len(r.latencies), r.Elapsed)
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte("body"))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		header http.Header
		want   int
	}{{http.Header{"Authorization": {"Bearer t"}}, 200}, {http.Header{}, 401}} {
		status, err := Get(srv.Client(), srv.URL, tc.header)()
		if err != nil || status != tc.want {
			t.Errorf("Get: %d %v, want %d", status, err, tc.want)
		}
	}
	if _, err := Get(srv.Client(), "http://127.0.0.1:0/", nil)(); err == nil {
		t.Error("a refused connection is no error")
	}
}

func TestMs(t *testing.T) {
	t.Parallel()
	if got := Ms(1500 * time.Microsecond); got != "1.500 ms" {
		t.Errorf("Ms = %q", got)
	}
}
