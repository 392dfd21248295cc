package ratelimit

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/testpg"
)

// The PostgreSQL server starts only for the tests that ask for a DSN.
func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate  string
		burst int
		want  Rate
		ok    bool
	}{
		{"20/s", 40, Rate{20, time.Second, 40}, true},
		{"20/s", 0, Rate{20, time.Second, 20}, true},
		{"100/m", 5, Rate{100, time.Minute, 5}, true},
		{"0/s", 1, Rate{}, false},
		{"-1/s", 1, Rate{}, false},
		{"20/h", 1, Rate{}, false},
		{"20", 1, Rate{}, false},
		{"x/s", 1, Rate{}, false},
		{"20/s", -1, Rate{}, false},
		{"2000000/s", 1, Rate{}, false},
		{"", 0, Rate{}, false},
	} {
		got, err := Parse(tc.rate, tc.burst)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("Parse(%q, %d) = %+v, %v", tc.rate, tc.burst, got, err)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		wait time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {59 * time.Second, 59}} {
		if got := RetryAfter(tc.wait); got != tc.want {
			t.Errorf("RetryAfter(%v) = %d, want %d", tc.wait, got, tc.want)
		}
	}
}

func openStore(t testing.TB) store.Store {
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestBucket: a burst passes, the next is refused with the wait until one token is back,
// and the refill allows exactly what the rate gives; keys do not share buckets.
func TestBucket(t *testing.T) {
	t.Parallel()
	l := &Limiter{Store: openStore(t), Prefix: "rl/"}
	r := Rate{Events: 2, Per: time.Second, Burst: 4}
	now := time.Unix(1000, 0)
	for i := range 4 {
		if ok, _, err := l.Allow("a", r, now); !ok || err != nil {
			t.Fatalf("event %d of the burst refused: %v", i+1, err)
		}
	}
	ok, wait, err := l.Allow("a", r, now)
	if ok || err != nil || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: ok=%v wait=%v err=%v, want refused after 500ms", ok, wait, err)
	}
	if ok, _, _ := l.Allow("b", r, now); !ok {
		t.Fatal("another key shares the bucket")
	}
	if ok, wait, _ := l.Allow("a", r, now.Add(400*time.Millisecond)); ok || wait != 100*time.Millisecond {
		t.Fatalf("before the refill: ok=%v wait=%v", ok, wait)
	}
	if ok, _, _ := l.Allow("a", r, now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after the refill")
	}
	if ok, _, _ := l.Allow("a", r, now.Add(500*time.Millisecond)); ok {
		t.Fatal("two events from one refilled token")
	}
	// After a long idle time the bucket holds the burst, no more.
	later := now.Add(time.Hour)
	n := 0
	for range 10 {
		if ok, _, _ := l.Allow("a", r, later); ok {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d allowed after an idle hour, want the burst 4", n)
	}
}

// TestBucketShared: concurrent callers (two instances on one store) never get more than
// the burst together.
func TestBucketShared(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	bucketShared(t, s, s)
}

// TestBucketSharedPostgres: the same with two instances on one PostgreSQL database, each
// with its own connection pool.
func TestBucketSharedPostgres(t *testing.T) {
	t.Parallel()
	dsn := testpg.DSN(t)
	open := func() store.Store {
		p, err := store.OpenPostgres(dsn, store.PostgresOptions{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	bucketShared(t, open(), open())
}

func bucketShared(t *testing.T, sa, sb store.Store) {
	a, b := &Limiter{Store: sa, Prefix: "rl/"}, &Limiter{Store: sb, Prefix: "rl/"}
	r := Rate{Events: 1, Per: time.Minute, Burst: 10}
	now := time.Now()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				ok, _, err := l.Allow("c", r, now)
				if err != nil {
					t.Error(err)
				}
				if ok {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Fatalf("%d allowed together, want the burst 10", n)
	}
}

// BenchmarkAllow is the cost a limited client adds to each /token call.
func BenchmarkAllow(b *testing.B) {
	l := &Limiter{Store: openStore(b), Prefix: "rl/"}
	r := Rate{Events: 1_000_000, Per: time.Second, Burst: 1_000_000}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := l.Allow("c", r, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
