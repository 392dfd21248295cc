package caddyciba

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/caddyciba/gateway/internal/keys"
)

// keysCheckInterval is how often the key ring is read back from the store (to follow
// other instances' rotations) and the rotation schedule checked.
const keysCheckInterval = 10 * time.Second

// keyRetention is how long a superseded key stays published after its successor starts
// to sign: the life of the ID tokens it signed, and a margin for clocks.
func (a *App) keyRetention() time.Duration { return time.Duration(a.AccessTokenTTL) + time.Minute }

// maintainKeys follows the ring in the store and rotates on the schedule, until ctx ends.
func (a *App) maintainKeys(ctx context.Context, ring *keys.Keyring) {
	every := keysCheckInterval
	if r := time.Duration(a.KeyRotation); r > 0 {
		every = min(every, r/2)
	}
	// Instances sharing a store must all publish a new key before any signs with it:
	// each reads the ring again well within the publish lead (the rest is for clocks).
	if lead := time.Duration(a.KeyPublishLead); lead > 0 {
		every = min(every, max(lead/4, 100*time.Millisecond))
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := ring.Reload(); err != nil {
			a.logger.Error("signing keys not reloaded", zap.Error(err))
		}
		if every := time.Duration(a.KeyRotation); every > 0 {
			due := func(newest time.Time) bool { return ring.Now().Sub(newest) >= every }
			if _, err := a.rotateKeys(due); err != nil {
				a.logger.Error("scheduled key rotation failed", zap.Error(err))
			}
		}
	}
}

// rotateKeys makes a new signing key (when due, if due is given) and logs it.
func (a *App) rotateKeys(due func(time.Time) bool) (string, error) {
	rotated, kid, err := a.provider.Keys.Rotate(time.Duration(a.KeyPublishLead), a.keyRetention(), due)
	if rotated && err == nil {
		a.logger.Info("signing key rotated", zap.String("kid", kid), zap.Duration("signs_after", time.Duration(a.KeyPublishLead)))
	}
	return kid, err
}
