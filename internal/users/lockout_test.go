package users

import (
	"errors"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// TestLockout: the count of wrong passwords locks after Attempts, holds for Duration, is
// per user, survives a reopened store, and a right password clears it.
func TestLockout(t *testing.T) {
	dir := t.TempDir()
	s, err := store.OpenBadger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := Lockout{Attempts: 3, Duration: time.Minute}
	now := time.Now()
	for want := 2; want >= 0; want-- {
		left, err := l.Fail(s, "sub-a", now)
		if err != nil || left != want {
			t.Fatalf("fail: left %d, %v; want %d", left, err, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = store.OpenBadger(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	until, err := l.LockedUntil(s, "sub-a", now.Add(30*time.Second))
	if err != nil || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("locked until %v, %v", until, err)
	}
	if until, _ := l.LockedUntil(s, "sub-b", now); !until.IsZero() {
		t.Fatal("another user is locked too")
	}
	if until, _ := l.LockedUntil(s, "sub-a", now.Add(time.Minute)); !until.IsZero() {
		t.Fatal("the lock outlived its duration")
	}
	// After the lock ends, counting starts again.
	if left, _ := l.Fail(s, "sub-a", now.Add(time.Minute)); left != 2 {
		t.Fatalf("after the lock: %d left", left)
	}
	if err := l.Clear(s, "sub-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(lockKey("sub-a")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cleared lock still stored: %v", err)
	}
}

func TestMailAddress(t *testing.T) {
	for _, tc := range []struct {
		user User
		want string
	}{
		{User{Email: "a@bank.example", LoginHints: []string{"b@example.com"}}, "a@bank.example"},
		{User{LoginHints: []string{"alice", "+447700900001", "alice@example.com"}}, "alice@example.com"},
		{User{LoginHints: []string{"alice"}}, ""},
	} {
		if got := tc.user.MailAddress(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.user.LoginHints, got, tc.want)
		}
	}
}
