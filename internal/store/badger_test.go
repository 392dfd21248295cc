package store

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Badger, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := OpenBadger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, dir
}

func TestBadgerBasics(t *testing.T) {
	t.Parallel()
	b, _ := openTemp(t)
	if _, err := b.Get("missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	if err := b.Put("k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get("k"); err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := b.PutNew("k", []byte("w"), 0); !errors.Is(err, ErrExists) {
		t.Fatalf("PutNew on an existing key: %v", err)
	}
	if err := b.Delete("k"); err != nil {
		t.Fatal(err)
	}
	if err := b.PutNew("k", []byte("w"), 0); err != nil {
		t.Fatalf("PutNew after delete: %v", err)
	}
}

func TestBadgerTTL(t *testing.T) {
	t.Parallel()
	b, _ := openTemp(t)
	if err := b.Put("short", []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Put("long", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := b.Get("short"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired key: %v", err)
	}
	if _, err := b.Get("long"); err != nil {
		t.Fatalf("live key: %v", err)
	}
	// An expired key is free again for PutNew (replay caches rely on it).
	if err := b.PutNew("short", []byte("y"), 0); err != nil {
		t.Fatalf("PutNew over an expired key: %v", err)
	}
}

func TestBadgerScan(t *testing.T) {
	t.Parallel()
	b, _ := openTemp(t)
	for _, k := range []string{"a/2", "a/1", "b/1", "a/3"} {
		if err := b.Put(k, []byte(k), 0); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := b.Scan("a/", func(k string, v []byte) error {
		got = append(got, k+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a/1=a/1 a/2=a/2 a/3=a/3]" {
		t.Fatalf("Scan = %v", got)
	}
}

// TestBadgerUpdateIsAtomic: concurrent read-modify-writes of one counter lose no increment,
// and of many racing PutNew calls exactly one wins.
func TestBadgerUpdateIsAtomic(t *testing.T) {
	t.Parallel()
	b, _ := openTemp(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	wins := make(chan struct{}, n)
	for range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- b.Update(func(tx Txn) error {
				cur := 0
				if v, err := tx.Get("counter"); err == nil {
					cur, _ = strconv.Atoi(string(v))
				} else if !errors.Is(err, ErrNotFound) {
					return err
				}
				return tx.Put("counter", []byte(strconv.Itoa(cur+1)), 0)
			})
		}()
		go func() {
			defer wg.Done()
			if b.PutNew("once", []byte("x"), 0) == nil {
				wins <- struct{}{}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := b.Get("counter"); string(v) != strconv.Itoa(n) {
		t.Fatalf("counter = %s, want %d", v, n)
	}
	if len(wins) != 1 {
		t.Fatalf("%d PutNew calls won, want 1", len(wins))
	}
}

func TestBadgerUpdateErrorWritesNothing(t *testing.T) {
	t.Parallel()
	b, _ := openTemp(t)
	boom := errors.New("boom")
	err := b.Update(func(tx Txn) error {
		if err := tx.Put("half", []byte("x"), 0); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v", err)
	}
	if _, err := b.Get("half"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("aborted write is visible: %v", err)
	}
}

func TestBadgerPersists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := OpenBadger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put("k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBadger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := b.Get("k"); err != nil || string(v) != "v" {
		t.Fatalf("after reopen: %q, %v", v, err)
	}
}
