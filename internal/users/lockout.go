package users

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// Lockout stops password guessing wherever a user's password is checked (the approval
// page, user_code at /bc-authorize): at most Attempts passwords are checked for a user
// before the password is refused for Duration, whatever is typed. The count lives in the
// store, so every gateway instance and a restart see it.
//
// An attempt is counted before its password is checked, in the same store transaction
// that reads the lock, so concurrent guesses cannot all slip past a lock that none of
// them has set yet: of any number of guesses sent at once, at most Attempts reach bcrypt.
// A right password takes back only its own count, never the counts of other attempts,
// which may be guesses still in flight; the count fades Duration after the last attempt.
type Lockout struct {
	Attempts int
	Duration time.Duration
}

// Lockout defaults: five tries, a quarter of an hour.
const (
	DefaultLockoutAttempts = 5
	DefaultLockoutDuration = 15 * time.Minute
)

// LockedError refuses every password until Until.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return "users: too many wrong passwords; the password is locked until " + e.Until.UTC().Format(time.RFC3339)
}

// lockRecord is a user's count. Window names the count's run (when its first attempt was
// counted), so an attempt that ends after the run was reset does not touch the next run.
type lockRecord struct {
	Failures int       `json:"f"`
	Window   int64     `json:"w,omitempty"`
	Until    time.Time `json:"u,omitempty"`
}

// lockRecords keeps each user's count under "pwlock/<subject>", as JSON, for the lock's
// Duration after its last write. Its keys are built nowhere else.
type lockRecords struct{}

func lockKey(subject string) string { return "pwlock/" + subject }

// get is the user's count; an empty one when none is kept.
func (lockRecords) get(r store.Reader, subject string) (lockRecord, error) {
	var rec lockRecord
	buf, err := r.Get(lockKey(subject))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return rec, nil
	case err != nil:
		return rec, err
	}
	return rec, json.Unmarshal(buf, &rec)
}

func (lockRecords) put(t store.Txn, subject string, rec lockRecord, keep time.Duration) error {
	buf, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return t.Put(lockKey(subject), buf, keep)
}

func (lockRecords) delete(t store.Txn, subject string) error { return t.Delete(lockKey(subject)) }

var locks lockRecords

// Verdict is the outcome of a password check under the lockout.
type Verdict struct {
	// OK is a right password.
	OK bool
	// Left is, after a wrong password, how many more may be tried before the lock (0 once
	// locked).
	Left int
}

// Check tries password as u's under the lockout: a locked user gets *LockedError and no
// check at all; otherwise the attempt is counted, then the password checked. A user
// without a password has nothing to guess and nothing is counted.
func (l Lockout) Check(s store.Store, u *User, password string, now time.Time) (Verdict, error) {
	if u.PasswordHash == "" {
		return Verdict{}, nil
	}
	n, window, err := l.reserve(s, u.Subject, now)
	if err != nil {
		return Verdict{}, err
	}
	if !u.CheckPassword(password) {
		return Verdict{Left: max(l.Attempts-n, 0)}, nil
	}
	return Verdict{OK: true}, l.release(s, u.Subject, window)
}

// reserve counts one attempt for subject, unless the password is locked, and returns its
// place in the run. The attempt that reaches Attempts sets the lock itself, so no later
// attempt is counted or checked, however close behind it comes.
func (l Lockout) reserve(s store.Store, subject string, now time.Time) (n int, window int64, err error) {
	err = s.Update(func(t store.Txn) error {
		rec, err := locks.get(t, subject)
		if err != nil {
			return err
		}
		switch {
		case now.Before(rec.Until):
			return &LockedError{Until: rec.Until}
		case !rec.Until.IsZero():
			// The lock is over: a new run.
			rec = lockRecord{}
		}
		if rec.Failures == 0 {
			rec.Window = now.UnixNano()
		}
		rec.Failures++
		if rec.Failures >= l.Attempts {
			rec.Until = now.Add(l.Duration)
		}
		n, window = rec.Failures, rec.Window
		return locks.put(t, subject, rec, l.Duration)
	})
	return n, window, err
}

// release takes back one counted attempt of the run window after a right password. A lock
// holds while Attempts attempts other than this one are counted; this one's own count
// never keeps a lock, so at most Attempts wrong passwords are checked in a run.
func (l Lockout) release(s store.Store, subject string, window int64) error {
	return s.Update(func(t store.Txn) error {
		rec, err := locks.get(t, subject)
		if err != nil || rec.Window != window || rec.Failures == 0 {
			return err
		}
		rec.Failures--
		if rec.Failures < l.Attempts {
			rec.Until = time.Time{}
		}
		if rec.Failures == 0 {
			return locks.delete(t, subject)
		}
		return locks.put(t, subject, rec, l.Duration)
	})
}

// LockedUntil is the end of the user's lock, or the zero time when the password may be
// tried; for showing, the check itself is Check's.
func (l Lockout) LockedUntil(r store.Reader, subject string, now time.Time) (time.Time, error) {
	rec, err := locks.get(r, subject)
	if err != nil || !now.Before(rec.Until) {
		return time.Time{}, err
	}
	return rec.Until, nil
}

// Counted is how many attempts of the user's current run are counted.
func (l Lockout) Counted(r store.Reader, subject string) (int, error) {
	rec, err := locks.get(r, subject)
	return rec.Failures, err
}
