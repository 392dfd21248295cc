package caddyciba

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/caddyciba/gateway/internal/ratelimit"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("ciba", parseGlobalOption)
}

func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the ciba global option appears twice")
	}
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "ciba", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from the ciba global option. Syntax:
//
//	ciba {
//		issuer                  <url>
//		mtls_base               <url>
//		storage                 <dir> | badger [<dir>] | postgres [<dsn>] { ... }
//		signing_alg             PS256|ES256|EdDSA
//		jws_issuer              <iss>
//		jws_trust_anchor        <tan>
//		jws_version             v3.1.<n>
//		auth_req_ttl            <duration>
//		max_auth_req_ttl        <duration>
//		poll_interval           <duration>
//		access_token_ttl        <duration>
//		refresh_token_ttl       <duration>
//		binding_message_pattern <regexp>
//		fapi
//		users                   <file>
//		password_attempts       <n>
//		password_lockout        <duration>
//		max_pending_per_user    <n>
//		key_rotation            <duration>
//		key_publish_lead        <duration>
//		client_ca               <pem_file>
//		max_deliveries          <n>
//		client <id> {
//			...
//		}
//		notifier webhook|smtp|log ... {
//			...
//		}
//		branding {
//			...
//		}
//	}
//
// The README's "Caddyfile" section gives each setting's default and checks; the blocks
// are on unmarshalStorage, ClientConfig, NotifierConfig and unmarshalBranding.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	file, line := d.File(), d.Line()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := a.unmarshalOption(d); err != nil {
			return err
		}
	}
	// Validate checks every setting, the required issuer included; the place is added here.
	if err := a.Validate(); err != nil {
		return fmt.Errorf("%w, at %s:%d", err, file, line)
	}
	return nil
}

func (a *App) unmarshalOption(d *caddyfile.Dispenser) error {
	switch opt := d.Val(); opt {
	case "issuer":
		return oneArg(d, &a.Issuer)
	case "mtls_base":
		return oneArg(d, &a.MTLSBase)
	case "storage":
		raw, err := unmarshalStorage(d)
		a.StorageRaw = raw
		return err
	case "signing_alg":
		return oneArg(d, &a.SigningAlg)
	case "users":
		return oneArg(d, &a.Users)
	case "client_ca":
		return oneArg(d, &a.ClientCA)
	case "auth_req_ttl":
		return durationArg(d, &a.AuthReqTTL)
	case "max_auth_req_ttl":
		return durationArg(d, &a.MaxAuthReqTTL)
	case "poll_interval":
		return durationArg(d, &a.PollInterval)
	case "access_token_ttl":
		return durationArg(d, &a.AccessTokenTTL)
	case "refresh_token_ttl":
		return durationArg(d, &a.RefreshTokenTTL)
	case "binding_message_pattern":
		return oneArg(d, &a.BindingMessagePattern)
	case "password_attempts":
		return intArg(d, &a.PasswordAttempts)
	case "max_deliveries":
		return intArg(d, &a.MaxDeliveries)
	case "password_lockout":
		return durationArg(d, &a.PasswordLockout)
	case "max_pending_per_user":
		return intArg(d, &a.MaxPendingPerUser)
	case "key_rotation":
		return durationArg(d, &a.KeyRotation)
	case "key_publish_lead":
		return durationArg(d, &a.KeyPublishLead)
	case "jws_issuer":
		return oneArg(d, &a.JWSIssuer)
	case "jws_trust_anchor":
		return oneArg(d, &a.JWSTrustAnchor)
	case "jws_version":
		return oneArg(d, &a.JWSVersion)
	case "fapi":
		if d.NextArg() {
			return d.ArgErr()
		}
		a.FAPI = true
		return nil
	case "client":
		c, err := unmarshalClient(d)
		if err != nil {
			return err
		}
		a.Clients = append(a.Clients, c)
		return nil
	case "notifier":
		n, err := unmarshalNotifier(d)
		if err != nil {
			return err
		}
		a.Notifiers = append(a.Notifiers, n)
		return nil
	case "branding":
		if a.Branding != nil {
			return d.Err("branding appears twice")
		}
		b, err := unmarshalBranding(d)
		a.Branding = b
		return err
	default:
		return d.Errf("unrecognized ciba option %q", opt)
	}
}

// unmarshalClient reads a client block (syntax on ClientConfig).
func unmarshalClient(d *caddyfile.Dispenser) (ClientConfig, error) {
	var c ClientConfig
	if !d.Args(&c.ID) {
		return c, d.Err("client needs an id: client <id> { ... }")
	}
	if d.NextArg() {
		return c, d.ArgErr()
	}
	file, line := d.File(), d.Line()
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "name":
			err = oneArg(d, &c.Name)
		case "auth":
			err = oneArg(d, &c.Auth)
		case "secret":
			err = oneArg(d, &c.Secret)
		case "secret_hash":
			err = oneArg(d, &c.SecretHash)
		case "jwks_file":
			err = oneArg(d, &c.JWKSFile)
		case "tls_subject":
			err = oneArg(d, &c.TLSSubject)
		case "delivery_mode":
			err = oneArg(d, &c.DeliveryMode)
		case "notification_endpoint":
			err = oneArg(d, &c.NotificationEndpoint)
		case "scopes":
			c.Scopes = d.RemainingArgs()
			if len(c.Scopes) == 0 {
				err = d.ArgErr()
			}
		case "certificate_bound":
			if d.NextArg() {
				err = d.ArgErr()
			}
			c.CertificateBound = true
		case "user_code":
			if d.NextArg() {
				err = d.ArgErr()
			}
			c.UserCode = true
		case "jws_signature":
			// A flag, optionally with the iss the client's signatures carry.
			c.JWSSignature = true
			if d.NextArg() {
				c.JWSIssuer = d.Val()
				if d.NextArg() {
					err = d.ArgErr()
				}
			}
		case "rate_limit":
			c.RateLimit, err = unmarshalRateLimit(d)
		default:
			err = d.Errf("unrecognized client option %q", opt)
		}
		if err != nil {
			return c, err
		}
	}
	if c.Auth == "" {
		return c, fmt.Errorf("client %q needs an auth method, at %s:%d", c.ID, file, line)
	}
	if err := c.validate(); err != nil {
		return c, fmt.Errorf("%w, at %s:%d", err, file, line)
	}
	return c, nil
}

// unmarshalNotifier reads a notifier line and its block (syntax on NotifierConfig).
func unmarshalNotifier(d *caddyfile.Dispenser) (NotifierConfig, error) {
	var n NotifierConfig
	if !d.NextArg() {
		return n, d.Err("notifier needs a channel: webhook, smtp or log")
	}
	n.Channel = d.Val()
	file, line := d.File(), d.Line()
	switch n.Channel {
	case "webhook":
		if !d.Args(&n.URL) || d.NextArg() {
			return n, d.Err("notifier webhook needs exactly one URL")
		}
	case "smtp":
		if !d.Args(&n.Address) || d.NextArg() {
			return n, d.Err("notifier smtp needs exactly one host:port")
		}
	case "log":
		for d.NextArg() {
			if d.Val() != "show_links" {
				return n, d.Errf("unrecognized notifier log argument %q", d.Val())
			}
			n.ShowLinks = true
		}
	default:
		return n, d.Errf("unknown notifier channel %q (webhook, smtp or log)", n.Channel)
	}
	smtpOptions := map[string]*string{
		"security": &n.Security, "username": &n.Username, "password": &n.Password, "from": &n.From, "ca_file": &n.CAFile,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); {
		case opt == "secret" && n.Channel == "webhook":
			if err := oneArg(d, &n.Secret); err != nil {
				return n, err
			}
		case smtpOptions[opt] != nil && n.Channel == "smtp":
			if err := oneArg(d, smtpOptions[opt]); err != nil {
				return n, err
			}
		case opt == "show_links" && n.Channel == "log":
			n.ShowLinks = true
		default:
			return n, d.Errf("unrecognized notifier %s option %q", n.Channel, opt)
		}
	}
	if err := n.validate(); err != nil {
		return n, fmt.Errorf("%w, at %s:%d", err, file, line)
	}
	return n, nil
}

// unmarshalRateLimit reads `rate_limit <n>/s|<n>/m [burst <m>]`.
func unmarshalRateLimit(d *caddyfile.Dispenser) (*RateLimitConfig, error) {
	args := d.RemainingArgs()
	rl := &RateLimitConfig{}
	switch {
	case len(args) == 1:
	case len(args) == 3 && args[1] == "burst":
		n, err := strconv.Atoi(args[2])
		if err != nil || n <= 0 {
			return nil, d.Errf("rate_limit: burst %q is not a positive number", args[2])
		}
		rl.Burst = n
	default:
		return nil, d.Err("rate_limit needs <n>/s or <n>/m, then optionally burst <m>")
	}
	rl.Rate = args[0]
	if _, err := ratelimit.Parse(rl.Rate, rl.Burst); err != nil {
		return nil, d.Errf("rate_limit: %v", err)
	}
	return rl, nil
}

func oneArg(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if !d.Args(dst) || d.NextArg() {
		return d.ArgErr()
	}
	if strings.TrimSpace(*dst) == "" {
		return d.Errf("%s needs a value", name)
	}
	return nil
}

func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	name := d.Val()
	var s string
	if !d.Args(&s) || d.NextArg() {
		return d.ArgErr()
	}
	v, err := caddy.ParseDuration(s)
	if err != nil || v <= 0 {
		return d.Errf("%s: %q is not a positive duration", name, s)
	}
	*dst = caddy.Duration(v)
	return nil
}

func intArg(d *caddyfile.Dispenser, dst *int) error {
	name := d.Val()
	var s string
	if !d.Args(&s) || d.NextArg() {
		return d.ArgErr()
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		return d.Errf("%s: %q is not a positive number", name, s)
	}
	*dst = v
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*App)(nil)
