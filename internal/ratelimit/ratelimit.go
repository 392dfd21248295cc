// Package ratelimit counts requests per key with a token bucket kept in the store, so every
// instance sharing the store (the PostgreSQL backend) draws from the same bucket.
package ratelimit

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// Rate is a sustained rate of Events per Per, with bursts of up to Burst events.
type Rate struct {
	Events int
	Per    time.Duration
	Burst  int
}

// maxEvents bounds what a rate can name; more is no limit at all.
const maxEvents = 1_000_000

// Parse reads "<n>/s" or "<n>/m"; burst 0 means n.
func Parse(rate string, burst int) (Rate, error) {
	num, unit, ok := strings.Cut(rate, "/")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n <= 0 || n > maxEvents {
		return Rate{}, fmt.Errorf("rate %q is not <n>/s or <n>/m with n between 1 and %d", rate, maxEvents)
	}
	r := Rate{Events: n, Burst: burst}
	switch unit {
	case "s":
		r.Per = time.Second
	case "m":
		r.Per = time.Minute
	default:
		return Rate{}, fmt.Errorf("rate %q: the unit is s or m", rate)
	}
	if burst < 0 || burst > maxEvents {
		return Rate{}, fmt.Errorf("burst %d is not between 1 and %d", burst, maxEvents)
	}
	if r.Burst == 0 {
		r.Burst = n
	}
	return r, nil
}

// String is the Caddyfile form.
func (r Rate) String() string {
	unit := "s"
	if r.Per == time.Minute {
		unit = "m"
	}
	return fmt.Sprintf("%d/%s burst %d", r.Events, unit, r.Burst)
}

// bucket is the stored state, kept the GCRA way (the token bucket's equivalent in one
// integer): TAT is the time at which the bucket would be full again.
type bucket struct {
	TAT int64 `json:"tat"`
}

// interval is the time one event's token takes to come back.
func (r Rate) interval() time.Duration { return r.Per / time.Duration(r.Events) }

// take takes one token from b at now; when there is none, wait is how long until there is.
func (r Rate) take(b bucket, now time.Time) (next bucket, ok bool, wait time.Duration) {
	t := r.interval()
	tat := max(b.TAT, now.UnixNano())
	newTAT := tat + int64(t)
	if over := time.Duration(newTAT-now.UnixNano()) - t*time.Duration(r.Burst); over > 0 {
		return b, false, over
	}
	return bucket{TAT: newTAT}, true, 0
}

// Limiter keeps the buckets in a store under prefix+key.
type Limiter struct {
	Store  store.Store
	Prefix string
	// emptyUntil remembers, per key, when a refused bucket has a token again. Other
	// instances only take tokens, never add them, so until then the answer is a refusal
	// without asking the store: a flood over the limit costs no store transaction.
	emptyUntil sync.Map
}

// Allow takes one event from key's bucket in one store transaction. When the bucket is
// empty it returns false and how long until the next event is allowed. A store error
// is returned as is: the caller refuses the request.
func (l *Limiter) Allow(key string, r Rate, now time.Time) (bool, time.Duration, error) {
	if r.Events <= 0 || r.Per <= 0 || r.Burst <= 0 {
		return false, 0, errors.New("ratelimit: rate not set")
	}
	if v, found := l.emptyUntil.Load(key); found {
		if until := v.(int64); now.UnixNano() < until {
			return false, time.Duration(until - now.UnixNano()), nil
		}
	}
	var ok bool
	var wait time.Duration
	err := l.Store.Update(func(t store.Txn) error {
		var b bucket
		val, err := t.Get(l.Prefix + key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if json.Unmarshal(val, &b) != nil {
				// Unreadable: counted as empty, full again after one burst.
				b = bucket{TAT: now.Add(r.interval() * time.Duration(r.Burst)).UnixNano()}
			}
		}
		var next bucket
		if next, ok, wait = r.take(b, now); !ok {
			// A refusal changes nothing worth a write: the refill counts from the stored time.
			return nil
		}
		buf, err := json.Marshal(next)
		if err != nil {
			return err
		}
		// Once full again the record says nothing a missing one does not.
		return t.Put(l.Prefix+key, buf, time.Duration(next.TAT-now.UnixNano())+time.Second)
	})
	if err == nil && !ok {
		l.emptyUntil.Store(key, now.Add(wait).UnixNano())
	}
	return ok, wait, err
}

// RetryAfter is wait as a Retry-After value: whole seconds, at least 1.
func RetryAfter(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
