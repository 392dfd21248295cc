package op

import (
	"net/http"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
)

// Metadata is the discovery document. It grows with what the gateway serves, and
// advertises nothing it does not do.
func (p *Provider) Metadata() map[string]any {
	methods := make([]string, len(clients.Methods))
	for i, m := range clients.Methods {
		methods[i] = string(m)
	}
	assertionAlgs := []string{}
	for _, a := range clients.AssertionAlgs {
		assertionAlgs = append(assertionAlgs, a.String())
	}
	md := map[string]any{
		"issuer":                 p.Issuer,
		"jwks_uri":               p.URL(PathJWKS),
		"token_endpoint":         p.URL(PathToken),
		"revocation_endpoint":    p.URL(PathRevocation),
		"introspection_endpoint": p.URL(PathIntrospection),
		"revocation_endpoint_auth_methods_supported":       methods,
		"introspection_endpoint_auth_methods_supported":    methods,
		"grant_types_supported":                            []string{"client_credentials"},
		"token_endpoint_auth_methods_supported":            methods,
		"token_endpoint_auth_signing_alg_values_supported": assertionAlgs,
		"id_token_signing_alg_values_supported":            []string{p.Keys.Alg().String()},
		"scopes_supported":                                 p.scopes(),
		"response_types_supported":                         []string{},
		"subject_types_supported":                          []string{"public"},
		"claims_parameter_supported":                       false,
		"tls_client_certificate_bound_access_tokens":       true,
	}
	if p.MTLSBase != "" {
		md["mtls_endpoint_aliases"] = map[string]string{
			"token_endpoint":         p.MTLSURL(PathToken),
			"revocation_endpoint":    p.MTLSURL(PathRevocation),
			"introspection_endpoint": p.MTLSURL(PathIntrospection),
		}
	}
	return md
}

func (p *Provider) scopes() []string {
	seen := map[string]bool{"openid": true}
	out := []string{"openid"}
	for _, c := range p.Clients.All() {
		for _, s := range c.Scopes {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// ServeDiscovery answers GET /.well-known/openid-configuration.
func (p *Provider) ServeDiscovery(w http.ResponseWriter, r *http.Request) {
	oauth.WriteJSON(w, http.StatusOK, p.Metadata())
}

// ServeJWKS answers GET /jwks with the public signing keys.
func (p *Provider) ServeJWKS(w http.ResponseWriter, r *http.Request) {
	oauth.WriteJSON(w, http.StatusOK, p.Keys.PublicSet())
}
