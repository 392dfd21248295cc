// Package op is the protocol core of the gateway: one file per endpoint, plain Go over
// net/http, with errors as values. The Caddy adapter routes requests here.
package op

import (
	"github.com/caddyciba/gateway/consent"
	"strings"
	"time"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/store"
)

// Paths of the endpoints, relative to the issuer.
const (
	PathDiscovery   = "/.well-known/openid-configuration"
	PathJWKS        = "/jwks"
	PathToken       = "/token"
	PathBackchannel = "/bc-authorize"
)

// Config is the provider's settings.
type Config struct {
	Issuer         string
	MTLSBase       string
	AccessTokenTTL time.Duration
	FAPI           bool
}

// Provider serves the OAuth endpoints.
type Provider struct {
	Config
	Store    store.Store
	Keys     *keys.Keyring
	Clients  *clients.Registry
	Auth     *clients.Authenticator
	Consents *consent.Repo
	Now      func() time.Time
}

// New wires a provider; Now defaults to time.Now.
func New(cfg Config, s store.Store, k *keys.Keyring, reg *clients.Registry) *Provider {
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	cfg.MTLSBase = strings.TrimSuffix(cfg.MTLSBase, "/")
	p := &Provider{Config: cfg, Store: s, Keys: k, Clients: reg, Now: time.Now}
	// A client assertion may name the issuer or the endpoint it is sent to (CIBA §7.1).
	audiences := []string{cfg.Issuer}
	for _, path := range []string{PathToken, PathBackchannel, PathRevocation, PathIntrospection} {
		audiences = append(audiences, p.URL(path))
		if cfg.MTLSBase != "" {
			audiences = append(audiences, p.MTLSURL(path))
		}
	}
	p.Consents = &consent.Repo{Store: s, Now: func() time.Time { return p.Now() }}
	p.Auth = &clients.Authenticator{
		Registry:  reg,
		Audiences: audiences,
		Replay:    s,
		Now:       func() time.Time { return p.Now() },
	}
	return p
}

// URL is the absolute URL of an endpoint path.
func (p *Provider) URL(path string) string { return p.Issuer + path }

// MTLSURL is the absolute URL of an endpoint path on the mTLS listener.
func (p *Provider) MTLSURL(path string) string { return p.MTLSBase + path }
