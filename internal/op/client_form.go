package op

import (
	"net/http"
	"net/url"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
)

// clientForm reads the form of an OAuth endpoint and authenticates the client that sent it:
// the first step of /token, /revoke and /introspect.
func (p *Provider) clientForm(w http.ResponseWriter, r *http.Request) (url.Values, *clients.Authenticated, error) {
	form, err := oauth.ParseForm(w, r)
	if err != nil {
		return nil, nil, err
	}
	client, err := p.Auth.Authenticate(r, form)
	if err != nil {
		return nil, nil, err
	}
	return form, client, nil
}

// tokenParam is the token parameter of /revoke and /introspect (RFC 7009, RFC 7662).
func tokenParam(form url.Values) (string, error) {
	tok := form.Get("token")
	if tok == "" {
		return "", oauth.InvalidRequest("token is missing")
	}
	return tok, nil
}

// writeAnswer writes an endpoint's JSON answer, or its error.
func writeAnswer(w http.ResponseWriter, resp any, err error) {
	if err != nil {
		oauth.WriteError(w, err)
		return
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}
