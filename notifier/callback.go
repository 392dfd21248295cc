package notifier

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/caddyciba/gateway/internal/backoff"
)

// Callback POSTs JSON to a TPP's client notification endpoint with its Bearer
// client_notification_token: the CIBA ping (§10.2) and push (§10.3) deliveries. It retries
// on 5xx and timeouts until the context ends, never after a 4xx (CIBA: no retry after a
// 401), and never follows a redirect.
type Callback struct {
	client *http.Client
	// FirstBackoff is the wait before the first retry; it doubles up to MaxBackoff.
	FirstBackoff, MaxBackoff time.Duration
}

// NewCallback makes the sender shared by every client.
func NewCallback() *Callback {
	return &Callback{client: noRedirectClient(), FirstBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second}
}

// Attempt makes one delivery; retry tells whether another may succeed.
func (c *Callback) Attempt(ctx context.Context, endpoint, bearer string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	return send(c.client, req)
}

// Backoff is the wait after the given failed attempt (1 for the first).
func (c *Callback) Backoff(attempt int) time.Duration {
	return backoff.Wait(c.FirstBackoff, c.MaxBackoff, attempt)
}
