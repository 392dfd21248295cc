package op

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/store"
)

// TestPendingSlots: a user holds at most MaxPendingPerUser live requests, one client at
// most half of them (rounded up); a decided or expired request stops counting.
func TestPendingSlots(t *testing.T) {
	p := fuzzProvider(t)
	p.MaxPendingPerUser = 5
	now := time.Now()
	n := 0
	// take stores a request of client for alice at time at, as start does.
	take := func(client string, at time.Time, ttl time.Duration) (string, error) {
		n++
		key := requests.Key(fmt.Sprintf("req-%d", n))
		req := &ciba.Request{ClientID: client, Subject: "sub-alice", State: ciba.Pending, CreatedAt: at, ExpiresAt: at.Add(ttl)}
		return key, p.Store.Update(func(t store.Txn) error {
			if err := p.holdPendingSlot(t, req, key, at); err != nil {
				return err
			}
			return requests.Save(t, key, req, at)
		})
	}
	var keys []string
	for _, step := range []struct {
		client string
		at     time.Duration
		ttl    time.Duration
		full   bool
	}{
		{"a", 0, time.Minute, false},
		{"a", 0, time.Minute, false},
		{"a", 0, 10 * time.Second, false},
		{"a", 0, time.Minute, true}, // a's share is 3
		{"b", 0, time.Minute, false},
		{"b", 0, time.Minute, false},
		{"c", 0, time.Minute, true},                 // alice holds 5
		{"c", 11 * time.Second, time.Minute, false}, // a's third expired
		{"a", 11 * time.Second, time.Minute, true},
	} {
		key, err := take(step.client, now.Add(step.at), step.ttl)
		if full := errors.Is(err, errTooManyPending); full != step.full || (err != nil && !full) {
			t.Fatalf("request %d of %s: %v, want full %v", n, step.client, err, step.full)
		}
		if err == nil {
			keys = append(keys, key)
		}
	}
	// Denying a's first request frees a slot for a.
	err := p.Store.Update(func(t store.Txn) error {
		r, err := requests.Load(t, keys[0])
		if err != nil {
			return err
		}
		r.State = ciba.Denied
		return requests.Save(t, keys[0], r, now)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := take("a", now.Add(12*time.Second), time.Minute); err != nil {
		t.Fatalf("after a decision: %v", err)
	}
	if _, err := take("b", now.Add(12*time.Second), time.Minute); !errors.Is(err, errTooManyPending) {
		t.Fatalf("sixth live request: %v", err)
	}
}
