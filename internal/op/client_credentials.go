package op

import (
	"net/url"
	"strings"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/token"
)

// clientCredentials issues a TPP's own access token (for the consent endpoints): a
// self-contained token (token.ClientTokenKey), revoked by its jti.
func (p *Provider) clientCredentials(c *clients.Authenticated, form url.Values) (*TokenResponse, error) {
	scopes := requestedScopes(form, c.Client)
	if len(scopes) == 0 || !c.Client.AllowsScope(scopes) {
		return nil, oauth.InvalidScope("the requested scope is not allowed for this client")
	}
	now := p.Now()
	rec := &token.Access{
		ClientID:       c.Client.ID,
		Grant:          token.ClientCredentials,
		Scope:          strings.Join(scopes, " "),
		CertThumbprint: c.CertThumbprint,
		IssuedAt:       now.Unix(),
		ExpiresAt:      now.Add(p.AccessTokenTTL).Unix(),
	}
	// Self-contained: nothing to store, so nothing to wait for and nothing a crash loses.
	k, err := p.clientKey()
	if err != nil {
		return nil, oauth.ServerError("the token key could not be read", err)
	}
	tok, err := k.Mint(rec)
	if err != nil {
		return nil, oauth.ServerError("the token could not be made", err)
	}
	return &TokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int64(p.AccessTokenTTL.Seconds()),
		Scope:       rec.Scope,
	}, nil
}
