package caddyciba

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func adapt(src string) ([]byte, error) {
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": "Caddyfile"})
	return out, err
}

// TestCaddyfileErrors: each mistake is refused at adapt time, naming the line.
func TestCaddyfileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, want string
	}{
		{"missing issuer", `storage /tmp/x`, "issuer is required, at Caddyfile:2"},
		{"unknown option", "issuer https://bank.example\n\t\tcolour blue", `unrecognized ciba option "colour", at Caddyfile:4`},
		{"issuer not a URL", `issuer bank.example`, "must be an absolute https URL"},
		{"unknown signing alg", "issuer https://bank.example\n\t\tsigning_alg RS256", `signing_alg "RS256" is not supported`},
		{"fapi with EdDSA", "issuer https://bank.example\n\t\tfapi\n\t\tsigning_alg EdDSA", "fapi allows signing_alg PS256 or ES256 only"},
		{"bad duration", "issuer https://bank.example\n\t\tpoll_interval soon", `poll_interval: "soon" is not a positive duration, at Caddyfile:4`},
		{"pending cap not positive", "issuer https://bank.example\n\t\tmax_pending_per_user 0", `max_pending_per_user: "0" is not a positive number, at Caddyfile:4`},
		{"ttl above max", "issuer https://bank.example\n\t\tauth_req_ttl 20m\n\t\tmax_auth_req_ttl 10m", "auth_req_ttl is longer than max_auth_req_ttl"},
		{"client unknown auth method", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_jwt\n\t\t\tsecret s\n\t\t}", `client "c1": unknown client auth method "client_secret_jwt"`},
		{"client unknown auth method names line", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth magic\n\t\t}", "at Caddyfile:4"},
		{"client without auth", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tsecret s\n\t\t}", `client "c1" needs an auth method, at Caddyfile:4`},
		{"basic without secret", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_basic\n\t\t}", "auth client_secret_basic needs a secret or a secret_hash, not both, at Caddyfile:4"},
		{"post without secret", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_post\n\t\t}", "auth client_secret_post needs a secret"},
		{"private_key_jwt without keys", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth private_key_jwt\n\t\t}", "auth private_key_jwt needs jwks_file"},
		{"self-signed mTLS without keys", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth self_signed_tls_client_auth\n\t\t}", "auth self_signed_tls_client_auth needs jwks_file"},
		{"tls_client_auth without subject", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth tls_client_auth\n\t\t}", "auth tls_client_auth needs tls_subject"},
		{"secret on a key method", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth private_key_jwt\n\t\t\tjwks_file k.json\n\t\t\tsecret s\n\t\t}", "a secret is only for the client_secret methods"},
		{"unknown client option", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_post\n\t\t\tcolour red\n\t\t}", `unrecognized client option "colour", at Caddyfile:6`},
		{"ping without endpoint", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_post\n\t\t\tsecret s\n\t\t\tdelivery_mode ping\n\t\t}", "delivery_mode ping needs notification_endpoint"},
		{"plain http notification endpoint", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_post\n\t\t\tsecret s\n\t\t\tdelivery_mode ping\n\t\t\tnotification_endpoint http://tpp.example/cb\n\t\t}", "notification_endpoint must be an https URL"},
		{"unknown delivery mode", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_post\n\t\t\tsecret s\n\t\t\tdelivery_mode carrier_pigeon\n\t\t}", `delivery_mode "carrier_pigeon" is not poll, ping or push`},
		{"client defined twice", "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_post\n\t\t\tsecret s\n\t\t}\n\t\tclient c1 {\n\t\t\tauth client_secret_post\n\t\t\tsecret s\n\t\t}", `client "c1" is defined twice`},
		{"bad binding message pattern", "issuer https://bank.example\n\t\tbinding_message_pattern \"[a-z\"", "binding_message_pattern: error parsing regexp"},
		{"zero password attempts", "issuer https://bank.example\n\t\tpassword_attempts 0", "password_attempts: \"0\" is not a positive number"},
		{"fapi with a push client", "issuer https://bank.example\n\t\tfapi\n\t\tclient c1 {\n\t\t\tauth client_secret_post\n\t\t\tsecret s\n\t\t\tdelivery_mode push\n\t\t\tnotification_endpoint https://tpp.example/cb\n\t\t}", `client "c1": fapi does not allow push delivery`},
		{"unknown notifier", "issuer https://bank.example\n\t\tnotifier pager", `unknown notifier channel "pager" (webhook, smtp or log), at Caddyfile:4`},
		{"smtp in clear to a remote relay", "issuer https://bank.example\n\t\tnotifier smtp mail.bank.example:25 {\n\t\t\tsecurity none\n\t\t\tfrom bank@bank.example\n\t\t}", "security none is allowed only to a loopback relay"},
		{"smtp without from", "issuer https://bank.example\n\t\tnotifier smtp mail.bank.example:587", `smtp from ""`},
		{"smtp username alone", "issuer https://bank.example\n\t\tnotifier smtp mail.bank.example:587 {\n\t\t\tfrom bank@bank.example\n\t\t\tusername u\n\t\t}", "username and password go together"},
		{"webhook over http", "issuer https://bank.example\n\t\tnotifier webhook http://push.bank.example/ciba {\n\t\t\tsecret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\t\t}", "must be an https URL"},
		{"webhook without secret", "issuer https://bank.example\n\t\tnotifier webhook https://push.bank.example/ciba", "needs a secret"},
		{"webhook secret not whsec", "issuer https://bank.example\n\t\tnotifier webhook https://push.bank.example/ciba {\n\t\t\tsecret hunter2\n\t\t}", "whsec_<base64>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adapt("{\n\tciba {\n\t\t" + tc.body + "\n\t}\n}\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCaddyfileAdaptsEveryOption(t *testing.T) {
	t.Parallel()
	out, err := adapt(`{
	ciba {
		issuer           https://bank.example
		mtls_base        https://mtls.bank.example
		storage          /var/lib/caddyciba
		signing_alg      ES256
		auth_req_ttl     90s
		max_auth_req_ttl 5m
		poll_interval    2s
		access_token_ttl 15m
		refresh_token_ttl 720h
		binding_message_pattern "[0-9]{4}"
		password_attempts 3
		password_lockout 30m
		max_pending_per_user 7
		key_rotation     720h
		key_publish_lead 1h
		fapi
		users            users.json
		client_ca        ca.pem
		client tpp-1 {
			name                  "Budget Buddy"
			auth                  private_key_jwt
			jwks_file             tpp-1.jwks.json
			delivery_mode         ping
			notification_endpoint https://tpp.example/cb
			scopes                openid accounts
			certificate_bound
			user_code
		}
		notifier webhook https://push.bank.internal/ciba {
			secret {env.NOTIFY_SECRET}
		}
		notifier smtp mail.bank.internal:465 {
			security tls
			username ciba
			password {env.SMTP_PASSWORD}
			from     "Bank <no-reply@bank.example>"
			ca_file  relay-ca.pem
		}
		notifier log
	}
}
bank.example {
	ciba_endpoints
	ciba_gate {
		subject_header X-User
		accounts_header X-Accts
		pass_authorization
	}
	reverse_proxy 127.0.0.1:9000
}
`)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Apps struct {
			CIBA App `json:"ciba"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	app := cfg.Apps.CIBA
	c := app.Clients[0]
	if app.Issuer != "https://bank.example" || app.MTLSBase != "https://mtls.bank.example" || !app.FAPI ||
		app.SigningAlg != "ES256" || time.Duration(app.AuthReqTTL) != 90*time.Second || time.Duration(app.MaxAuthReqTTL) != 5*time.Minute ||
		time.Duration(app.PollInterval) != 2*time.Second || time.Duration(app.AccessTokenTTL) != 15*time.Minute || app.Users != "users.json" ||
		app.ClientCA != "ca.pem" || string(app.StorageRaw) != `{"module":"badger","path":"/var/lib/caddyciba"}` || time.Duration(app.RefreshTokenTTL) != 720*time.Hour ||
		app.BindingMessagePattern != "[0-9]{4}" || app.PasswordAttempts != 3 || time.Duration(app.PasswordLockout) != 30*time.Minute ||
		time.Duration(app.KeyRotation) != 720*time.Hour || time.Duration(app.KeyPublishLead) != time.Hour || app.MaxPendingPerUser != 7 {
		t.Errorf("app = %+v", app)
	}
	if c.ID != "tpp-1" || c.Name != "Budget Buddy" || c.Auth != "private_key_jwt" || c.JWKSFile != "tpp-1.jwks.json" ||
		c.DeliveryMode != "ping" || c.NotificationEndpoint != "https://tpp.example/cb" || len(c.Scopes) != 2 || !c.CertificateBound || !c.UserCode {
		t.Errorf("client = %+v", c)
	}
	mail := app.Notifiers[1]
	if len(app.Notifiers) != 3 || app.Notifiers[0].Secret != "{env.NOTIFY_SECRET}" || app.Notifiers[2].Channel != "log" ||
		mail.Channel != "smtp" || mail.Address != "mail.bank.internal:465" || mail.Security != "tls" || mail.Username != "ciba" ||
		mail.Password != "{env.SMTP_PASSWORD}" || mail.From != "Bank <no-reply@bank.example>" || mail.CAFile != "relay-ca.pem" {
		t.Errorf("notifiers = %+v", app.Notifiers)
	}
	for _, want := range []string{`"accounts_header":"X-Accts"`, `"pass_authorization":true`, `"subject_header":"X-User"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("gate option %s not adapted: %s", want, out)
		}
	}
	// The handlers are ordered without an order line: the gate comes before reverse_proxy.
	s := string(out)
	if !strings.Contains(s, `"handler":"ciba"`) || strings.Index(s, `"handler":"ciba_gate"`) > strings.Index(s, `"handler":"reverse_proxy"`) {
		t.Errorf("handler order: %s", s)
	}
}
