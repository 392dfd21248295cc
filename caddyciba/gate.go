package caddyciba

import (
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/dustin/go-humanize"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/op"
)

func init() {
	caddy.RegisterModule(Gate{})
	httpcaddyfile.RegisterHandlerDirective("ciba_gate", parseGate)
	httpcaddyfile.RegisterDirectiveOrder("ciba_gate", httpcaddyfile.Before, "reverse_proxy")
}

// Gate lets a request through to the routes after it only with a live access token that
// the CIBA grant issued, presented in the Authorization header over the certificate it is
// bound to, whose consent is Authorised and covers the endpoint and the account. What it
// admits reaches the upstream with the user, consent, client and accounts in headers.
type Gate struct {
	// SubjectHeader carries the user's subject to the upstream. Default X-Ciba-Subject.
	SubjectHeader string `json:"subject_header,omitempty"`
	// ConsentHeader carries the ConsentId. Default X-Ciba-Consent-Id.
	ConsentHeader string `json:"consent_header,omitempty"`
	// ClientHeader carries the TPP's client_id. Default X-Ciba-Client-Id.
	ClientHeader string `json:"client_header,omitempty"`
	// AccountsHeader carries the selected AccountIds, comma-separated. Default X-Ciba-Accounts.
	AccountsHeader string `json:"accounts_header,omitempty"`
	// PassAuthorization keeps the TPP's Authorization header on the upstream request.
	PassAuthorization bool `json:"pass_authorization,omitempty"`
	// MaxItemSize is the largest JSON value of a bank answer the filter reads whole: one
	// list item, or Links, or Meta. An answer holding a larger one is refused with a 502.
	// Default 1 MiB.
	MaxItemSize int64 `json:"max_item_size,omitempty"`
	// MaxBodySize is the largest bank answer the gate filters; a larger one is refused
	// with a 502, or cut short if it was already streaming. Default 64 MiB.
	MaxBodySize int64 `json:"max_body_size,omitempty"`

	provider *op.Provider
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Gate) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.ciba_gate",
		New: func() caddy.Module { return new(Gate) },
	}
}

// Provision finds the ciba app's store.
func (g *Gate) Provision(ctx caddy.Context) error {
	app, err := ctx.App("ciba")
	if err != nil {
		return fmt.Errorf("ciba_gate needs the ciba app: %w", err)
	}
	g.provider = app.(*App).provider
	g.logger = ctx.Logger()
	if g.MaxItemSize <= 0 {
		g.MaxItemSize = consent.DefaultMaxValue
	}
	if g.MaxBodySize <= 0 {
		g.MaxBodySize = consent.DefaultMaxBody
	}
	if g.MaxItemSize > g.MaxBodySize {
		return fmt.Errorf("ciba_gate: max_item_size %d is larger than max_body_size %d", g.MaxItemSize, g.MaxBodySize)
	}
	setDefaultString(&g.SubjectHeader, "X-Ciba-Subject")
	setDefaultString(&g.ConsentHeader, "X-Ciba-Consent-Id")
	setDefaultString(&g.ClientHeader, "X-Ciba-Client-Id")
	setDefaultString(&g.AccountsHeader, "X-Ciba-Accounts")
	return nil
}

func countRefusal(status int) {
	switch status {
	case http.StatusUnauthorized:
		op.GateInvalidToken.Inc()
	case http.StatusForbidden:
		op.GateForbidden.Inc()
	case http.StatusNotFound:
		op.GateNotFound.Inc()
	default:
		op.GateError.Inc()
	}
}

func setDefaultString(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// ServeHTTP admits the request or answers the refusal; a refused request never reaches
// the handlers after the gate.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	id := interactionID(r)
	w.Header().Set(interactionHeader, id)
	adm, refusal := g.provider.Admit(r)
	if refusal != nil {
		countRefusal(refusal.Status())
		refusal.Write(w)
		return nil
	}
	op.GateAllowed.Inc()
	h := r.Header
	h.Set(interactionHeader, id)
	h.Set(g.SubjectHeader, adm.Consent.Subject)
	h.Set(g.ConsentHeader, adm.Consent.ID)
	h.Set(g.ClientHeader, adm.Token.ClientID)
	h.Set(g.AccountsHeader, strings.Join(adm.Consent.AccountIDs, ","))
	if !g.PassAuthorization {
		h.Del("Authorization")
	}
	// The filter reads the upstream's body, so ask for it uncompressed.
	h.Del("Accept-Encoding")
	caddyhttp.SetVar(r.Context(), "ciba.consent_id", adm.Consent.ID)
	caddyhttp.SetVar(r.Context(), "ciba.subject", adm.Consent.Subject)
	caddyhttp.SetVar(r.Context(), "ciba.client_id", adm.Token.ClientID)
	return g.serveFiltered(w, r, next, adm)
}

// serveFiltered runs the routes after the gate through the consent's filter.
func (g *Gate) serveFiltered(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, adm *op.Admission) error {
	return newFilterWriter(w, g, adm).serve(r, next)
}

// UnmarshalCaddyfile sets up the gate from Caddyfile tokens. Syntax:
//
//	ciba_gate {
//		subject_header  <name>
//		consent_header  <name>
//		client_header   <name>
//		accounts_header <name>
//		pass_authorization
//		max_item_size   <size>
//		max_body_size   <size>
//	}
//
// Sizes are in bytes or with a unit, as 1MiB or 64MB.
func (g *Gate) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "subject_header":
			err = oneArg(d, &g.SubjectHeader)
		case "consent_header":
			err = oneArg(d, &g.ConsentHeader)
		case "client_header":
			err = oneArg(d, &g.ClientHeader)
		case "accounts_header":
			err = oneArg(d, &g.AccountsHeader)
		case "pass_authorization":
			if d.NextArg() {
				err = d.ArgErr()
			}
			g.PassAuthorization = true
		case "max_item_size":
			err = sizeArg(d, &g.MaxItemSize)
		case "max_body_size":
			err = sizeArg(d, &g.MaxBodySize)
		default:
			err = d.Errf("unrecognized ciba_gate option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sizeArg reads one size, as 1MiB or 500KB, the way Caddy reads request_body's max_size.
func sizeArg(d *caddyfile.Dispenser, n *int64) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	size, err := humanize.ParseBytes(s)
	if err != nil || size == 0 || size > math.MaxInt64 {
		return d.Errf("invalid size %q", s)
	}
	*n = int64(size)
	return nil
}

func parseGate(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var g Gate
	err := g.UnmarshalCaddyfile(h.Dispenser)
	return &g, err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Gate)(nil)
	_ caddyhttp.MiddlewareHandler = (*Gate)(nil)
	_ caddyfile.Unmarshaler       = (*Gate)(nil)
)
