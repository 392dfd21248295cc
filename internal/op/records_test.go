package op

import (
	"reflect"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// TestPendingLists: a user's list reads back as written, a user without one has none,
// and the list lives until its last entry expires, counted from the caller's now.
func TestPendingLists(t *testing.T) {
	s := openStore(t)
	wall := time.Now()
	for _, tc := range []struct {
		name    string
		subject string
		list    []pendingEntry
		now     time.Time
		wait    time.Duration
		want    []pendingEntry
	}{
		{"none", "nobody", nil, wall, 0, nil},
		{"read back", "alice", []pendingEntry{{Key: "areq/a", ClientID: "c1", Expires: wall.Add(time.Minute).Unix()},
			{Key: "areq/b", ClientID: "c2", Expires: wall.Add(2 * time.Minute).Unix()}}, wall, 0,
			[]pendingEntry{{Key: "areq/a", ClientID: "c1", Expires: wall.Add(time.Minute).Unix()},
				{Key: "areq/b", ClientID: "c2", Expires: wall.Add(2 * time.Minute).Unix()}}},
		{"gone after its last expiry", "bob", []pendingEntry{{Key: "areq/c", ClientID: "c1", Expires: wall.Add(-time.Hour).Unix()}},
			wall, 2100 * time.Millisecond, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.list != nil {
				if err := s.Update(func(tx store.Txn) error { return userPending.write(tx, tc.subject, tc.list, tc.now) }); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(tc.wait)
			got, err := userPending.read(s, tc.subject)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("read %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
