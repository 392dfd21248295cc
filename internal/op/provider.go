// Package op is the protocol core of the gateway: one file per endpoint, plain Go over
// net/http, with errors as values. The Caddy adapter routes requests here.
package op

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/ratelimit"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/users"
	"github.com/caddyciba/gateway/notifier"
	"github.com/caddyciba/gateway/payment"
)

// Paths of the endpoints, relative to the issuer.
const (
	PathDiscovery   = "/.well-known/openid-configuration"
	PathJWKS        = "/jwks"
	PathToken       = "/token"
	PathBackchannel = "/bc-authorize"
	PathDevice      = "/ciba/device/"
)

// Config is the provider's settings.
type Config struct {
	Issuer         string
	MTLSBase       string
	AccessTokenTTL time.Duration
	// RefreshTokenTTL bounds a refresh token that its consent does not bound sooner.
	RefreshTokenTTL time.Duration
	FAPI            bool
	// AuthReqTTL is the default expires_in of a backchannel request; MaxAuthReqTTL caps
	// requested_expiry; PollInterval is the interval answered and enforced.
	AuthReqTTL, MaxAuthReqTTL, PollInterval time.Duration
	// BindingMessage is the pattern a binding_message must match in full.
	BindingMessage *regexp.Regexp
	// Lockout bounds password guesses wherever a user's password is checked: the
	// approval page, the access dashboard and user_code at /bc-authorize.
	Lockout users.Lockout
	// MaxPendingPerUser caps a user's live backchannel requests, across clients and
	// instances; one client may hold half of them, rounded up. Default 5.
	MaxPendingPerUser int
	// MaxDeliveries is the size of the pool that makes notification attempts; deliveries
	// beyond it wait in the store. Default DefaultMaxDeliveries.
	MaxDeliveries int
	// Branding is the bank's identity on the customer's pages.
	Branding Branding
	// AccessIdle ends a dashboard session this long after its last use. Default 15m.
	AccessIdle time.Duration
	// Payments is the bank's policy for payment consents (currencies, cut-off).
	Payments payment.Policy
	// Users resolves the users (none when nil); Channels reach the user's authentication
	// device, tried in order.
	Users    UserDirectory
	Channels []notifier.Channel
	// Logger is the root of the provider's logs (ciba.flow, ciba.delivery); none when nil.
	Logger *zap.Logger
	// MessageSigning is the UK OB x-jws-signature of the payment APIs (payment_gate.go).
	MessageSigning MessageSigning
}

// DefaultBindingMessage is a short printable-ASCII set that every phone and TPP screen
// shows the same way.
var DefaultBindingMessage = regexp.MustCompile(`^[A-Za-z0-9 .,:;!?#+/_()@&%='*-]{1,64}$`)

// UserDirectory resolves users; the app swaps the directory it serves on a reload.
type UserDirectory interface {
	ByHint(hint string) *users.User
	BySubject(sub string) *users.User
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

	// The children of the logger UseLogger is given.
	flowLog, deliveryLog *zap.Logger

	// The gate's records, decoded once per stored version.
	routes         routes
	accessRecords  *store.Decoded[heldAccess]
	consentRecords *store.Decoded[consent.Consent]

	// ccKey makes and checks the self-contained client-credentials tokens.
	ccKey clientTokenKey

	// background is where the delivery workers run; Close cancels it and waits. What
	// they have not delivered stays queued in the store.
	callback   *notifier.Callback
	deliveries deliveryQueue
	limits     *ratelimit.Limiter
	background context.Context
	cancel     context.CancelFunc
	inflight   sync.WaitGroup

	// customer holds the customer's pages and the consents' last-use notes.
	customer customerState
}

// gateCacheSize bounds each of the gate's decoding caches.
const gateCacheSize = 16384

// New wires a provider; Now defaults to time.Now.
func New(cfg Config, s store.Store, k *keys.Keyring, reg *clients.Registry) *Provider {
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	cfg.MTLSBase = strings.TrimSuffix(cfg.MTLSBase, "/")
	if cfg.BindingMessage == nil {
		cfg.BindingMessage = DefaultBindingMessage
	}
	if cfg.MaxPendingPerUser <= 0 {
		cfg.MaxPendingPerUser = DefaultMaxPendingPerUser
	}
	if cfg.Lockout.Attempts <= 0 {
		cfg.Lockout.Attempts = users.DefaultLockoutAttempts
	}
	if cfg.Lockout.Duration <= 0 {
		cfg.Lockout.Duration = users.DefaultLockoutDuration
	}
	if cfg.Users == nil {
		cfg.Users = users.Empty()
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	p := &Provider{Config: cfg, Store: s, Keys: k, Clients: reg, Now: time.Now}
	p.UseLogger(cfg.Logger)
	p.accessRecords = store.NewDecoded(gateCacheSize, decodeHeldAccess)
	p.consentRecords = store.NewDecoded(gateCacheSize, consent.Decode)
	p.callback = notifier.NewCallback()
	p.limits = &ratelimit.Limiter{Store: s, Prefix: rateLimitPrefix}
	p.background, p.cancel = context.WithCancel(context.Background())
	p.routes = newRoutes(p.endpoints())
	audiences := p.audiences()
	p.Consents = &consent.Repo{Store: s, Now: func() time.Time { return p.Now() }}
	p.Auth = &clients.Authenticator{
		Registry:  reg,
		Audiences: audiences,
		Replay:    s,
		Now:       func() time.Time { return p.Now() },
		// FAPI: every token is certificate-bound, so every client presents its certificate.
		BindAll: cfg.FAPI,
	}
	return p
}

// Close stops the delivery workers and waits for them; an attempt cut short goes back
// to the queue, due at once.
func (p *Provider) Close() {
	p.cancel()
	p.inflight.Wait()
}

// URL is the absolute URL of an endpoint path.
func (p *Provider) URL(path string) string { return p.Issuer + path }

// MTLSURL is the absolute URL of an endpoint path on the mTLS listener.
func (p *Provider) MTLSURL(path string) string { return p.MTLSBase + path }
