package store

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func getOne(t *testing.T, b *Badger, key string) []byte {
	t.Helper()
	vals := make([][]byte, 1)
	if err := b.GetMany([]string{key}, vals); err != nil {
		t.Fatal(err)
	}
	return vals[0]
}

// TestReadCacheSeesEveryWrite: GetMany caches what it reads, and every way of writing —
// Put, Delete, Update, PutNew, a bulk load — is seen by the next GetMany, as is expiry.
func TestReadCacheSeesEveryWrite(t *testing.T) {
	b, err := OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	steps := []struct {
		name  string
		write func() error
		want  string // "" for missing
	}{
		{"Put", func() error { return b.Put("k", []byte("1"), 0) }, "1"},
		{"Put again", func() error { return b.Put("k", []byte("2"), 0) }, "2"},
		{"Update", func() error { return b.Update(func(t Txn) error { return t.Put("k", []byte("3"), 0) }) }, "3"},
		{"Update deleting", func() error { return b.Update(func(t Txn) error { return t.Delete("k") }) }, ""},
		{"PutNew", func() error { return b.PutNew("k", []byte("4"), 0) }, "4"},
		{"Delete", func() error { return b.Delete("k") }, ""},
		{"bulk load", func() error {
			l := b.NewLoader()
			if err := l.Put("k", []byte("5"), 0); err != nil {
				return err
			}
			return l.Flush()
		}, "5"},
		{"aborted Update", func() error {
			b.Update(func(t Txn) error { t.Put("k", []byte("never"), 0); return ErrExists })
			return nil
		}, "5"},
	}
	for _, s := range steps {
		getOne(t, b, "k") // cached before the write, if present
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for range 2 { // the read after the write, then the one served from the cache
			got := getOne(t, b, "k")
			if (got == nil) != (s.want == "") || string(got) != s.want {
				t.Fatalf("after %s: %q, want %q", s.name, got, s.want)
			}
		}
	}
	if err := b.Put("short", []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	if got := getOne(t, b, "short"); string(got) != "x" {
		t.Fatalf("short: %q", got)
	}
	time.Sleep(1100 * time.Millisecond)
	if got := getOne(t, b, "short"); got != nil {
		t.Fatalf("an expired value served from the cache: %q", got)
	}
}

// TestReadCacheNeverStale: writers count up a key through Update while readers read it
// through GetMany; a reader never sees less than what was acknowledged before its read.
func TestReadCacheNeverStale(t *testing.T) {
	b, err := OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const writes = 300
	if err := b.Put("n", []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		for range writes {
			var wrote int64
			err := b.Update(func(tx Txn) error {
				v, err := tx.Get("n")
				if err != nil {
					return err
				}
				n, _ := strconv.ParseInt(string(v), 10, 64)
				wrote = n + 1
				return tx.Put("n", []byte(strconv.FormatInt(wrote, 10)), 0)
			})
			if err != nil {
				t.Error(err)
				return
			}
			acked.Store(wrote)
		}
	}()
	var stale atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals := make([][]byte, 2)
			for !done.Load() {
				before := acked.Load()
				if err := b.GetMany([]string{"n", "absent"}, vals); err != nil {
					t.Error(err)
					return
				}
				n, _ := strconv.ParseInt(string(vals[0]), 10, 64)
				if n < before {
					stale.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if s := stale.Load(); s != 0 {
		t.Fatalf("%d reads saw less than an acknowledged write", s)
	}
	if got := getOne(t, b, "n"); string(got) != strconv.Itoa(writes) {
		t.Fatalf("final %q, want %d", got, writes)
	}
}
