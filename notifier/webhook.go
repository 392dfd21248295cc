package notifier

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/caddyciba/gateway/internal/backoff"
)

// Webhook POSTs notifications as JSON, signed the Standard Webhooks way, to the bank's
// push service. It retries with backoff on 5xx answers, timeouts and network errors until
// the context ends; a 4xx or a redirect is final (redirects are never followed).
type Webhook struct {
	target *url.URL
	key    []byte
	client *http.Client
	// FirstBackoff is the wait before the first retry; it doubles up to MaxBackoff.
	FirstBackoff, MaxBackoff time.Duration
	now                      func() time.Time
}

// NewWebhook makes the channel; target must be HTTPS, or HTTP to a loopback host, and
// secret a Standard Webhooks secret (whsec_<base64>).
func NewWebhook(target, secret string) (*Webhook, error) {
	u, err := url.Parse(target)
	if err != nil || !AllowedTarget(u) {
		return nil, fmt.Errorf("webhook target %q must be an https URL (http only for loopback hosts)", target)
	}
	key, err := ParseWebhookSecret(secret)
	if err != nil {
		return nil, err
	}
	return &Webhook{
		target:       u,
		key:          key,
		client:       noRedirectClient(),
		FirstBackoff: 500 * time.Millisecond,
		MaxBackoff:   30 * time.Second,
		now:          time.Now,
	}, nil
}

// Name implements Channel.
func (w *Webhook) Name() string { return "webhook" }

// Notify implements Channel.
func (w *Webhook) Notify(ctx context.Context, n *Notification) error {
	return retrying(ctx, w.FirstBackoff, w.MaxBackoff, func() (bool, error) { return w.Attempt(ctx, n) })
}

// Attempt implements Attempter.
func (w *Webhook) Attempt(ctx context.Context, n *Notification) (bool, error) {
	body, err := json.Marshal(n)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.target.String(), bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", n.ID)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+Sign(w.key, n.ID, ts, body))
	return send(w.client, req)
}

// Backoff implements Attempter.
func (w *Webhook) Backoff(attempt int) time.Duration {
	return backoff.Wait(w.FirstBackoff, w.MaxBackoff, attempt)
}

// Sign is the Standard Webhooks signature: base64 of HMAC-SHA256 over "id.timestamp.body".
func Sign(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

var _ Attempter = (*Webhook)(nil)
