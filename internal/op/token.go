package op

import (
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/token"
)

// TokenResponse is the RFC 6749 §5.1 answer.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`

	consentID string
}

// ServeToken answers POST /token.
func (p *Provider) ServeToken(w http.ResponseWriter, r *http.Request) {
	resp, clientID, err := p.token(w, r)
	consentID := ""
	if resp != nil {
		consentID = resp.consentID
	}
	p.logStep(r.Context(), "token", clientID, consentID, err, zap.String("grant_type", grantLabel(r)))
	writeAnswer(w, resp, err)
}

// grantLabel is the grant type asked for, when it is one the gateway knows.
func grantLabel(r *http.Request) string {
	switch g := token.Grant(r.PostForm.Get("grant_type")); g {
	case token.ClientCredentials, token.CIBA, token.RefreshToken:
		return string(g)
	}
	return "other"
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) (*TokenResponse, string, error) {
	form, client, err := p.clientForm(w, r)
	if err != nil {
		return nil, "", err
	}
	var resp *TokenResponse
	grant := token.Grant(form.Get("grant_type"))
	switch grant {
	case token.ClientCredentials:
		if err = p.rateLimit(client.Client); err != nil {
			return nil, client.Client.ID, err
		}
		resp, err = p.clientCredentials(client, form)
	case token.CIBA:
		resp, err = p.cibaGrant(client, form)
	case token.RefreshToken:
		if err = p.rateLimit(client.Client); err != nil {
			return nil, client.Client.ID, err
		}
		resp, err = p.refreshGrant(client, form)
	case "":
		return nil, client.Client.ID, oauth.InvalidRequest("grant_type is missing")
	default:
		return nil, client.Client.ID, oauth.UnsupportedGrantType("grant_type " + string(grant) + " is not supported")
	}
	if err == nil {
		tokensIssued.WithLabelValues(string(grant)).Inc()
	}
	return resp, client.Client.ID, err
}

// requestedScopes splits a scope parameter; an absent scope asks for every registered scope
// except openid, which a client-credentials token has no use for.
func requestedScopes(form url.Values, c *clients.Client) []string {
	if s := strings.TrimSpace(form.Get("scope")); s != "" {
		return strings.Fields(s)
	}
	var out []string
	for _, s := range c.Scopes {
		if s != "openid" {
			out = append(out, s)
		}
	}
	return out
}
