// Package caddyciba is the Caddy adapter of the gateway: the ciba app, the ciba_endpoints
// and ciba_gate handlers, and their Caddyfile syntax.
package caddyciba

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/op"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/users"
	"github.com/caddyciba/gateway/notifier"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults for the durations a config leaves out.
const (
	defaultAuthReqTTL     = 120 * time.Second
	defaultMaxAuthReqTTL  = 600 * time.Second
	defaultPollInterval   = 5 * time.Second
	defaultAccessTokenTTL = 10 * time.Minute
	defaultRefreshTTL     = 90 * 24 * time.Hour
	defaultKeyPublishLead = 10 * time.Minute
	defaultSigningAlg     = "PS256"
	// maxDeliveriesCap bounds the delivery pool a config can ask for.
	maxDeliveriesCap = 1024
)

// App is the `ciba` app: the OpenID Provider for CIBA in front of a bank's account APIs.
// It owns the store, the signing keys, the clients, the users and the notifiers; the
// ciba_endpoints and ciba_gate handlers reach it by name.
type App struct {
	// Issuer is the issuer identifier, the base URL of the endpoints. Required.
	Issuer string `json:"issuer"`
	// MTLSBase is the base URL of the same endpoints on a listener that asks for client
	// certificates; discovery advertises it as mtls_endpoint_aliases. Default: none.
	MTLSBase string `json:"mtls_base,omitempty"`
	// StorageRaw is where the state is kept: a ciba.storage module, badger (the default,
	// in <caddy data dir>/ciba) or postgres (several instances on one database). A string
	// is taken as a Badger directory.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=ciba.storage inline_key=module"`
	// SigningAlg is the algorithm of the gateway's signing key: PS256 (default), ES256 or
	// EdDSA. The key is made on first start and kept in storage.
	SigningAlg string `json:"signing_alg,omitempty"`
	// AuthReqTTL is the default lifetime (expires_in) of a backchannel request. Default 120s.
	AuthReqTTL caddy.Duration `json:"auth_req_ttl,omitempty"`
	// MaxAuthReqTTL caps a requested_expiry. Default 600s.
	MaxAuthReqTTL caddy.Duration `json:"max_auth_req_ttl,omitempty"`
	// PollInterval is the minimum interval between polls. Default 5s.
	PollInterval caddy.Duration `json:"poll_interval,omitempty"`
	// AccessTokenTTL is the lifetime of access tokens and ID tokens. Default 10m.
	AccessTokenTTL caddy.Duration `json:"access_token_ttl,omitempty"`
	// RefreshTokenTTL is the longest life of a refresh token; none outlives its consent.
	// Default 90 days.
	RefreshTokenTTL caddy.Duration `json:"refresh_token_ttl,omitempty"`
	// BindingMessagePattern is the regular expression a binding_message must match in
	// full; others get invalid_binding_message. Default: 1 to 64 characters of letters,
	// digits, space and .,:;!?#+/_()@&%='*-
	BindingMessagePattern string `json:"binding_message_pattern,omitempty"`
	// PasswordAttempts is how many passwords of a user are checked (on the approval page,
	// the access dashboard and as user_code at /bc-authorize, one count) before the password is locked for
	// PasswordLockout; a right password does not count. Defaults 5 and 15m.
	PasswordAttempts int            `json:"password_attempts,omitempty"`
	PasswordLockout  caddy.Duration `json:"password_lockout,omitempty"`
	// MaxPendingPerUser caps the live backchannel requests (pending, unexpired) of one
	// user, from all clients together and across gateway instances; one client may hold
	// half of them, rounded up, so no client can keep a user from the others. Requests
	// over a cap are refused with invalid_request. Default 5.
	MaxPendingPerUser int `json:"max_pending_per_user,omitempty"`
	// KeyRotation makes a new signing key when the newest is this old; off when unset.
	// Keys can also be rotated through the admin API (POST /ciba/keys/rotate).
	KeyRotation caddy.Duration `json:"key_rotation,omitempty"`
	// KeyPublishLead is how long a new key is published in the JWKS before it signs, so
	// that clients which cache the JWKS know it first. Default 10m.
	KeyPublishLead caddy.Duration `json:"key_publish_lead,omitempty"`
	// FAPI turns on the FAPI-CIBA profile: signed requests only, PS256/ES256 only, no push,
	// binding_message required, certificate-bound tokens.
	FAPI bool `json:"fapi,omitempty"`
	// Users is the users file: a JSON array of users with their login hints and accounts.
	// It is reloaded when it changes; a file that does not parse keeps the last good one.
	Users string `json:"users,omitempty"`
	// ClientCA is a PEM file of the CAs that issue certificates for tls_client_auth
	// clients, for sites whose TLS layer only requests client certificates.
	ClientCA string `json:"client_ca,omitempty"`
	// Clients are the registered TPPs.
	Clients []ClientConfig `json:"clients,omitempty"`
	// Notifiers reach the user's authentication device, tried in order.
	Notifiers []NotifierConfig `json:"notifiers,omitempty"`
	// MaxDeliveries is how many notification attempts (device notifications, ping and
	// push callbacks) run at once; the deliveries waiting beyond it stay in the store and
	// outlive a reload or restart. Default 16, at most 1024.
	MaxDeliveries int `json:"max_deliveries,omitempty"`
	// Branding is the bank's name, logo and colour on the approval page and the
	// customer's access dashboard.
	Branding *BrandingConfig `json:"branding,omitempty"`

	provider *op.Provider
	users    *users.Live
	channels []notifier.Channel
	storeKey string
	logger   *zap.Logger
	// stopBackground ends this config's users-file watcher and key maintenance.
	stopBackground context.CancelFunc
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "ciba",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision opens the shared store, loads or makes the signing key and builds the clients.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.setDefaults()
	if err := a.Validate(); err != nil {
		return err
	}
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return err
	}
	repl := caddy.NewReplacer()
	list := make([]*clients.Client, 0, len(a.Clients))
	for i := range a.Clients {
		c, err := a.Clients[i].build(repl)
		if err != nil {
			return err
		}
		list = append(list, c)
	}
	// With no channel configured, requests are only logged (no links): the dev default.
	notifiers := a.Notifiers
	if len(notifiers) == 0 {
		notifiers = []NotifierConfig{{Channel: "log"}}
	}
	for i := range notifiers {
		ch, err := notifiers[i].build(repl, a.logger.Named("notifier"))
		if err != nil {
			return err
		}
		if mail, ok := ch.(*notifier.SMTP); ok && a.Branding != nil {
			mail.Bank = a.Branding.Name
		}
		a.channels = append(a.channels, ch)
	}
	cas, err := loadCertPool(a.ClientCA)
	if err != nil {
		return err
	}
	reg, err := clients.NewRegistry(list, cas)
	if err != nil {
		return err
	}
	dir := users.Empty()
	if a.Users != "" {
		if dir, err = users.LoadFile(a.Users); err != nil {
			return err
		}
	}
	a.users = users.NewLive(dir)
	alg, err := keys.ParseAlg(a.SigningAlg)
	if err != nil {
		return err
	}
	branding, err := a.Branding.build()
	if err != nil {
		return fmt.Errorf("ciba: %w", err)
	}
	st, key, err := a.openStorage(ctx)
	if err != nil {
		return err
	}
	a.storeKey = key
	ring, err := keys.LoadOrCreate(st, alg)
	if err != nil {
		return err
	}
	bindingMessage, _ := a.bindingMessage()
	a.provider = op.New(op.Config{
		Issuer:            a.Issuer,
		MTLSBase:          a.MTLSBase,
		AccessTokenTTL:    time.Duration(a.AccessTokenTTL),
		RefreshTokenTTL:   time.Duration(a.RefreshTokenTTL),
		FAPI:              a.FAPI,
		AuthReqTTL:        time.Duration(a.AuthReqTTL),
		MaxAuthReqTTL:     time.Duration(a.MaxAuthReqTTL),
		PollInterval:      time.Duration(a.PollInterval),
		BindingMessage:    bindingMessage,
		Lockout:           users.Lockout{Attempts: a.PasswordAttempts, Duration: time.Duration(a.PasswordLockout)},
		MaxPendingPerUser: a.MaxPendingPerUser,
		MaxDeliveries:     a.MaxDeliveries,
		Branding:          branding,
		AccessIdle:        time.Duration(accessIdle.Load()),
		Users:             a.users,
		Channels:          a.channels,
		Logger:            a.logger,
	}, st, ring, reg)
	// Background work starts last, once nothing above can fail; Cleanup stops it.
	var background context.Context
	background, a.stopBackground = context.WithCancel(context.Background())
	if a.Users != "" {
		go a.watchUsers(background, a.Users, a.users)
	}
	go a.maintainKeys(background, ring)
	return nil
}

func (a *App) setDefaults() {
	if a.SigningAlg == "" {
		a.SigningAlg = defaultSigningAlg
	}
	setDefault(&a.AuthReqTTL, defaultAuthReqTTL)
	setDefault(&a.MaxAuthReqTTL, defaultMaxAuthReqTTL)
	setDefault(&a.PollInterval, defaultPollInterval)
	setDefault(&a.AccessTokenTTL, defaultAccessTokenTTL)
	setDefault(&a.RefreshTokenTTL, defaultRefreshTTL)
	setDefault(&a.KeyPublishLead, defaultKeyPublishLead)
}

func setDefault(d *caddy.Duration, v time.Duration) {
	if *d == 0 {
		*d = caddy.Duration(v)
	}
}

// Validate checks the settings that need no file or store.
func (a *App) Validate() error {
	if a.Issuer == "" {
		return errors.New("ciba: issuer is required")
	}
	u, err := url.Parse(a.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("ciba: issuer %q must be an absolute https URL without query or fragment", a.Issuer)
	}
	if a.MTLSBase != "" {
		if u, err := url.Parse(a.MTLSBase); err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("ciba: mtls_base %q must be an absolute https URL", a.MTLSBase)
		}
	}
	if _, err := keys.ParseAlg(a.SigningAlg); err != nil && a.SigningAlg != "" {
		return fmt.Errorf("ciba: %w", err)
	}
	if a.FAPI && a.SigningAlg == "EdDSA" {
		return errors.New("ciba: fapi allows signing_alg PS256 or ES256 only")
	}
	if a.AuthReqTTL < 0 || a.MaxAuthReqTTL < 0 || a.PollInterval < 0 || a.AccessTokenTTL < 0 || a.RefreshTokenTTL < 0 ||
		a.PasswordLockout < 0 || a.PasswordAttempts < 0 || a.MaxPendingPerUser < 0 || a.KeyRotation < 0 || a.KeyPublishLead < 0 {
		return errors.New("ciba: durations and counts must be positive")
	}
	if a.MaxDeliveries < 0 || a.MaxDeliveries > maxDeliveriesCap {
		return fmt.Errorf("ciba: max_deliveries must be between 1 and %d", maxDeliveriesCap)
	}
	if a.MaxAuthReqTTL != 0 && a.AuthReqTTL > a.MaxAuthReqTTL {
		return errors.New("ciba: auth_req_ttl is longer than max_auth_req_ttl")
	}
	if _, err := a.bindingMessage(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(a.Clients))
	for i := range a.Clients {
		if err := a.Clients[i].validate(); err != nil {
			return fmt.Errorf("ciba: %w", err)
		}
		if a.FAPI && a.Clients[i].DeliveryMode == "push" {
			return fmt.Errorf("ciba: client %q: fapi does not allow push delivery", a.Clients[i].ID)
		}
		if seen[a.Clients[i].ID] {
			return fmt.Errorf("ciba: client %q is defined twice", a.Clients[i].ID)
		}
		seen[a.Clients[i].ID] = true
	}
	if err := a.Branding.validate(); err != nil {
		return fmt.Errorf("ciba: %w", err)
	}
	for i := range a.Notifiers {
		if err := a.Notifiers[i].validate(); err != nil {
			return fmt.Errorf("ciba: %w", err)
		}
	}
	return nil
}

// bindingMessage compiles the binding message pattern, anchored so it must match in full.
func (a *App) bindingMessage() (*regexp.Regexp, error) {
	if a.BindingMessagePattern == "" {
		return op.DefaultBindingMessage, nil
	}
	re, err := regexp.Compile(`^(?:` + a.BindingMessagePattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("ciba: binding_message_pattern: %w", err)
	}
	return re, nil
}

func loadCertPool(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ciba: client_ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ciba: client_ca %s holds no PEM certificate", path)
	}
	return pool, nil
}

// Start implements caddy.App: the delivery workers start, and take over what an earlier
// config left queued; the handlers do the serving.
func (a *App) Start() error {
	a.provider.StartDeliveries()
	return nil
}

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup stops this config's background work and releases its hold on the shared
// store. Deliveries not made yet stay queued there for the next config.
func (a *App) Cleanup() error {
	if a.stopBackground != nil {
		a.stopBackground()
	}
	if a.provider != nil {
		a.provider.Close()
	}
	err := releaseStore(a.storeKey)
	a.storeKey = ""
	return err
}

// Store is the app's state (for tests and tools).
func (a *App) Store() store.Store { return a.provider.Store }

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
