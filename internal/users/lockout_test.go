package users

import (
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddyciba/gateway/internal/store"
)

func openStore(t *testing.T, dir string) *store.Badger {
	t.Helper()
	s, err := store.OpenBadger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func userWith(t *testing.T, subject, password string) *User {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return &User{Subject: subject, PasswordHash: string(hash)}
}

// TestLockout: wrong passwords count down to a lock that holds for Duration even for the
// right password, per user, across a reopened store; after the lock a new run starts; a
// right password takes back only its own count; a user without a password counts nothing.
func TestLockout(t *testing.T) {
	// Not parallel: it counts bcrypt checks with the package-wide PasswordChecks.
	dir := t.TempDir()
	s := openStore(t, dir)
	l := Lockout{Attempts: 3, Duration: time.Minute}
	alice, bob := userWith(t, "sub-a", "right"), userWith(t, "sub-b", "right")
	now := time.Now()

	for _, step := range []struct {
		password string
		ok       bool
		left     int
	}{
		{"wrong-1", false, 2},
		{"right", true, 0}, // takes back its own count only: one wrong stays counted
		{"wrong-2", false, 1},
		{"wrong-3", false, 0},
	} {
		v, err := l.Check(s, alice, step.password, now)
		if err != nil || v.OK != step.ok || (!v.OK && v.Left != step.left) {
			t.Fatalf("%s: %+v %v, want ok %v left %d", step.password, v, err, step.ok, step.left)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()

	var locked *LockedError
	if _, err := l.Check(s, alice, "right", now.Add(30*time.Second)); !errors.As(err, &locked) || !locked.Until.Equal(now.Add(time.Minute)) {
		t.Fatalf("right password while locked: %v", err)
	}
	if until, err := l.LockedUntil(s, "sub-a", now.Add(30*time.Second)); err != nil || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("locked until %v, %v", until, err)
	}
	if v, err := l.Check(s, bob, "right", now); err != nil || !v.OK {
		t.Fatalf("another user is locked too: %+v %v", v, err)
	}
	// After the lock ends, counting starts again.
	if v, err := l.Check(s, alice, "wrong", now.Add(time.Minute)); err != nil || v.OK || v.Left != 2 {
		t.Fatalf("after the lock: %+v %v", v, err)
	}
	if v, err := l.Check(s, alice, "right", now.Add(time.Minute)); err != nil || !v.OK {
		t.Fatalf("right password after the lock: %+v %v", v, err)
	}
	if n, err := l.Counted(s, "sub-a"); err != nil || n != 1 {
		t.Fatalf("counted %d, %v; want the one wrong password", n, err)
	}

	// The attempt that sets the lock, when right, does not keep it.
	carol := userWith(t, "sub-c", "right")
	for _, pw := range []string{"w1", "w2", "right"} {
		if _, err := l.Check(s, carol, pw, now); err != nil {
			t.Fatal(err)
		}
	}
	if until, _ := l.LockedUntil(s, "sub-c", now); !until.IsZero() {
		t.Fatal("a right third password locked the user")
	}
	if v, err := l.Check(s, carol, "w3", now); err != nil || v.Left != 0 {
		t.Fatalf("third wrong password: %+v %v", v, err)
	}
	if _, err := l.Check(s, carol, "right", now); !errors.As(err, &locked) {
		t.Fatalf("not locked after three wrong passwords: %v", err)
	}

	before := PasswordChecks()
	dave := &User{Subject: "sub-d"}
	for range 5 {
		if v, err := l.Check(s, dave, "anything", now); err != nil || v.OK {
			t.Fatalf("user without a password: %+v %v", v, err)
		}
	}
	if n, _ := l.Counted(s, "sub-d"); n != 0 || PasswordChecks() != before {
		t.Fatalf("a user without a password was counted (%d) or checked", n)
	}
}

// TestLockoutConcurrent: of many guesses sent at once, at most Attempts reach bcrypt, the
// rest are refused as locked, and the right password afterwards is refused too — with a
// right guess among the concurrent ones or not.
func TestLockoutConcurrent(t *testing.T) {
	// Not parallel: it counts bcrypt checks with the package-wide PasswordChecks.
	const attempts, guesses = 5, 50
	for _, tc := range []struct {
		name      string
		withRight bool
	}{
		{"all wrong", false},
		{"one right among them", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			defer s.Close()
			l := Lockout{Attempts: attempts, Duration: time.Minute}
			u := userWith(t, "sub-a", "right")
			now := time.Now()
			before := PasswordChecks()
			var mu sync.Mutex
			var wrong, right, locked int
			var wg sync.WaitGroup
			for i := range guesses {
				pw := "wrong"
				if tc.withRight && i == guesses/2 {
					pw = "right"
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					v, err := l.Check(s, u, pw, now)
					mu.Lock()
					defer mu.Unlock()
					var le *LockedError
					switch {
					case errors.As(err, &le):
						locked++
					case err != nil:
						t.Errorf("check: %v", err)
					case v.OK:
						right++
					default:
						wrong++
					}
				}()
			}
			wg.Wait()
			checked := PasswordChecks() - before
			if checked > attempts+int64(right) || int64(wrong+right) != checked || wrong+right+locked != guesses || wrong > attempts {
				t.Fatalf("%d bcrypt checks: %d wrong, %d right, %d locked; limit %d", checked, wrong, right, locked, attempts)
			}
			if !tc.withRight && wrong != attempts {
				t.Fatalf("%d wrong passwords checked, want exactly %d", wrong, attempts)
			}
			if n, err := l.Counted(s, "sub-a"); err != nil || n != attempts {
				t.Fatalf("counted %d, %v; want %d", n, err, attempts)
			}
			var le *LockedError
			if _, err := l.Check(s, u, "right", now); !errors.As(err, &le) {
				t.Fatalf("the right password after the flood: %v", err)
			}
		})
	}
}
