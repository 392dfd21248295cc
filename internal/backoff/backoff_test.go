package backoff

import (
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	tests := []struct {
		first, most time.Duration
		attempt     int
		ceiling     time.Duration // the wait before jitter
	}{
		{time.Second, 30 * time.Second, 1, time.Second},
		{time.Second, 30 * time.Second, 2, 2 * time.Second},
		{time.Second, 30 * time.Second, 5, 16 * time.Second},
		{time.Second, 30 * time.Second, 6, 30 * time.Second},
		{time.Second, 30 * time.Second, 1000, 30 * time.Second},
		{50 * time.Microsecond, 10 * time.Millisecond, 3, 200 * time.Microsecond},
		{time.Second, time.Second, 1, time.Second},
		{0, 0, 3, 0},
	}
	for _, tt := range tests {
		for range 200 {
			got := Wait(tt.first, tt.most, tt.attempt)
			if got < tt.ceiling/2 || got > tt.ceiling {
				t.Fatalf("Wait(%v, %v, %d) = %v, want within [%v, %v]", tt.first, tt.most, tt.attempt, got, tt.ceiling/2, tt.ceiling)
			}
		}
	}
}

// TestWaitJitters: waits of one attempt are spread, not one value.
func TestWaitJitters(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[Wait(time.Second, time.Minute, 3)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("100 waits took %d values", len(seen))
	}
}
