package notifier

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
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

// attemptTimeout bounds one delivery attempt.
const attemptTimeout = 10 * time.Second

// ErrRefused is returned when the receiver answered with a final non-2xx status.
var ErrRefused = errors.New("webhook refused the notification")

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
		target: u,
		key:    key,
		client: &http.Client{
			Timeout:       attemptTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		FirstBackoff: 500 * time.Millisecond,
		MaxBackoff:   30 * time.Second,
		now:          time.Now,
	}, nil
}

// Name implements Channel.
func (w *Webhook) Name() string { return "webhook" }

// Notify implements Channel.
func (w *Webhook) Notify(ctx context.Context, n *Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	backoff := w.FirstBackoff
	for {
		retry, err := w.attempt(ctx, n.ID, body)
		if err == nil || !retry {
			return err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		backoff = min(backoff*2, w.MaxBackoff)
	}
}

// attempt sends once; retry tells whether another attempt may succeed.
func (w *Webhook) attempt(ctx context.Context, id string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.target.String(), bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+Sign(w.key, id, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return ctx.Err() == nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook answered %d", resp.StatusCode)
	default:
		return false, fmt.Errorf("%w: %d", ErrRefused, resp.StatusCode)
	}
}

// Sign is the Standard Webhooks signature: base64 of HMAC-SHA256 over "id.timestamp.body".
func Sign(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

var _ Channel = (*Webhook)(nil)
