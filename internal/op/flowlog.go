package op

import (
	"context"
	"log/slog"

	"github.com/caddyciba/gateway/internal/oauth"
)

type interactionKey struct{}

// WithInteraction carries the call's x-fapi-interaction-id to the flow's log lines.
func WithInteraction(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, interactionKey{}, id)
}

func interactionOf(ctx context.Context) string {
	id, _ := ctx.Value(interactionKey{}).(string)
	return id
}

// logStep writes the one line of a flow step: the step, the interaction id, the client,
// the consent and the outcome ("ok" or the error code). Never a token, a secret, a device
// link or a password: callers pass only these fields.
func (p *Provider) logStep(ctx context.Context, step, clientID, consentID, outcome string, extra ...slog.Attr) {
	level := slog.LevelInfo
	if outcome != "ok" {
		level = slog.LevelWarn
	}
	attrs := append([]slog.Attr{
		slog.String("step", step),
		slog.String("interaction_id", interactionOf(ctx)),
		slog.String("client_id", clientID),
		slog.String("consent_id", consentID),
		slog.String("outcome", outcome),
	}, extra...)
	p.Log.LogAttrs(ctx, level, "ciba flow step", attrs...)
}

// outcomeOf is "ok" or the OAuth error code of err.
func outcomeOf(err error) string {
	if err == nil {
		return "ok"
	}
	return oauth.AsError(err).Code
}
