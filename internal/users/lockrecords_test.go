package users

import (
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// TestLockRecords: a count reads back for its user only, none reads as an empty count,
// and a deleted one is gone.
func TestLockRecords(t *testing.T) {
	s := openStore(t, t.TempDir())
	until := time.Unix(1_800_000_000, 0)
	if err := s.Update(func(tx store.Txn) error {
		return locks.put(tx, "alice", lockRecord{Failures: 3, Window: 7, Until: until}, time.Minute)
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, subject string
		del           bool
		want          lockRecord
	}{
		{"its user", "alice", false, lockRecord{Failures: 3, Window: 7, Until: until}},
		{"another user", "bob", false, lockRecord{}},
		{"deleted", "alice", true, lockRecord{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.del {
				if err := s.Update(func(tx store.Txn) error { return locks.delete(tx, tc.subject) }); err != nil {
					t.Fatal(err)
				}
			}
			got, err := locks.get(s, tc.subject)
			if err != nil || got.Failures != tc.want.Failures || got.Window != tc.want.Window || !got.Until.Equal(tc.want.Until) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
