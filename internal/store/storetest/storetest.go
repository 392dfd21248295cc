// Package storetest is the contract of store.Store as tests: every backend runs the same
// suite, so the gateway behaves the same on each.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// Run runs the suite; open returns a new, empty store, closed in t's cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, store.Store)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"Values", testValues},
		{"GetMany", testGetMany},
		{"TTL", testTTL},
		{"PutNewRace", testPutNewRace},
		{"UpdateCounter", testUpdateCounter},
		{"UpdateWriteSkew", testUpdateWriteSkew},
		{"UpdateAbort", testUpdateAbort},
		{"UpdateReadsOwnWrites", testUpdateReadsOwnWrites},
		{"ScanOrderAndPrefix", testScanOrderAndPrefix},
		{"ScanPages", testScanPages},
		{"ScanStopsAndWrites", testScanStopsAndWrites},
	} {
		// Each case has its own store, so the cases run side by side.
		t.Run(tc.name, func(t *testing.T) { t.Parallel(); tc.run(t, open(t)) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantValue(t *testing.T, s store.Reader, key, want string) {
	t.Helper()
	got, err := s.Get(key)
	if err != nil || string(got) != want {
		t.Fatalf("Get(%q) = %q, %v; want %q", key, got, err, want)
	}
}

func wantMissing(t *testing.T, s store.Reader, key string) {
	t.Helper()
	if got, err := s.Get(key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	}
}

func testGetPutDelete(t *testing.T, s store.Store) {
	wantMissing(t, s, "missing")
	must(t, s.Put("k", []byte("v1"), 0))
	wantValue(t, s, "k", "v1")
	must(t, s.Put("k", []byte("v2"), 0))
	wantValue(t, s, "k", "v2")
	if err := s.PutNew("k", []byte("v3"), 0); !errors.Is(err, store.ErrExists) {
		t.Fatalf("PutNew over a live key: %v", err)
	}
	wantValue(t, s, "k", "v2")
	must(t, s.Delete("k"))
	wantMissing(t, s, "k")
	must(t, s.Delete("k")) // deleting what is not there is no error
	must(t, s.PutNew("k", []byte("v4"), 0))
	wantValue(t, s, "k", "v4")
	must(t, s.Forget("k"))
	wantMissing(t, s, "k")
	must(t, s.Forget("k"))
}

// testGetMany: present, missing, expired, empty and repeated keys, each in its place.
func testGetMany(t *testing.T, s store.Store) {
	must(t, s.Put("a", []byte("va"), 0))
	must(t, s.Put("empty", []byte{}, 0))
	must(t, s.Put("short", []byte("gone"), time.Second))
	must(t, s.Put("b", []byte("vb"), time.Hour))
	time.Sleep(1100 * time.Millisecond)
	keys := []string{"a", "missing", "short", "empty", "b", "a"}
	vals := make([][]byte, len(keys))
	for i := range vals {
		vals[i] = []byte("stale") // GetMany overwrites every place, found or not
	}
	must(t, s.GetMany(keys, vals))
	want := []string{"va", "", "", "", "vb", "va"}
	found := []bool{true, false, false, true, true, true}
	for i := range keys {
		if (vals[i] != nil) != found[i] || string(vals[i]) != want[i] {
			t.Fatalf("GetMany %q: %q (found %v), want %q (found %v)", keys[i], vals[i], vals[i] != nil, want[i], found[i])
		}
	}
	must(t, s.GetMany(nil, nil))
}

// testValues: empty values, any bytes in keys and values, and a large value.
func testValues(t *testing.T, s store.Store) {
	large := bytes.Repeat([]byte("0123456789abcdef"), 512<<10/16)
	for _, tc := range []struct {
		name, key string
		val       []byte
	}{
		{"empty value", "empty", []byte{}},
		{"binary key and value", "bin/\x00\x01\xff\xfe", []byte{0, 1, 2, 0xff}},
		{"unicode key", "user/zoë/∑", []byte("ü")},
		{"512 KiB value", "large", large},
	} {
		t.Run(tc.name, func(t *testing.T) {
			must(t, s.Put(tc.key, tc.val, 0))
			got, err := s.Get(tc.key)
			if err != nil || !bytes.Equal(got, tc.val) {
				t.Fatalf("Get = %d bytes, %v; want %d bytes", len(got), err, len(tc.val))
			}
		})
	}
}

// testTTL: a key is live until its TTL and invisible at once after it, to Get, Scan and
// transactions, and free again for PutNew. Badger counts TTLs in whole seconds, so the
// TTL is 2 s and the wait bounded by 4 s.
func testTTL(t *testing.T, s store.Store) {
	const ttl = 2 * time.Second
	start := time.Now()
	must(t, s.Put("ttl/short", []byte("x"), ttl))
	must(t, s.PutNew("ttl/new", []byte("x"), ttl))
	must(t, s.Update(func(tx store.Txn) error { return tx.Put("ttl/txn", []byte("x"), ttl) }))
	must(t, s.Put("ttl/long", []byte("x"), time.Hour))
	must(t, s.Put("ttl/none", []byte("x"), 0))
	if time.Since(start) < time.Second {
		for _, k := range []string{"ttl/short", "ttl/new", "ttl/txn"} {
			wantValue(t, s, k, "x")
		}
	}
	deadline := start.Add(ttl + 2*time.Second)
	for {
		_, err := s.Get("ttl/short")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ttl/short still readable %v after its TTL of %v: %v", time.Since(start), ttl, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if time.Since(start) < ttl-time.Second {
		t.Fatalf("ttl/short expired after %v, before its TTL of %v", time.Since(start), ttl)
	}
	// Give the other two short keys the same margin.
	time.Sleep(time.Until(start.Add(ttl + time.Second)))
	for _, k := range []string{"ttl/short", "ttl/new", "ttl/txn"} {
		wantMissing(t, s, k)
	}
	wantValue(t, s, "ttl/long", "x")
	wantValue(t, s, "ttl/none", "x")
	if got := scanKeys(t, s, "ttl/"); fmt.Sprint(got) != "[ttl/long ttl/none]" {
		t.Fatalf("Scan after expiry = %v", got)
	}
	must(t, s.Update(func(tx store.Txn) error {
		if _, err := tx.Get("ttl/txn"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("expired key in a transaction: %v", err)
		}
		return nil
	}))
	// An expired key is free again for PutNew (replay caches rely on it).
	must(t, s.PutNew("ttl/short", []byte("y"), 0))
	wantValue(t, s, "ttl/short", "y")
	// Put of a TTL-less value over an expired key keeps it.
	must(t, s.Put("ttl/new", []byte("z"), 0))
	wantValue(t, s, "ttl/new", "z")
}

// testPutNewRace: of many PutNews of one key at once, exactly one wins, and its value is
// what is stored.
func testPutNewRace(t *testing.T, s store.Store) {
	const n = 16
	for round := range 5 {
		key := "race/" + strconv.Itoa(round)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = s.PutNew(key, []byte(strconv.Itoa(i)), time.Minute) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: PutNew won twice (%d and %d)", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, store.ErrExists):
				t.Fatalf("round %d: PutNew %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no PutNew won", round)
		}
		wantValue(t, s, key, strconv.Itoa(winner))
	}
}

// testUpdateCounter: concurrent read-modify-writes of one key lose no increment and
// report no conflict.
func testUpdateCounter(t *testing.T, s store.Store) {
	const n, each = 16, 5
	var wg sync.WaitGroup
	errs := make(chan error, n*each)
	for range n {
		wg.Go(func() {
			for range each {
				errs <- s.Update(func(tx store.Txn) error {
					v, err := tx.Get("counter")
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					c, _ := strconv.Atoi(string(v))
					return tx.Put("counter", []byte(strconv.Itoa(c+1)), 0)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	wantValue(t, s, "counter", strconv.Itoa(n*each))
}

// testUpdateWriteSkew: transactions that each read two keys and write one only if both
// are absent; snapshot isolation would let two commit, serializable lets one.
func testUpdateWriteSkew(t *testing.T, s store.Store) {
	const n = 8
	for round := range 5 {
		x, y := fmt.Sprintf("skew/%d/x", round), fmt.Sprintf("skew/%d/y", round)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			mine := x
			if i%2 == 1 {
				mine = y
			}
			wg.Go(func() {
				errs[i] = s.Update(func(tx store.Txn) error {
					for _, k := range []string{x, y} {
						if _, err := tx.Get(k); err == nil {
							return nil
						} else if !errors.Is(err, store.ErrNotFound) {
							return err
						}
					}
					return tx.Put(mine, []byte("set"), 0)
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Update %d: %v", round, i, err)
			}
		}
		set := 0
		for _, k := range []string{x, y} {
			if _, err := s.Get(k); err == nil {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("round %d: %d of x and y set, want 1", round, set)
		}
	}
}

// testUpdateAbort: an error from fn is returned as is and nothing fn wrote is kept.
func testUpdateAbort(t *testing.T, s store.Store) {
	must(t, s.Put("kept", []byte("old"), 0))
	boom := errors.New("boom")
	err := s.Update(func(tx store.Txn) error {
		if err := tx.Put("abort/new", []byte("x"), 0); err != nil {
			return err
		}
		if err := tx.Put("kept", []byte("new"), 0); err != nil {
			return err
		}
		if err := tx.Delete("kept"); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the fn's error", err)
	}
	wantMissing(t, s, "abort/new")
	wantValue(t, s, "kept", "old")
	// ErrExists from fn is returned as such too (PutNew-like updates rely on it).
	if err := s.Update(func(store.Txn) error { return store.ErrExists }); !errors.Is(err, store.ErrExists) {
		t.Fatalf("Update = %v, want ErrExists", err)
	}
}

func testUpdateReadsOwnWrites(t *testing.T, s store.Store) {
	must(t, s.Put("gone", []byte("x"), 0))
	must(t, s.Update(func(tx store.Txn) error {
		if err := tx.Put("own", []byte("1"), 0); err != nil {
			return err
		}
		if v, err := tx.Get("own"); err != nil || string(v) != "1" {
			return fmt.Errorf("own write read back as %q, %v", v, err)
		}
		if err := tx.Delete("gone"); err != nil {
			return err
		}
		if _, err := tx.Get("gone"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("own delete: %v", err)
		}
		return nil
	}))
	wantValue(t, s, "own", "1")
	wantMissing(t, s, "gone")
}

func scanKeys(t *testing.T, s store.Store, prefix string) []string {
	t.Helper()
	var keys []string
	must(t, s.Scan(prefix, func(k string, v []byte) error {
		if string(v) != "v:"+k && !strings.HasPrefix(k, "ttl/") {
			return fmt.Errorf("value of %q is %q", k, v)
		}
		keys = append(keys, k)
		return nil
	}))
	return keys
}

// testScanOrderAndPrefix: keys come in byte order (not a locale's), and a prefix selects
// exactly the keys that start with it, also at the edges of the byte range.
func testScanOrderAndPrefix(t *testing.T, s store.Store) {
	keys := []string{"a-b", "a_b", "aB", "ab", "a", "a\x00", "a\x7f", "a\xff", "a\xff\xff", "a\xff\x00", "b", "B", "Ä", "`", "\xff", "\xff\xff", ""}
	for _, k := range keys {
		if k == "" {
			continue // Badger has no empty key
		}
		must(t, s.Put(k, []byte("v:"+k), 0))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"B", "`", "a", "a\x00", "a-b", "aB", "a_b", "ab", "a\x7f", "a\xff", "a\xff\x00", "a\xff\xff", "b", "Ä", "\xff", "\xff\xff"}},
		{"a", []string{"a", "a\x00", "a-b", "aB", "a_b", "ab", "a\x7f", "a\xff", "a\xff\x00", "a\xff\xff"}},
		{"a\xff", []string{"a\xff", "a\xff\x00", "a\xff\xff"}},
		{"a\xff\xff", []string{"a\xff\xff"}},
		{"\xff", []string{"\xff", "\xff\xff"}},
		{"a_", []string{"a_b"}}, // _ and % are not patterns
		{"a%", nil},
		{"c", nil},
	} {
		t.Run(fmt.Sprintf("%q", tc.prefix), func(t *testing.T) {
			if got := scanKeys(t, s, tc.prefix); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Fatalf("Scan(%q) = %q\nwant %q", tc.prefix, got, tc.want)
			}
		})
	}
}

// testScanPages: more keys than one page of any backend, in order, each once.
func testScanPages(t *testing.T, s store.Store) {
	const n = 1203
	for i := range n {
		k := fmt.Sprintf("page/%05d", (i*7919)%n) // written out of order
		must(t, s.Put(k, []byte("v:"+k), 0))
	}
	must(t, s.Put("pagf", []byte("v:pagf"), 0))
	must(t, s.Put("pag", []byte("v:pag"), 0))
	got := scanKeys(t, s, "page/")
	if len(got) != n {
		t.Fatalf("Scan gave %d keys, want %d", len(got), n)
	}
	for i, k := range got {
		if want := fmt.Sprintf("page/%05d", i); k != want {
			t.Fatalf("key %d = %q, want %q", i, k, want)
		}
	}
}

// testScanStopsAndWrites: an error from fn ends the scan and is returned; fn may write to
// the store while the scan runs.
func testScanStopsAndWrites(t *testing.T, s store.Store) {
	for i := range 10 {
		k := fmt.Sprintf("s/%d", i)
		must(t, s.Put(k, []byte("v:"+k), 0))
	}
	stop := errors.New("stop")
	seen := 0
	err := s.Scan("s/", func(string, []byte) error {
		if seen++; seen == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 3 {
		t.Fatalf("Scan = %v after %d keys, want stop after 3", err, seen)
	}
	must(t, s.Scan("s/", func(k string, _ []byte) error { return s.Delete(k) }))
	if got := scanKeys(t, s, "s/"); len(got) != 0 {
		t.Fatalf("left after deleting in Scan: %q", got)
	}
}
