package store

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// TestMemLogsFollowRotation writes enough to make Badger replace and flush memtables
// several times: after every acknowledged write, the log the sync tracks is the newest
// one on disk, whatever was created or deleted since the last sync.
func TestMemLogsFollowRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := OpenBadger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	val := make([]byte, 48<<10) // below largeValue: the memtable logs alone hold it
	seen := map[string]bool{}
	for i := range 1200 { // ~56 MiB: several 16 MiB memtables
		if err := s.Put(fmt.Sprint("k", i), val, time.Hour); err != nil {
			t.Fatal(err)
		}
		names, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
		sort.Strings(names)
		newest := names[len(names)-1]
		seen[newest] = true
		m := &s.synced.logs
		m.mu.Lock()
		tracked, open := m.path(m.fid), m.newest != nil
		m.mu.Unlock()
		if tracked != newest || !open {
			t.Fatalf("after write %d the sync tracks %s (open %v), the newest log is %s", i, tracked, open, newest)
		}
	}
	if len(seen) < 3 {
		t.Fatalf("only %d memtable logs were made; the test did not rotate", len(seen))
	}
}

// TestLargeValueSyncsValueLog: a value that may go to Badger's value log marks the next
// sync to flush the value log too, before its transaction commits; a small one does not.
func TestLargeValueSyncsValueLog(t *testing.T) {
	t.Parallel()
	s, err := OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		size int
		want bool
	}{{largeValue - 1, false}, {largeValue, true}, {2 << 20, true}} {
		var marked bool
		err := s.Update(func(tx Txn) error {
			err := tx.Put(fmt.Sprint("v", tc.size), make([]byte, tc.size), 0)
			marked = s.synced.valueLog.Load()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if marked != tc.want {
			t.Errorf("a %d-byte value marked the value log: %v, want %v", tc.size, marked, tc.want)
		}
		if s.synced.valueLog.Load() {
			t.Errorf("the mark outlived the sync after a %d-byte value", tc.size)
		}
	}
}
