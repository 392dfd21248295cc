package op

import (
	"slices"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/jose"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/users"
)

// resolveHint finds the user the request names with exactly one hint (CIBA Core §7.1).
// A disabled user is refused up-front (403 access_denied), at the start as at redemption.
func (p *Provider) resolveHint(c *clients.Client, params *ciba.Params) (*users.User, error) {
	given := 0
	for _, h := range []string{params.LoginHint, params.LoginHintToken, params.IDTokenHint} {
		if h != "" {
			given++
		}
	}
	if given != 1 {
		return nil, oauth.InvalidRequest("exactly one of login_hint, login_hint_token and id_token_hint is required")
	}
	var u *users.User
	switch {
	case params.LoginHint != "":
		u = p.Users.ByHint(params.LoginHint)
	case params.IDTokenHint != "":
		sub, err := p.idTokenHintSubject(c, params.IDTokenHint)
		if err != nil {
			return nil, err
		}
		u = p.Users.BySubject(sub)
	default:
		var err error
		if u, err = p.loginHintTokenUser(params.LoginHintToken); err != nil {
			return nil, err
		}
	}
	switch {
	case u == nil:
		return nil, oauth.UnknownUserID()
	case u.Disabled:
		return nil, oauth.AccessDenied("the user may not authenticate")
	}
	return u, nil
}

// idTokenHintSubject accepts an ID token this gateway signed for the client, expired or
// not (OpenID Connect Core §3.1.2.1), and returns its subject.
func (p *Provider) idTokenHintSubject(c *clients.Client, raw string) (string, error) {
	tok, err := p.Keys.ParseJWT([]byte(raw), jwt.WithValidate(false))
	if err != nil || tok.Issuer() != p.Issuer || tok.Subject() == "" || !slices.Contains(tok.Audience(), c.ID) {
		return "", oauth.InvalidRequest("id_token_hint is not an ID token this gateway issued to the client")
	}
	return tok.Subject(), nil
}

// loginHintTokenUser reads the UK Open Banking login_hint_token: a JWT (often unsigned)
// naming the user by sub, email or phone_number. It is a hint, no more trusted than a
// login_hint, so its signature is not what identifies the user; its exp is honoured.
func (p *Provider) loginHintTokenUser(raw string) (*users.User, error) {
	tok, err := jose.Unverified([]byte(raw))
	if err != nil {
		return nil, oauth.InvalidRequest("login_hint_token is not a JWT")
	}
	if exp := tok.Expiration(); !exp.IsZero() && !p.Now().Before(exp.Add(jose.Skew)) {
		return nil, oauth.ExpiredLoginHintToken()
	}
	if sub := tok.Subject(); sub != "" {
		if u := p.Users.BySubject(sub); u != nil {
			return u, nil
		}
		return p.Users.ByHint(sub), nil
	}
	for _, claim := range []string{"email", "phone_number"} {
		if v, ok := tok.Get(claim); ok {
			if s, ok := v.(string); ok && s != "" {
				return p.Users.ByHint(s), nil
			}
		}
	}
	return nil, oauth.InvalidRequest("login_hint_token names no user (sub, email or phone_number)")
}
