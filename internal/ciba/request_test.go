package ciba

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
)

func openStore(t *testing.T) store.Store {
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s store.Store, id string, r *Request) {
	if err := s.Update(func(tx store.Txn) error { return Requests{}.Save(tx, Requests{}.Key(id), r, time.Now()) }); err != nil {
		t.Fatal(err)
	}
}

func poll(s store.Store, id, client string, now time.Time) (*Request, error) {
	var got *Request
	var answer *oauth.Error
	err := s.Update(func(tx store.Txn) error {
		var err error
		got, answer, err = Requests{}.Poll(tx, id, client, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if answer != nil {
		return nil, answer
	}
	return got, nil
}

func code(err error) string {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	if err == nil {
		return "tokens"
	}
	return err.Error()
}

// TestPollDecisionTable walks each row of the token endpoint's decision table.
func TestPollDecisionTable(t *testing.T) {
	t0 := time.Now()
	base := func(state State) *Request {
		return &Request{ClientID: "tpp", Subject: "psu", State: state, CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Minute), Interval: 5 * time.Second}
	}
	for _, tc := range []struct {
		name   string
		req    *Request
		client string
		at     time.Duration
		lastAt time.Duration // 0: never polled
		pinged bool
		want   string
	}{
		{"pending", base(Pending), "tpp", time.Second, 0, false, "authorization_pending"},
		{"approved", base(Approved), "tpp", time.Second, 0, false, "tokens"},
		{"denied", base(Denied), "tpp", time.Second, 0, false, "access_denied"},
		{"another client", base(Approved), "other", time.Second, 0, false, "invalid_grant"},
		{"expired, pending", base(Pending), "tpp", 2 * time.Minute, 0, false, "expired_token"},
		{"expired, approved", base(Approved), "tpp", 3 * time.Minute, 0, false, "expired_token"},
		{"redeemed", base(Redeemed), "tpp", time.Second, 0, false, "invalid_grant"},
		{"too fast", base(Pending), "tpp", 10 * time.Second, 7 * time.Second, false, "slow_down"},
		{"too fast, approved", base(Approved), "tpp", 10 * time.Second, 7 * time.Second, false, "slow_down"},
		{"at the interval", base(Pending), "tpp", 10 * time.Second, 5 * time.Second, false, "authorization_pending"},
		{"too fast right after a ping", base(Approved), "tpp", 10 * time.Second, 7 * time.Second, true, "tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			r := tc.req
			if tc.lastAt != 0 {
				r.LastPollAt = t0.Add(tc.lastAt)
			}
			r.Pinged = tc.pinged
			put(t, s, "id-1", r)
			got, err := poll(s, "id-1", tc.client, t0.Add(tc.at))
			if code(err) != tc.want {
				t.Fatalf("got %s, want %s", code(err), tc.want)
			}
			if tc.want == "tokens" && (got == nil || got.State != Redeemed) {
				t.Fatalf("redeemed request %+v", got)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		if _, err := poll(openStore(t), "nope", "tpp", t0); code(err) != "invalid_grant" {
			t.Fatal(code(err))
		}
	})
	t.Run("polls are recorded: the second too soon is slowed down", func(t *testing.T) {
		s := openStore(t)
		put(t, s, "id-1", base(Pending))
		for i, want := range []string{"authorization_pending", "slow_down", "slow_down", "authorization_pending"} {
			at := []time.Duration{time.Second, 2 * time.Second, 6 * time.Second, 12 * time.Second}[i]
			if _, err := poll(s, "id-1", "tpp", t0.Add(at)); code(err) != want {
				t.Fatalf("poll %d: %s, want %s", i, code(err), want)
			}
		}
	})
	t.Run("replay after redemption", func(t *testing.T) {
		s := openStore(t)
		put(t, s, "id-1", base(Approved))
		if _, err := poll(s, "id-1", "tpp", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := poll(s, "id-1", "tpp", t0.Add(time.Minute)); code(err) != "invalid_grant" {
			t.Fatalf("replay: %s", code(err))
		}
	})
}

// TestConcurrentPollsRedeemOnce: 100 polls race on an approved request; exactly one
// gets the request to mint tokens for.
func TestConcurrentPollsRedeemOnce(t *testing.T) {
	for round := range 3 {
		s := openStore(t)
		now := time.Now()
		put(t, s, "id-race", &Request{ClientID: "tpp", State: Approved, CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := poll(s, "id-race", "tpp", now)
				if err == nil && got != nil {
					wins.Add(1)
				} else if c := code(err); c != "invalid_grant" && c != "tokens" {
					t.Errorf("racing poll: %s", c)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d polls redeemed, want 1", round, wins.Load())
		}
	}
}

func newStoreForFuzz(f *testing.F) (store.Store, error) {
	s, err := store.OpenBadger(f.TempDir(), nil)
	if err == nil {
		f.Cleanup(func() { s.Close() })
	}
	return s, err
}
