package op

import (
	"net/http"

	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/token"
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
		"issuer": p.Issuer,
		"revocation_endpoint_auth_methods_supported":                      methods,
		"introspection_endpoint_auth_methods_supported":                   methods,
		"grant_types_supported":                                           []string{"client_credentials", string(token.CIBA), string(token.RefreshToken)},
		"token_endpoint_auth_methods_supported":                           methods,
		"token_endpoint_auth_signing_alg_values_supported":                assertionAlgs,
		"id_token_signing_alg_values_supported":                           []string{p.Keys.Alg().String()},
		"scopes_supported":                                                p.scopes(),
		"response_types_supported":                                        []string{},
		"subject_types_supported":                                         []string{"public"},
		"claims_parameter_supported":                                      false,
		"tls_client_certificate_bound_access_tokens":                      true,
		"backchannel_token_delivery_modes_supported":                      p.deliveryModes(),
		"backchannel_authentication_request_signing_alg_values_supported": p.requestObjectAlgs(),
		"backchannel_user_code_parameter_supported":                       true,
		"acr_values_supported":                                            ACRValues,
		"claims_supported":                                                []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "acr", "openbanking_intent_id"},
	}
	aliases := map[string]string{}
	for _, e := range p.endpoints() {
		if e.metadata == "" {
			continue
		}
		md[e.metadata] = p.URL(e.path)
		if e.mtls && p.MTLSBase != "" {
			aliases[e.metadata] = p.MTLSURL(e.path)
		}
	}
	if len(aliases) > 0 {
		md["mtls_endpoint_aliases"] = aliases
	}
	return md
}

// deliveryModes are poll, ping and, outside FAPI mode, push.
func (p *Provider) deliveryModes() []string {
	if p.FAPI {
		return []string{clients.Poll, clients.Ping}
	}
	return []string{clients.Poll, clients.Ping, clients.Push}
}

func (p *Provider) requestObjectAlgs() []string {
	algs := ciba.RequestObjectAlgs
	if p.FAPI {
		algs = ciba.FAPIAlgs
	}
	out := make([]string, len(algs))
	for i, a := range algs {
		out[i] = a.String()
	}
	return out
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
