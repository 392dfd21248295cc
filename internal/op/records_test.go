package op

import (
	"errors"
	"reflect"
	"strings"
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

// TestAccessSessions: a session reads back by its cookie only, the store never holds the
// cookie, and ending one (twice) leaves none.
func TestAccessSessions(t *testing.T) {
	s := openStore(t)
	seen := time.Now().Truncate(time.Second)
	if err := sessions.put(s, "cookie-1", &accessSession{Subject: "alice", CSRF: "x", Seen: seen}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if buf, err := s.Get(sessionKey("cookie-1")); err != nil || strings.Contains(sessionKey("cookie-1")+string(buf), "cookie-1") {
		t.Fatalf("stored under %q: %v", sessionKey("cookie-1"), err)
	}
	for _, tc := range []struct {
		name, cookie string
		end          int
		want         *accessSession
	}{
		{"its cookie", "cookie-1", 0, &accessSession{Subject: "alice", CSRF: "x", Seen: seen}},
		{"another cookie", "cookie-2", 0, nil},
		{"ended twice", "cookie-1", 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range tc.end {
				if err := sessions.end(s, tc.cookie); err != nil {
					t.Fatal(err)
				}
			}
			got, err := sessions.get(s, tc.cookie)
			if tc.want == nil && !errors.Is(err, store.ErrNotFound) || tc.want != nil && (err != nil || !got.Seen.Equal(tc.want.Seen) || got.Subject != tc.want.Subject) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestConsentUses: the last use reads back to the second; none is ErrNotFound.
func TestConsentUses(t *testing.T) {
	s := openStore(t)
	at := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name, consent string
		note          []time.Time
		want          time.Time
	}{
		{"never used", "aac-0", nil, time.Time{}},
		{"used", "aac-1", []time.Time{at}, at},
		{"the latest note wins", "aac-2", []time.Time{at, at.Add(time.Minute)}, at.Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range tc.note {
				if err := uses.note(s, tc.consent, n); err != nil {
					t.Fatal(err)
				}
			}
			got, err := uses.last(s, tc.consent)
			if tc.want.IsZero() && !errors.Is(err, store.ErrNotFound) || !tc.want.IsZero() && (err != nil || !got.Equal(tc.want)) {
				t.Fatalf("last use %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestDeliveryRecords walks a record through the queue's states: due in order, expired
// met on the way, claimed once, rescheduled only while leased.
func TestDeliveryRecords(t *testing.T) {
	s := openStore(t)
	now := time.Now()
	put := func(id string, due, expires time.Time) {
		if err := deliveries.put(s, &delivery{ID: id, Kind: kindDevice, Expires: expires}, due, now); err != nil {
			t.Fatal(err)
		}
	}
	put("late", now.Add(time.Minute), now.Add(time.Hour))
	put("second", now.Add(-time.Second), now.Add(time.Hour))
	put("first", now.Add(-2*time.Second), now.Add(time.Hour))
	put("expired", now.Add(-3*time.Second), now.Add(-time.Millisecond))

	due, expired, next, err := deliveries.scanDue(s, now, 16)
	if err != nil || len(due) != 2 || len(expired) != 1 || !next.Equal(time.Unix(0, now.Add(time.Minute).UnixNano())) {
		t.Fatalf("due %q expired %q next %v: %v", due, expired, next, err)
	}
	if !strings.HasSuffix(due[0], "/first") || !strings.HasSuffix(due[1], "/second") {
		t.Fatalf("due out of order: %q", due)
	}
	if gone, err := deliveries.dropExpired(s, expired, now); err != nil || len(gone) != 1 || gone[0].ID != "expired" {
		t.Fatalf("dropped %+v: %v", gone, err)
	}

	d, leased, exp, err := deliveries.claim(s, due[0], now)
	if err != nil || d == nil || d.ID != "first" || exp || leased == "" {
		t.Fatalf("claim: %+v %q %v %v", d, leased, exp, err)
	}
	for _, tc := range []struct {
		name   string
		key    string
		wantID string
	}{
		{"claimed twice", due[0], ""},
		{"unknown", deliveryKey(now, "nope"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, leased, _, err := deliveries.claim(s, tc.key, now)
			if err != nil || d != nil || leased != "" {
				t.Fatalf("claim: %+v %q %v", d, leased, err)
			}
		})
	}
	d.Attempts++
	if err := deliveries.reschedule(s, leased, d, now.Add(time.Second), now); err != nil {
		t.Fatal(err)
	}
	if err := deliveries.reschedule(s, leased, d, now.Add(time.Second), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reschedule without the lease: %v", err)
	}
	key, err := deliveries.sealingKey(s)
	if again, err2 := deliveries.sealingKey(s); err != nil || err2 != nil || len(key) != 32 || string(again) != string(key) {
		t.Fatalf("sealing key %x then %x: %v %v", key, again, err, err2)
	}
}
