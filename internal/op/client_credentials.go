package op

import (
	"net/url"
	"strings"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// clientCredentials issues a TPP's own access token (for the consent endpoints).
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
	var tok string
	err := p.Store.Update(func(t store.Txn) error {
		var err error
		tok, err = accesses.Mint(t, rec, p.AccessTokenTTL)
		return err
	})
	if err != nil {
		return nil, oauth.ServerError("the token could not be stored", err)
	}
	return &TokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int64(p.AccessTokenTTL.Seconds()),
		Scope:       rec.Scope,
	}, nil
}
