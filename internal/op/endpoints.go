package op

import (
	"net/http"
	"strings"
)

// endpoint is one of the gateway's own endpoints: the path it is served at, which request
// paths it takes, its handler, and how the discovery document names it. The one table of
// them (endpoints) serves both routing (Handler) and discovery (Metadata), so an endpoint
// cannot be routed and not advertised, or the other way round.
type endpoint struct {
	path string
	// under: the endpoint also takes the paths below its own (a resource and its ids);
	// resource: only its own path and one id below it, so a resource's sub-resources
	// (…/{ConsentId}/funds-confirmation) go on to the gate.
	under, resource bool
	serve           http.HandlerFunc
	// metadata is the discovery member holding its URL ("" none); mtls also lists it in
	// mtls_endpoint_aliases, and a client assertion may name it as its audience.
	metadata string
	mtls     bool
}

func (p *Provider) endpoints() []endpoint {
	return []endpoint{
		{path: PathDiscovery, serve: getOnly(p.ServeDiscovery)},
		{path: PathJWKS, serve: getOnly(p.ServeJWKS), metadata: "jwks_uri"},
		{path: PathToken, serve: p.ServeToken, metadata: "token_endpoint", mtls: true},
		{path: PathBackchannel, serve: p.ServeBackchannel, metadata: "backchannel_authentication_endpoint", mtls: true},
		{path: PathRevocation, serve: p.ServeRevocation, metadata: "revocation_endpoint", mtls: true},
		{path: PathIntrospection, serve: p.ServeIntrospection, metadata: "introspection_endpoint", mtls: true},
		{path: PathAccess, serve: p.ServeAccess},
		{path: PathLogo, serve: p.ServeLogo},
		{path: PathDevice, under: true, serve: p.ServeDevice},
		{path: PathConsents, under: true, serve: p.ServeConsents},
		{path: PathPaymentConsents, resource: true, serve: p.ServePaymentConsents},
		{path: PathFundsConsents, resource: true, serve: p.ServeFundsConsents},
	}
}

// routes is the endpoint table made ready for Handler: the exact paths in a map, the
// others in the table's order.
type routes struct {
	exact map[string]http.HandlerFunc
	other []endpoint
}

func newRoutes(table []endpoint) routes {
	r := routes{exact: make(map[string]http.HandlerFunc)}
	for _, e := range table {
		if e.under || e.resource {
			r.other = append(r.other, e)
		} else {
			r.exact[e.path] = e.serve
		}
	}
	return r
}

// Handler is the endpoint that serves path, if it is one of the gateway's own; every
// other path (the account and payment APIs behind the gate) is not.
func (p *Provider) Handler(path string) (http.HandlerFunc, bool) {
	if h, ok := p.routes.exact[path]; ok {
		return h, true
	}
	for _, e := range p.routes.other {
		switch {
		case e.under && strings.HasPrefix(path, e.path):
			return e.serve, true
		case e.resource:
			if _, _, ok := ConsentResource(path, e.path); ok {
				return e.serve, true
			}
		}
	}
	return nil, false
}

// audiences are what a client assertion may name as its aud: the issuer or an endpoint it
// is sent to (CIBA §7.1), at either base URL.
func (p *Provider) audiences() []string {
	out := []string{p.Issuer}
	for _, e := range p.endpoints() {
		if !e.mtls {
			continue
		}
		out = append(out, p.URL(e.path))
		if p.MTLSBase != "" {
			out = append(out, p.MTLSURL(e.path))
		}
	}
	return out
}

// getOnly answers 405 for a method other than GET and HEAD.
func getOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h(w, r)
	}
}
