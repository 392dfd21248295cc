package op

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/users"
)

// authParamNames are the authentication request parameters of CIBA Core §7.1 (and the
// consent); with a signed request they must be inside it (§7.1.1).
var authParamNames = []string{
	"scope", "client_notification_token", "acr_values", "login_hint_token", "id_token_hint",
	"login_hint", "binding_message", "user_code", "requested_expiry", ciba.IntentParam,
}

// ACRValues are the authentication context classes the gateway reports: the UK Open
// Banking ones, both met by the bank's approval on the device.
var ACRValues = []string{"urn:openbanking:psd2:sca", "urn:openbanking:psd2:ca"}

// maxNotificationToken is CIBA Core §7.1's limit on client_notification_token.
const maxNotificationToken = 1024

// b64token is RFC 6750 §2.1's bearer token syntax.
var b64token = regexp.MustCompile(`^[A-Za-z0-9._~+/-]+=*$`)

// authParams reads the parameters from the signed request object, or from the form
// where unsigned requests are allowed.
func (p *Provider) authParams(form url.Values, c *clients.Client) (*ciba.Params, error) {
	if form.Has("request_uri") {
		return nil, oauth.InvalidRequest("request_uri is not supported")
	}
	if form.Has("request") {
		for _, name := range authParamNames {
			if form.Has(name) {
				return nil, oauth.InvalidRequest(name + " must be inside the signed request")
			}
		}
		algs := ciba.RequestObjectAlgs
		if p.FAPI {
			algs = ciba.FAPIAlgs
		}
		ro := ciba.RequestObject{Issuer: p.Issuer, Algs: algs, Replay: p.Store}
		return ro.Verify(form.Get("request"), c.ID, c.JWKS, p.Now())
	}
	if p.FAPI {
		return nil, oauth.InvalidRequest("a signed request object is required")
	}
	params := &ciba.Params{
		Scope:                   form.Get("scope"),
		LoginHint:               form.Get("login_hint"),
		LoginHintToken:          form.Get("login_hint_token"),
		IDTokenHint:             form.Get("id_token_hint"),
		BindingMessage:          form.Get("binding_message"),
		UserCode:                form.Get("user_code"),
		ClientNotificationToken: form.Get("client_notification_token"),
		ACRValues:               form.Get("acr_values"),
		ConsentID:               form.Get(ciba.IntentParam),
	}
	if form.Has("requested_expiry") {
		n, err := ciba.ParseRequestedExpiry(form.Get("requested_expiry"))
		if err != nil {
			return nil, oauth.InvalidRequest(err.Error())
		}
		params.RequestedExpiry = n
	}
	return params, nil
}

// checkAuthRequest applies CIBA Core §7.2's checks in node-oidc-provider's order: scope,
// notification token, expiry, binding message, the hint, the user code, the consent.
func (p *Provider) checkAuthRequest(client *clients.Authenticated, params *ciba.Params) (*authRequest, error) {
	c := client.Client
	scopes := strings.Fields(params.Scope)
	switch {
	case len(scopes) == 0:
		return nil, oauth.InvalidRequest("scope is required")
	case !slices.Contains(scopes, "openid"):
		return nil, oauth.InvalidScope("scope must contain openid")
	case !c.AllowsScope(scopes):
		return nil, oauth.InvalidScope("the requested scope is not allowed for this client")
	}
	if c.DeliveryMode != clients.Poll {
		tok := params.ClientNotificationToken
		switch {
		case tok == "":
			return nil, oauth.InvalidRequest("client_notification_token is required in " + c.DeliveryMode + " mode")
		case len(tok) > maxNotificationToken || !b64token.MatchString(tok):
			return nil, oauth.InvalidRequest("client_notification_token must be a bearer token of at most 1024 characters")
		}
	}
	ttl := p.AuthReqTTL
	if params.RequestedExpiry > 0 {
		ttl = min(time.Duration(params.RequestedExpiry)*time.Second, p.MaxAuthReqTTL)
	}
	switch msg := params.BindingMessage; {
	case msg == "" && p.FAPI:
		return nil, oauth.InvalidRequest("binding_message is required")
	case msg != "" && !p.BindingMessage.MatchString(msg):
		return nil, oauth.InvalidBindingMessage("the binding_message is too long or has characters outside the allowed set")
	}
	user, err := p.resolveHint(c, params)
	if err != nil {
		return nil, err
	}
	if c.UserCode {
		if err := p.checkUserCode(user, params.UserCode); err != nil {
			return nil, err
		}
	}
	cons, err := p.awaitingConsent(c.ID, params.ConsentID, scopes)
	if err != nil {
		return nil, err
	}
	// A payment's request ends at its cut-off: an approval after it could not authorise.
	if end := cons.awaitingUntil(); !end.IsZero() {
		if left := end.Sub(p.Now()).Truncate(time.Second); left < ttl {
			if left < time.Second {
				return nil, oauth.InvalidRequest(errIntentCutOff.Error())
			}
			ttl = left
		}
	}
	return &authRequest{
		client: client, user: user, consent: cons, params: params,
		scope: strings.Join(scopes, " "), acr: pickACR(params.ACRValues), ttl: ttl,
	}, nil
}

// checkUserCode checks the user code, the user's password, under the same lockout as the
// approval page. A locked user hears the same answer as a wrong code, right code or not:
// the endpoint tells a guesser nothing, whether the guess was right or the user locked.
func (p *Provider) checkUserCode(u *users.User, code string) error {
	if code == "" {
		return oauth.MissingUserCode()
	}
	v, err := p.Lockout.Check(p.Store, u, code, p.Now())
	var locked *users.LockedError
	switch {
	case errors.As(err, &locked):
		return oauth.InvalidUserCode()
	case err != nil:
		return oauth.ServerError("the user code could not be checked", err)
	case !v.OK:
		return oauth.InvalidUserCode()
	}
	return nil
}

// awaitingConsent is the client's own consent, of any kind, still awaiting authorisation,
// and asked for with its kind's scope.
func (p *Provider) awaitingConsent(clientID, id string, scopes []string) (*intent, error) {
	if id == "" {
		return nil, oauth.InvalidRequest("the request must name the consent (openbanking_intent_id)")
	}
	in, err := readIntent(p.Store, id)
	switch {
	case errors.Is(err, errIntentUnknown) || (err == nil && in.clientID() != clientID):
		return nil, oauth.InvalidRequest(errIntentUnknown.Error())
	case err != nil:
		return nil, oauth.ServerError("the consent could not be read", err)
	case !in.kind.scopeMatches(scopes):
		return nil, oauth.InvalidScope("the scope does not match the kind of the consent: use " + resourceScopes[in.kind] + " and no other kind's scope")
	}
	if err := in.awaiting(p.Now()); err != nil {
		return nil, oauth.InvalidRequest(err.Error())
	}
	return in, nil
}

// pickACR is the first requested class the gateway can report, or none.
func pickACR(values string) string {
	for _, v := range strings.Fields(values) {
		if slices.Contains(ACRValues, v) {
			return v
		}
	}
	return ""
}
