package store

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestDecoded: a cached decoding serves only the same bytes; a change and a delete are
// seen on the next read, and the cache stays within its bound.
func TestDecoded(t *testing.T) {
	t.Parallel()
	s, err := OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	decodes := 0
	d := NewDecoded(2, func(b []byte) (*int, error) {
		decodes++
		n, err := strconv.Atoi(string(b))
		return &n, err
	})
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Put("k", []byte("1"), 0))
	for range 3 {
		if v, err := d.Get(s, "k"); err != nil || *v != 1 {
			t.Fatalf("%v %v", v, err)
		}
	}
	if decodes != 1 {
		t.Fatalf("%d decodes of unchanged bytes", decodes)
	}
	must(s.Put("k", []byte("2"), 0))
	if v, _ := d.Get(s, "k"); v == nil || *v != 2 {
		t.Fatalf("a change was not seen: %v", v)
	}
	must(s.Delete("k"))
	if _, err := d.Get(s, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a delete was not seen: %v", err)
	}
	for i := range 5 {
		must(s.Put("n"+strconv.Itoa(i), []byte("3"), 0))
		if _, err := d.Get(s, "n"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.m) > 2 {
		t.Fatalf("%d entries for a bound of 2", len(d.m))
	}
}

// TestLoader: records written through a Loader are there, with their TTL, once flushed.
func TestLoader(t *testing.T) {
	t.Parallel()
	s, err := OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := s.NewLoader()
	for i := range 1000 {
		if err := l.Put("k/"+strconv.Itoa(i), []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Put("short", []byte("v"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.Scan("k/", func(string, []byte) error { n++; return nil }); err != nil || n != 1000 {
		t.Fatalf("%d records, %v", n, err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := s.Get("short"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the TTL was not kept: %v", err)
	}
}

// TestGroupSyncUnderConcurrency: many concurrent writers all return, every write is
// readable, and writes after Close fail instead of hanging.
func TestGroupSyncUnderConcurrency(t *testing.T) {
	t.Parallel()
	s, err := OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if err := s.Put(fmt.Sprintf("g/%d/%d", w, i), []byte("v"), 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	if err := s.Scan("g/", func(string, []byte) error { n++; return nil }); err != nil || n != 16*50 {
		t.Fatalf("%d records, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Put("late", []byte("v"), 0) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a write after Close succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write after Close hangs")
	}
}
