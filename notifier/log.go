package notifier

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Log records that a request awaits the user. It never logs the device token; the device
// link (which embeds the page's token) and the decision URL only with ShowLinks, for local
// demos where the log is the phone: the two are all the decision API needs (the link's
// token as Bearer token, and the user's password). Logger is Caddy's (ciba.notifier).
type Log struct {
	Logger    *zap.Logger
	ShowLinks bool
}

// Name implements Channel.
func (l *Log) Name() string { return "log" }

// Notify implements Channel.
func (l *Log) Notify(ctx context.Context, n *Notification) error {
	fields := []zap.Field{
		zap.String("request", n.ID),
		zap.String("client_id", n.ClientID),
		zap.String("consent_id", n.Consent.ConsentID),
		zap.Time("expires_at", n.ExpiresAt),
	}
	if l.ShowLinks {
		fields = append(fields, zap.String("device_url", n.DeviceURL),
			zap.String("decision_url", n.DecisionURL), zap.String("binding_message", n.BindingMessage))
	}
	l.Logger.Info("authentication request awaits the user", fields...)
	return nil
}

// Attempt implements Attempter: logging does not fail.
func (l *Log) Attempt(ctx context.Context, n *Notification) (bool, error) {
	return false, l.Notify(ctx, n)
}

// Backoff implements Attempter; a log line is never retried.
func (l *Log) Backoff(int) time.Duration { return time.Second }

var _ Attempter = (*Log)(nil)
