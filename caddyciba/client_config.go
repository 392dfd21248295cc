package caddyciba

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"github.com/caddyserver/caddy/v2"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/ratelimit"
	"github.com/caddyciba/gateway/notifier"
)

// ClientConfig registers one TPP. Syntax, inside the ciba global option:
//
//	client <id> {
//		name                  <text>
//		auth                  client_secret_basic|client_secret_post|private_key_jwt|tls_client_auth|self_signed_tls_client_auth
//		secret                <secret>
//		secret_hash           <hash>
//		jwks_file             <file>
//		tls_subject           <dn>
//		delivery_mode         poll|ping|push
//		notification_endpoint <url>
//		scopes                <scope...>
//		certificate_bound
//		user_code
//		jws_signature         [<iss>]
//		rate_limit            <n>/s|<n>/m [burst <m>]
//	}
//
// The JSON form also takes the public keys inline (jwks).
type ClientConfig struct {
	// ID is the client_id.
	ID string `json:"id"`
	// Name is shown to the user on the authentication device.
	Name string `json:"name,omitempty"`
	// Auth is the token_endpoint_auth_method: client_secret_basic, client_secret_post,
	// private_key_jwt, tls_client_auth or self_signed_tls_client_auth.
	Auth string `json:"auth"`
	// Secret is the client secret for the secret methods. Placeholders such as
	// {env.TPP_SECRET} are expanded at start; the value is kept hashed in memory.
	Secret string `json:"secret,omitempty"`
	// SecretHash holds the secret's salted hash instead, as `caddy ciba hash-secret`
	// prints it, so the config holds no secret at all.
	SecretHash string `json:"secret_hash,omitempty"`
	// JWKSFile is a file holding the client's public JWKS: the keys of its assertions,
	// signed requests and self-signed certificates.
	JWKSFile string `json:"jwks_file,omitempty"`
	// JWKS is the client's public JWKS inline, as an alternative to JWKSFile.
	JWKS map[string]any `json:"jwks,omitempty"`
	// TLSSubject is the subject DN of the client's certificate, for tls_client_auth.
	TLSSubject string `json:"tls_subject,omitempty"`
	// DeliveryMode is the CIBA token delivery mode: poll (default), ping or push.
	DeliveryMode string `json:"delivery_mode,omitempty"`
	// NotificationEndpoint receives pings or pushed tokens; HTTPS unless loopback.
	NotificationEndpoint string `json:"notification_endpoint,omitempty"`
	// Scopes the client may ask for.
	Scopes []string `json:"scopes,omitempty"`
	// CertificateBound binds the client's tokens to its TLS certificate whatever its
	// auth method. Tokens of the mTLS methods are always bound.
	CertificateBound bool `json:"certificate_bound,omitempty"`
	// UserCode makes the client send the user's code (their password in the users file)
	// as user_code with every backchannel request (backchannel_user_code_parameter).
	UserCode bool `json:"user_code,omitempty"`
	// RateLimit bounds the client's calls to /token (client_credentials and refresh_token
	// grants) and /bc-authorize, counted in the store so every instance sharing it draws
	// from one bucket. Over the limit the answer is 429 with Retry-After. CIBA polling is
	// never limited here: it keeps answering slow_down. Default: no limit.
	RateLimit *RateLimitConfig `json:"rate_limit,omitempty"`
	// JWSSignature makes the gate verify the x-jws-signature (UK OB message signing, PS256)
	// of the client's PISP and CBPII POSTs against its JWKS. Every client signs in fapi
	// mode, whatever this says.
	JWSSignature bool `json:"jws_signature,omitempty"`
	// JWSIssuer is the http://openbanking.org.uk/iss the client's signatures carry (its
	// organisation / software statement id). Default: the client id.
	JWSIssuer string `json:"jws_issuer,omitempty"`
}

// RateLimitConfig is a token bucket: Rate sustained, Burst at once.
type RateLimitConfig struct {
	// Rate is the sustained rate, "<n>/s" or "<n>/m".
	Rate string `json:"rate"`
	// Burst is how many calls may come at once after an idle time. Default: the rate's n.
	Burst int `json:"burst,omitempty"`
}

// validate checks what the config alone can tell, so a Caddyfile error surfaces at adapt time.
func (cc *ClientConfig) validate() error {
	if cc.ID == "" {
		return fmt.Errorf("a client needs an id")
	}
	m, err := clients.ParseMethod(cc.Auth)
	if err != nil {
		return fmt.Errorf("client %q: %v (one of client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth, self_signed_tls_client_auth)", cc.ID, err)
	}
	hasKeys := cc.JWKSFile != "" || cc.JWKS != nil
	switch {
	case m.UsesSecret() && (cc.Secret == "") == (cc.SecretHash == ""):
		return fmt.Errorf("client %q: auth %s needs a secret or a secret_hash, not both", cc.ID, m)
	case !m.UsesSecret() && (cc.Secret != "" || cc.SecretHash != ""):
		return fmt.Errorf("client %q: a secret is only for the client_secret methods", cc.ID)
	case (m == clients.PrivateKeyJWT || m == clients.SelfSignedTLSClient) && !hasKeys:
		return fmt.Errorf("client %q: auth %s needs jwks_file", cc.ID, m)
	case m == clients.TLSClientAuth && cc.TLSSubject == "":
		return fmt.Errorf("client %q: auth tls_client_auth needs tls_subject", cc.ID)
	}
	switch cc.DeliveryMode {
	case "", "poll":
	case "ping", "push":
		if cc.NotificationEndpoint == "" {
			return fmt.Errorf("client %q: delivery_mode %s needs notification_endpoint", cc.ID, cc.DeliveryMode)
		}
	default:
		return fmt.Errorf("client %q: delivery_mode %q is not poll, ping or push", cc.ID, cc.DeliveryMode)
	}
	if cc.RateLimit != nil {
		if _, err := ratelimit.Parse(cc.RateLimit.Rate, cc.RateLimit.Burst); err != nil {
			return fmt.Errorf("client %q: rate_limit: %v", cc.ID, err)
		}
	}
	if cc.NotificationEndpoint != "" {
		u, err := url.Parse(cc.NotificationEndpoint)
		if err != nil || !notifier.AllowedTarget(u) {
			return fmt.Errorf("client %q: notification_endpoint must be an https URL (http only for loopback hosts)", cc.ID)
		}
	}
	return nil
}

// build makes the runtime client, reading its key file and hashing its secret. The
// config has passed validate (App.Provision runs Validate first).
func (cc *ClientConfig) build(repl *caddy.Replacer) (*clients.Client, error) {
	m, err := clients.ParseMethod(cc.Auth)
	if err != nil {
		return nil, err
	}
	c := &clients.Client{
		ID:                   cc.ID,
		Name:                 cc.Name,
		Method:               m,
		TLSSubject:           cc.TLSSubject,
		DeliveryMode:         cc.DeliveryMode,
		NotificationEndpoint: cc.NotificationEndpoint,
		Scopes:               cc.Scopes,
		CertificateBound:     cc.CertificateBound,
		UserCode:             cc.UserCode,
		JWSSignature:         cc.JWSSignature,
		JWSIssuer:            cc.JWSIssuer,
	}
	if c.JWSIssuer == "" {
		c.JWSIssuer = c.ID
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if cc.RateLimit != nil {
		r, err := ratelimit.Parse(cc.RateLimit.Rate, cc.RateLimit.Burst)
		if err != nil {
			return nil, fmt.Errorf("client %q: rate_limit: %w", cc.ID, err)
		}
		c.RateLimit = &r
	}
	if c.DeliveryMode == "" {
		c.DeliveryMode = "poll"
	}
	if cc.Secret != "" {
		secret := repl.ReplaceAll(cc.Secret, "")
		if secret == "" {
			return nil, fmt.Errorf("client %q: the secret is empty after placeholders are replaced", cc.ID)
		}
		if err := c.SetSecret(secret); err != nil {
			return nil, err
		}
	}
	if cc.SecretHash != "" {
		if err := c.SetSecretHash(cc.SecretHash); err != nil {
			return nil, fmt.Errorf("client %q: %w", cc.ID, err)
		}
	}
	set, err := cc.keySet()
	if err != nil {
		return nil, fmt.Errorf("client %q: %w", cc.ID, err)
	}
	c.JWKS = set
	return c, nil
}

func (cc *ClientConfig) keySet() (jwk.Set, error) {
	var raw []byte
	switch {
	case cc.JWKSFile != "":
		b, err := os.ReadFile(cc.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("jwks_file: %w", err)
		}
		raw = b
	case cc.JWKS != nil:
		b, err := json.Marshal(cc.JWKS)
		if err != nil {
			return nil, err
		}
		raw = b
	default:
		return nil, nil
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if isPriv, _ := jwk.IsPrivateKey(k); isPriv {
			return nil, fmt.Errorf("the jwks holds a private key: register public keys only")
		}
	}
	return set, nil
}
