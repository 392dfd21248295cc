// Package backoff is the jittered exponential backoff every retry in the gateway waits by:
// notification deliveries and the stores' transactions that lost a race.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Wait is the wait after the given failed attempt (1 for the first): first, doubling up
// to most, each wait drawn at random from its upper half so that callers that failed
// together do not retry in lockstep.
func Wait(first, most time.Duration, attempt int) time.Duration {
	wait := first
	for i := 1; i < attempt && wait < most; i++ {
		wait *= 2
	}
	wait = min(wait, most)
	return wait/2 + rand.N(wait/2+1)
}
