package op

import (
	"errors"
	"net/url"
	"time"

	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
)

// cibaGrant redeems an auth_req_id (CIBA Core §10.1): the poll, its decision and the
// minting are one transaction, so racing polls mint one token set.
func (p *Provider) cibaGrant(c *clients.Authenticated, form url.Values) (*TokenResponse, error) {
	if c.Client.DeliveryMode == clients.Push {
		return nil, oauth.UnauthorizedClient("a push client receives its tokens at its notification endpoint")
	}
	id := form.Get("auth_req_id")
	if id == "" {
		return nil, oauth.InvalidRequest("auth_req_id is missing")
	}
	now := p.Now()
	return p.issueInTxn(func(t store.Txn) (*TokenResponse, *oauth.Error, error) {
		req, answer, err := requests.Poll(t, id, c.Client.ID, now)
		if err != nil || answer != nil {
			return nil, answer, err
		}
		return p.redeem(t, requests.Key(id), req, c.CertThumbprint, now)
	})
}

// redeem mints the token set of an approved request, unless the user was disabled or the
// consent ended since the approval: the access token bound to the consent, of the scope
// requested, and a refresh token where the consent's kind has one (mintsRefresh).
func (p *Provider) redeem(t store.Txn, key string, req *ciba.Request, thumbprint string, now time.Time) (*TokenResponse, *oauth.Error, error) {
	if u := p.Users.BySubject(req.Subject); u == nil || u.Disabled {
		req.State = ciba.Denied
		return nil, oauth.TokenDenied(), requests.Save(t, key, req, now)
	}
	in, err := readIntent(t, req.ConsentID)
	if errors.Is(err, errIntentUnknown) || (err == nil && (!in.usable(now) || in.clientID() != req.ClientID)) {
		return nil, oauth.InvalidGrant("the consent is no longer authorised"), nil
	}
	if err != nil {
		return nil, nil, err
	}
	resp, minted, err := p.issue(t, grantOf(req, thumbprint, in), now, in.kind.mintsRefresh(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Minted = minted
	return resp, nil, requests.Save(t, key, req, now)
}
