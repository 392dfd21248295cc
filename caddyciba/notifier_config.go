package caddyciba

import (
	"fmt"
	"net/url"
	"strings"

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
