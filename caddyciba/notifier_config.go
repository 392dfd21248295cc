package caddyciba

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyciba/gateway/notifier"
)

// NotifierConfig is one channel that reaches the user's authentication device.
// Channels are tried in the order they are written. Syntax, inside the ciba global option:
//
//	notifier webhook <url> {
//		secret <whsec_secret>
//	}
//	notifier smtp <host:port> {
//		security starttls|tls|none
//		username <user>
//		password <password>
//		from     <address>
//		ca_file  <pem_file>
//	}
//	notifier log [show_links] {
//		show_links
//	}
type NotifierConfig struct {
	// Channel is webhook, smtp or log.
	Channel string `json:"channel"`
	// URL is the webhook target: HTTPS, or HTTP to a loopback host.
	URL string `json:"url,omitempty"`
	// Secret signs webhook bodies the Standard Webhooks way; written whsec_<base64>.
	// Placeholders such as {env.NOTIFY_SECRET} are expanded at start.
	Secret string `json:"secret,omitempty"`
	// Address is the smtp relay, host:port.
	Address string `json:"address,omitempty"`
	// Security is how the smtp channel protects the connection: starttls (default), tls
	// (implicit TLS, usually port 465) or none (a loopback relay only).
	Security string `json:"security,omitempty"`
	// Username and Password authenticate to the relay (AUTH PLAIN, over TLS). The password
	// may be a placeholder such as {env.SMTP_PASSWORD}.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// From is the sender of the mails, such as "Bank <no-reply@bank.example>".
	From string `json:"from,omitempty"`
	// CAFile holds the PEM roots that verify the relay's certificate; the system roots
	// when empty.
	CAFile string `json:"ca_file,omitempty"`
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
	case "smtp":
		if err := nc.smtp().Check(); err != nil {
			return fmt.Errorf("notifier %w", err)
		}
	case "log":
		if nc.URL != "" || nc.Secret != "" {
			return fmt.Errorf("notifier log takes no url or secret")
		}
	default:
		return fmt.Errorf("unknown notifier channel %q (webhook, smtp or log)", nc.Channel)
	}
	return nil
}

func (nc *NotifierConfig) smtp() *notifier.SMTP {
	return &notifier.SMTP{Address: nc.Address, Security: nc.Security, Username: nc.Username, Password: nc.Password, From: nc.From}
}

// build makes the channel, expanding placeholders in the secret.
func (nc *NotifierConfig) build(repl *caddy.Replacer, logger *zap.Logger) (notifier.Channel, error) {
	switch nc.Channel {
	case "webhook":
		w, err := notifier.NewWebhook(nc.URL, repl.ReplaceAll(nc.Secret, ""))
		if err != nil {
			return nil, fmt.Errorf("ciba: notifier webhook %s: %w", nc.URL, err)
		}
		return w, nil
	case "smtp":
		s := nc.smtp()
		s.Password = repl.ReplaceAll(nc.Password, "")
		roots, err := loadCertPool("notifier smtp ca_file", nc.CAFile)
		if err != nil {
			return nil, err
		}
		if roots != nil {
			s.TLSConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		}
		return s, nil
	case "log":
		return &notifier.Log{Logger: logger, ShowLinks: nc.ShowLinks}, nil
	}
	return nil, fmt.Errorf("ciba: unknown notifier channel %q", nc.Channel)
}
