package caddyciba

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyciba/gateway/internal/op"
)

func init() {
	caddy.RegisterModule(Endpoints{})
	httpcaddyfile.RegisterHandlerDirective("ciba_endpoints", parseEndpoints)
	// Early, so a site's own routes (a gated /open-banking/... route) never shadow the
	// fixed endpoint paths; other paths pass through.
	httpcaddyfile.RegisterDirectiveOrder("ciba_endpoints", httpcaddyfile.Before, "invoke")
}

// Endpoints serves the gateway's OAuth, consent and device endpoints at the paths DESIGN
// fixes; requests to any other path go to the next handler.
type Endpoints struct {
	app *App
}

// CaddyModule returns the Caddy module information.
func (Endpoints) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.ciba",
		New: func() caddy.Module { return new(Endpoints) },
	}
}

// Provision finds the ciba app.
func (e *Endpoints) Provision(ctx caddy.Context) error {
	app, err := ctx.App("ciba")
	if err != nil {
		return fmt.Errorf("ciba_endpoints needs the ciba app: %w", err)
	}
	e.app = app.(*App)
	return nil
}

// ServeHTTP serves the endpoint at the request's path.
func (e *Endpoints) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	h, ok := e.app.provider.Handler(r.URL.Path)
	if !ok {
		return next.ServeHTTP(w, r)
	}
	id := interactionID(r)
	w.Header().Set(interactionHeader, id)
	h(w, r.WithContext(op.WithInteraction(r.Context(), id)))
	return nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	ciba_endpoints [<matcher>]
//
// It takes no options: everything is configured in the ciba global option.
func (e *Endpoints) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("ciba_endpoints takes no options; configure the global ciba block")
	}
	return nil
}

func parseEndpoints(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var e Endpoints
	err := e.UnmarshalCaddyfile(h.Dispenser)
	return &e, err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Endpoints)(nil)
	_ caddyhttp.MiddlewareHandler = (*Endpoints)(nil)
	_ caddyfile.Unmarshaler       = (*Endpoints)(nil)
)
