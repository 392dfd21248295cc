package caddyciba

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyciba/gateway/notifier"
)

// NotifierConfig is one channel that reaches the user's authentication device.
// Channels are tried in the order they are written.
type NotifierConfig struct {
	// Channel is webhook, smtp or log.
	Channel string `json:"channel"`
	// URL is the webhook target: HTTPS, or HTTP to a loopback host.
	URL string `json:"url,omitempty"`
	// Secret signs webhook bodies the Standard Webhooks way; written whsec_<base64>.
	// Placeholders such as {env.NOTIFY_SECRET} are expanded at start.
	Secret string `json:"secret,omitempty"`
	// ShowLinks makes the log channel print device links. For local demos only: a device
	// link lets whoever reads the log approve the request.
	ShowLinks bool `json:"show_links,omitempty"`
}

func (nc *NotifierConfig) validate() error {
	switch nc.Channel {
	case "webhook":
		u, err := url.Parse(nc.URL)
		if err != nil || !notifier.AllowedTarget(u) {
			return fmt.Errorf("notifier webhook: %q must be an https URL (http only for loopback hosts)", nc.URL)
		}
		if nc.Secret == "" {
			return fmt.Errorf("notifier webhook %s needs a secret", nc.URL)
		}
		if !strings.Contains(nc.Secret, "{") {
			if _, err := notifier.ParseWebhookSecret(nc.Secret); err != nil {
				return fmt.Errorf("notifier webhook %s: %v", nc.URL, err)
			}
		}
	case "log":
		if nc.URL != "" || nc.Secret != "" {
			return fmt.Errorf("notifier log takes no url or secret")
		}
	default:
		return fmt.Errorf("unknown notifier channel %q (webhook or log)", nc.Channel)
	}
	return nil
}

// build makes the channel, expanding placeholders in the secret.
func (nc *NotifierConfig) build(repl *caddy.Replacer, logger *slog.Logger) (notifier.Channel, error) {
	switch nc.Channel {
	case "webhook":
		w, err := notifier.NewWebhook(nc.URL, repl.ReplaceAll(nc.Secret, ""))
		if err != nil {
			return nil, fmt.Errorf("ciba: notifier webhook %s: %w", nc.URL, err)
		}
		return w, nil
	case "log":
		return &notifier.Log{Logger: logger, ShowLinks: nc.ShowLinks}, nil
	}
	return nil, fmt.Errorf("ciba: unknown notifier channel %q", nc.Channel)
}
