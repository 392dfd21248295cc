package users

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// Lockout stops password guessing on the approval page: after Attempts wrong passwords in
// a row, a user's password is refused for Duration, whatever is typed. The count lives in
// the store, so every gateway instance and a restart see it.
type Lockout struct {
	Attempts int
	Duration time.Duration
}

// Lockout defaults: five tries, a quarter of an hour.
const (
	DefaultLockoutAttempts = 5
	DefaultLockoutDuration = 15 * time.Minute
)

// ErrLocked is returned while a user's password is locked.
var ErrLocked = errors.New("users: too many wrong passwords; the password is locked for now")

type lockRecord struct {
	Failures int       `json:"f"`
	Until    time.Time `json:"u,omitempty"`
}

func lockKey(subject string) string { return "pwlock/" + subject }

func readLock(r store.Reader, subject string) (lockRecord, error) {
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

// LockedUntil is the end of the user's lock, or the zero time when the password may be tried.
func (l Lockout) LockedUntil(r store.Reader, subject string, now time.Time) (time.Time, error) {
	rec, err := readLock(r, subject)
	if err != nil || !now.Before(rec.Until) {
		return time.Time{}, err
	}
	return rec.Until, nil
}

// Fail counts a wrong password and tells how many tries are left (0 once locked). The
// count fades Duration after the last failure.
func (l Lockout) Fail(s store.Store, subject string, now time.Time) (left int, err error) {
	err = s.Update(func(t store.Txn) error {
		rec, err := readLock(t, subject)
		if err != nil {
			return err
		}
		if !rec.Until.IsZero() && !now.Before(rec.Until) {
			rec = lockRecord{}
		}
		rec.Failures++
		left = max(l.Attempts-rec.Failures, 0)
		if left == 0 {
			rec.Until = now.Add(l.Duration)
		}
		buf, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return t.Put(lockKey(subject), buf, l.Duration)
	})
	return left, err
}

// Clear forgets the failures after a right password.
func (l Lockout) Clear(s store.Store, subject string) error {
	if _, err := s.Get(lockKey(subject)); errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return s.Delete(lockKey(subject))
}
