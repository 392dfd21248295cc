package notifier

import (
	"context"
	"log/slog"
	"time"
)

// Log records that a request awaits the user. It never logs the device token; the device
// link (which embeds the page's token) and the decision URL only with ShowLinks, for local
// demos where the log is the phone: the two are all the decision API needs (the link's
// token as Bearer token, and the user's password).
type Log struct {
	Logger    *slog.Logger
	ShowLinks bool
}

// Name implements Channel.
func (l *Log) Name() string { return "log" }

// Notify implements Channel.
func (l *Log) Notify(ctx context.Context, n *Notification) error {
	attrs := []slog.Attr{
		slog.String("request", n.ID),
		slog.String("client_id", n.ClientID),
		slog.String("consent_id", n.Consent.ConsentID),
		slog.Time("expires_at", n.ExpiresAt),
	}
	if l.ShowLinks {
		attrs = append(attrs, slog.String("device_url", n.DeviceURL),
			slog.String("decision_url", n.DecisionURL), slog.String("binding_message", n.BindingMessage))
	}
	l.Logger.LogAttrs(ctx, slog.LevelInfo, "authentication request awaits the user", attrs...)
	return nil
}

// Attempt implements Attempter: logging does not fail.
func (l *Log) Attempt(ctx context.Context, n *Notification) (bool, error) {
	return false, l.Notify(ctx, n)
}

// Backoff implements Attempter; a log line is never retried.
func (l *Log) Backoff(int) time.Duration { return time.Second }

var _ Attempter = (*Log)(nil)
