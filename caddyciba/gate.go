package caddyciba

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyciba/gateway/internal/op"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

func init() {
	caddy.RegisterModule(Gate{})
	httpcaddyfile.RegisterHandlerDirective("ciba_gate", parseGate)
	httpcaddyfile.RegisterDirectiveOrder("ciba_gate", httpcaddyfile.Before, "reverse_proxy")
}

// Gate lets a request through to the routes after it only with a live access token that
// the CIBA grant issued, presented in the Authorization header, over the certificate the
// token is bound to.
type Gate struct {
	store store.Reader
	now   func() time.Time
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
	g.store = app.(*App).provider.Store
	g.now = time.Now
	return nil
}

// ServeHTTP checks the token and passes the request on.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	w.Header().Set(interactionHeader, interactionID(r))
	tok, ok := op.BearerToken(r)
	if !ok {
		op.RefuseToken(w)
		return nil
	}
	rec, err := token.LookupAccess(g.store, tok, g.now())
	if err != nil || !rec.PresentedOver(r.TLS) {
		op.RefuseToken(w)
		return nil
	}
	if rec.Grant != token.CIBA {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", error_description="a token of the CIBA grant is required"`)
		w.WriteHeader(http.StatusForbidden)
		return nil
	}
	return next.ServeHTTP(w, r)
}

// UnmarshalCaddyfile sets up the gate from Caddyfile tokens. Syntax:
//
//	ciba_gate
func (g *Gate) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unrecognized ciba_gate option %q", d.Val())
	}
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
