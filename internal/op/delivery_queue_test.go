package op

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/store"
)

// queueProvider is a provider over s with one ping client whose notification endpoint is
// endpoint, a pool of size workers, short backoffs and attempts of at most attempt.
func queueProvider(t *testing.T, s store.Store, endpoint string, workers int, attempt time.Duration) *Provider {
	t.Helper()
	ring, err := keys.LoadOrCreate(s, jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	c := &clients.Client{ID: "tpp", Method: clients.SecretBasic, DeliveryMode: clients.Ping,
		NotificationEndpoint: endpoint, Scopes: []string{"openid"}}
	if err := c.SetSecret("secret"); err != nil {
		t.Fatal(err)
	}
	reg, err := clients.NewRegistry([]*clients.Client{c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Issuer: "https://bank.example", MaxDeliveries: workers}, s, ring, reg)
	p.callback.FirstBackoff, p.callback.MaxBackoff = 40*time.Millisecond, 160*time.Millisecond
	p.deliveries.attemptTimeout = attempt
	t.Cleanup(p.Close)
	return p
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ping(p *Provider, id string, expires time.Time) {
	p.enqueue(&delivery{Kind: kindCallback, Expires: expires, ClientID: "tpp", Mode: clients.Ping},
		callbackPayload{Bearer: "nt-" + id, Body: json.RawMessage(`{"auth_req_id":"` + id + `"}`)})
}

// queued counts the records waiting in the store.
func queued(t *testing.T, s store.Store) int {
	t.Helper()
	n := 0
	if err := s.Scan(deliveryPrefix, func(string, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// blackHole is a 127.0.0.1 listener that accepts, reads, and never answers; a
// connection is closed when its client gives up.
func blackHole(t *testing.T) (url string, accepted *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				_, _ = io.Copy(io.Discard, conn)
			}()
		}
	}()
	return "http://" + l.Addr().String() + "/cb", accepted
}

// TestDeliveryPoolBounded queues 1,000 pings to a receiver that never answers: the
// pending ones wait in the store, goroutines and descriptors stay within the baseline
// plus what the pool's connections hold, and everything is gone soon after expiry.
func TestDeliveryPoolBounded(t *testing.T) {
	const workers, pending = 8, 1000
	s := openStore(t)
	target, accepted := blackHole(t)
	p := queueProvider(t, s, target, workers, 150*time.Millisecond)
	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	// Per attempt in flight: the pool's worker, the client connection's two loops and the
	// black hole's reader; then the dispatcher, this test's sampler, and the store's own
	// short-lived goroutines (Badger: up to 64 prefetching under the one scan running,
	// and its flushes). Unbounded, 1,000 pending would be thousands.
	limitG := baseG + 4*workers + 2 + 128
	// Both ends of each connection, and files the store may open (a flushed table).
	limitFD := baseFD + 2*workers + 16
	const window = 5 * time.Second
	start := time.Now()
	expires := start.Add(window)
	var peakG, peakFD, samples int
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peakG, peakFD = max(peakG, runtime.NumGoroutine()), max(peakFD, openFDs(t))
			samples++
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	for i := range pending {
		ping(p, "req-"+strconv.Itoa(i), expires)
	}
	// Sampling reads no store, so only the gateway's own goroutines are counted.
	time.Sleep(time.Until(expires.Add(time.Second)))
	close(stop)
	<-sampled
	waitFor(20*time.Second, func() bool { return queued(t, s) == 0 })
	if n := queued(t, s); n != 0 {
		t.Fatalf("%d deliveries still queued well after their expiry", n)
	}
	if samples < 100 {
		t.Fatalf("only %d samples", samples)
	}
	if peakG > limitG {
		t.Errorf("peak goroutines %d, want at most %d (baseline %d, pool %d)", peakG, limitG, baseG, workers)
	}
	if peakFD > limitFD {
		t.Errorf("peak descriptors %d, want at most %d (baseline %d)", peakFD, limitFD, baseFD)
	}
	// 150ms attempts by 8 workers over the window: at most one per worker per 150ms,
	// and at least one round of them.
	most := int64(window/(150*time.Millisecond))*workers + workers
	if n := accepted.Load(); n < workers || n > most {
		t.Errorf("%d attempts reached the black hole, want between %d and %d", n, workers, most)
	}
	t.Logf("baseline %d goroutines / %d fds; peak %d / %d; %d attempts", baseG, baseFD, peakG, peakFD, accepted.Load())
}

// receiver is a real HTTP server that answers 503 to the first fails attempts of each
// auth_req_id and 204 afterwards, recording when each attempt came.
type receiver struct {
	mu       sync.Mutex
	fails    int
	attempts map[string][]time.Time
	bearer   map[string]string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ID string `json:"auth_req_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.attempts[body.ID] = append(rc.attempts[body.ID], time.Now())
	rc.bearer[body.ID] = r.Header.Get("Authorization")
	n := len(rc.attempts[body.ID])
	rc.mu.Unlock()
	if n <= rc.fails {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func newReceiver(t *testing.T, fails int) (*receiver, string) {
	t.Helper()
	rc := &receiver{fails: fails, attempts: map[string][]time.Time{}, bearer: map[string]string{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return rc, "http://" + l.Addr().String() + "/cb"
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestDeliveryRetriesWithBackoff: a receiver that fails three times gets the fourth
// attempt, each wait at least half the doubled backoff, and the record is then gone.
func TestDeliveryRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	rc, endpoint := newReceiver(t, 3)
	p := queueProvider(t, s, endpoint, 2, time.Second)
	ping(p, "r1", time.Now().Add(10*time.Second))
	if !waitFor(5*time.Second, func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.attempts["r1"]) == 4 }) {
		t.Fatalf("attempts: %v", rc.attempts["r1"])
	}
	rc.mu.Lock()
	at, bearer := rc.attempts["r1"], rc.bearer["r1"]
	rc.mu.Unlock()
	for i, want := range []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond} {
		if gap := at[i+1].Sub(at[i]); gap < want {
			t.Errorf("wait before attempt %d was %v, want at least %v", i+2, gap, want)
		}
	}
	if bearer != "Bearer nt-r1" {
		t.Errorf("Authorization %q", bearer)
	}
	if !waitFor(2*time.Second, func() bool { return queued(t, s) == 0 }) {
		t.Errorf("%d records left after the delivery", queued(t, s))
	}
	time.Sleep(300 * time.Millisecond)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if n := len(rc.attempts["r1"]); n != 4 {
		t.Errorf("%d attempts after success, want 4", n)
	}
}

// TestDeliveryRefusedIsFinal: a 4xx is never retried (CIBA: no retry after a 401).
func TestDeliveryRefusedIsFinal(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	var hits atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	p := queueProvider(t, s, "http://"+l.Addr().String()+"/cb", 2, time.Second)
	ping(p, "r1", time.Now().Add(10*time.Second))
	if !waitFor(3*time.Second, func() bool { return hits.Load() == 1 && queued(t, s) == 0 }) {
		t.Fatalf("hits %d, queued %d", hits.Load(), queued(t, s))
	}
	time.Sleep(300 * time.Millisecond)
	if n := hits.Load(); n != 1 {
		t.Errorf("%d attempts after a 401, want 1", n)
	}
}

// TestDeliveryTwoInstancesOnce: two providers on one store (two instances) share the
// queue; each delivery arrives exactly once.
func TestDeliveryTwoInstancesOnce(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	twoInstancesOnce(t, s, s)
}

// twoInstancesOnce queues 200 pings through two providers, one on each store handle,
// and checks that each arrives exactly once.
func twoInstancesOnce(t *testing.T, sa, sb store.Store) {
	rc, endpoint := newReceiver(t, 0)
	a := queueProvider(t, sa, endpoint, 4, time.Second)
	b := queueProvider(t, sb, endpoint, 4, time.Second)
	b.StartDeliveries()
	const n = 200
	for i := range n {
		p := a
		if i%2 == 1 {
			p = b
		}
		ping(p, "r"+string(rune('A'+i/26))+string(rune('a'+i%26)), time.Now().Add(20*time.Second))
	}
	if !waitFor(15*time.Second, func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.attempts) == n }) {
		t.Fatalf("%d of %d delivered", len(rc.attempts), n)
	}
	time.Sleep(300 * time.Millisecond)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for id, at := range rc.attempts {
		if len(at) != 1 {
			t.Errorf("%s delivered %d times", id, len(at))
		}
	}
}

// TestDeliverySurvivesClose: what one provider queued and did not deliver before it
// closed (a reload) is delivered by the next provider on the same store, and the record
// keeps its secrets sealed.
func TestDeliverySurvivesClose(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := down.Addr().String()
	down.Close() // refused connections until the receiver starts below
	old := queueProvider(t, s, "http://"+addr+"/cb", 2, time.Second)
	ping(old, "r1", time.Now().Add(20*time.Second))
	time.Sleep(100 * time.Millisecond)
	old.Close()
	if n := queued(t, s); n != 1 {
		t.Fatalf("%d records after close, want 1", n)
	}
	_ = s.Scan(deliveryPrefix, func(_ string, val []byte) error {
		if strings.Contains(string(val), "nt-r1") || strings.Contains(string(val), "r1\"") {
			t.Errorf("record holds the payload in clear: %s", val)
		}
		return nil
	})
	rc := &receiver{attempts: map[string][]time.Time{}, bearer: map[string]string{}}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skip("port taken meanwhile:", err)
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	next := queueProvider(t, s, "http://"+addr+"/cb", 2, time.Second)
	next.StartDeliveries()
	if !waitFor(5*time.Second, func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.attempts["r1"]) == 1 }) {
		t.Fatal("the queued delivery never arrived after the close")
	}
}

// TestDeliveryKeys: due times order the keys and read back.
func TestDeliveryKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{deliveryKey(time.Unix(1, 5), "id"), true},
		{deliveryKey(time.Unix(1<<33, 0), "x"), true},
		{deliveryPrefix + "12/id", false},
		{deliveryPrefix + "0000000000000000000x/id", false},
		{"other/00000000000000000001/id", false},
	} {
		_, ok := dueOf(tc.key)
		if ok != tc.ok {
			t.Errorf("dueOf(%q) ok=%v", tc.key, ok)
		}
	}
	if a, b := deliveryKey(time.Unix(9, 0), "z"), deliveryKey(time.Unix(10, 0), "a"); a >= b {
		t.Errorf("%q sorts after %q", a, b)
	}
	if _, err := dueOf(deliveryKey(time.Unix(3, 0), "a")); !err {
		t.Error("round trip")
	}
	_ = errors.New
}

// TestDeliveryLeaseOutlivesCrash: a record written leased to an instance that died before
// handing it to a worker is attempted by another instance once the lease has run out, and
// not before.
func TestDeliveryLeaseOutlivesCrash(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	rc, endpoint := newReceiver(t, 0)
	dead := queueProvider(t, s, endpoint, 1, time.Second)
	aead, err := dead.deliveryAEAD()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = s.Update(func(tx store.Txn) error {
		_, err := queueLeased(tx, aead, &delivery{Kind: kindCallback, Expires: now.Add(time.Hour), ClientID: "tpp", Mode: clients.Ping},
			callbackPayload{Bearer: "nt-c1", Body: json.RawMessage(`{"auth_req_id":"c1"}`)}, now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64 // how far past the wall clock the other instance's clock runs
	other := queueProvider(t, s, endpoint, 1, time.Second)
	other.Now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	other.StartDeliveries()
	delivered := func() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.attempts["c1"]) }
	time.Sleep(2 * deliveryPoll)
	if n := delivered(); n != 0 {
		t.Fatalf("attempted %d times while leased to its instance", n)
	}
	clock.Store(int64(leaseTTL + time.Second))
	if !waitFor(5*time.Second, func() bool { return delivered() == 1 }) {
		t.Fatal("the record was never attempted after its lease ran out")
	}
}

// TestDeliveryHandOffWhenBusy: with every worker busy, a new delivery is made due at once
// and attempted as soon as a worker is free, not after its lease.
func TestDeliveryHandOffWhenBusy(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	rc, endpoint := newReceiver(t, 0)
	// The receiver holds "stuck" until the attempt gives up, so the one worker is busy.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"stuck"`) {
			<-r.Context().Done()
			return
		}
		proxied, _ := http.Post(endpoint, "application/json", strings.NewReader(string(body)))
		if proxied != nil {
			proxied.Body.Close()
			w.WriteHeader(proxied.StatusCode)
		}
	}))
	t.Cleanup(srv.Close)
	p := queueProvider(t, s, srv.URL+"/cb", 1, 300*time.Millisecond)
	ping(p, "stuck", time.Now().Add(400*time.Millisecond))
	ping(p, "next", time.Now().Add(20*time.Second))
	dueNow, total := 0, 0
	_ = s.Scan(deliveryPrefix, func(key string, _ []byte) error {
		if at, _ := dueOf(key); !at.After(time.Now()) {
			dueNow++
		}
		total++
		return nil
	})
	if dueNow != 1 || total != 2 {
		t.Errorf("%d of %d records due now with the pool busy, want 1 of 2", dueNow, total)
	}
	if !waitFor(3*time.Second, func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.attempts["next"]) == 1 }) {
		t.Fatal("the second delivery waited for its lease")
	}
}
