package op

import (
	"context"
	"errors"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/obie"
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

// UseLogger sets the logger the provider writes under (Caddy's "ciba" logger): the flow's
// steps under its child "flow", the delivery queue under "delivery". Call it before
// serving.
func (p *Provider) UseLogger(l *zap.Logger) {
	p.flowLog = l.Named("flow")
	p.deliveryLog = l.Named("delivery")
}

// logStep writes the one line of a flow step: the step, the interaction id, the client,
// the consent and the outcome ("ok" or the error code of err), at info when it went
// through, warn when the caller was refused, error with err's cause when the server failed.
// It is the only log line of the step's error. Never a token, a secret, a device link or a
// password: callers pass only these fields, and a cause is a storage or signing failure.
func (p *Provider) logStep(ctx context.Context, step, clientID, consentID string, err error, extra ...zap.Field) {
	level, outcome := zapcore.InfoLevel, "ok"
	if err != nil {
		level, outcome = levelOf(err), outcomeOf(err)
		if level == zapcore.ErrorLevel {
			extra = append(extra, zap.Error(err))
		}
	}
	p.logOutcome(ctx, level, step, clientID, consentID, outcome, extra...)
}

// logOutcome writes a flow step's line with an outcome of the step's own words.
func (p *Provider) logOutcome(ctx context.Context, level zapcore.Level, step, clientID, consentID, outcome string, extra ...zap.Field) {
	ce := p.flowLog.Check(level, "ciba flow step")
	if ce == nil {
		return
	}
	fields := append([]zap.Field{
		zap.String("step", step),
		zap.String("interaction_id", interactionOf(ctx)),
		zap.String("client_id", clientID),
		zap.String("consent_id", consentID),
		zap.String("outcome", outcome),
	}, extra...)
	ce.Write(fields...)
}

// logFailure logs, once and with its cause, an error answer of an endpoint that has no
// flow step, when the server is at fault; the caller's own mistakes are not logged there.
func (p *Provider) logFailure(ctx context.Context, endpoint string, err error) {
	if err == nil || levelOf(err) != zapcore.ErrorLevel {
		return
	}
	p.flowLog.Error("request failed", zap.String("endpoint", endpoint),
		zap.String("interaction_id", interactionOf(ctx)), zap.Error(err))
}

// outcomeOf is the protocol code of err: the OAuth error code, the Open Banking item's
// code, or server_error for an error that is neither.
func outcomeOf(err error) string {
	if err == nil {
		return "ok"
	}
	if oe, ok := errors.AsType[*oauth.Error](err); ok {
		return oe.Code
	}
	if oe, ok := errors.AsType[*obie.Error](err); ok {
		if oe.Code() == "" {
			return "unauthorized" // a 401: the challenge is its only word
		}
		return oe.Code()
	}
	return "server_error"
}

// levelOf is the level err is logged at: error for a 5xx (or an error that carries no
// status), warn for the caller's mistakes.
func levelOf(err error) zapcore.Level {
	status := 500
	if oe, ok := errors.AsType[*oauth.Error](err); ok {
		status = oe.Status
	} else if oe, ok := errors.AsType[*obie.Error](err); ok {
		status = oe.Status
	}
	if status >= 500 {
		return zapcore.ErrorLevel
	}
	return zapcore.WarnLevel
}
