package op

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// refreshGrant issues a new access token (and ID token) for a refresh token of this
// client whose consent is still Authorised. The refresh token is kept, not rotated.
func (p *Provider) refreshGrant(c *clients.Authenticated, form url.Values) (*TokenResponse, error) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, oauth.InvalidRequest("refresh_token is missing")
	}
	now := p.Now()
	return p.issueInTxn(func(t store.Txn) (*TokenResponse, *oauth.Error, error) {
		return p.refresh(t, rt, c, form, now)
	})
}

func (p *Provider) refresh(t store.Txn, rt string, c *clients.Authenticated, form url.Values, now time.Time) (*TokenResponse, *oauth.Error, error) {
	rec, err := refreshes.Lookup(t, rt, now)
	if errors.Is(err, token.ErrInvalid) {
		return nil, oauth.InvalidGrant("the refresh token is invalid, expired or revoked"), nil
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case rec.ClientID != c.Client.ID:
		return nil, oauth.InvalidGrant("the refresh token was issued to another client"), nil
	case rec.CertThumbprint != "" && rec.CertThumbprint != c.CertThumbprint:
		return nil, oauth.InvalidGrant("the refresh token is bound to another certificate"), nil
	}
	scope := rec.Scope
	if s := form.Get("scope"); s != "" {
		granted := strings.Fields(rec.Scope)
		for _, want := range strings.Fields(s) {
			if !slices.Contains(granted, want) {
				return nil, oauth.InvalidScope("the scope exceeds the original grant"), nil
			}
		}
		scope = strings.Join(strings.Fields(s), " ")
	}
	until, verdict, err := p.checkGrant(t, refreshGrant(rec), now)
	switch verdict {
	case grantUnreadable:
		return nil, nil, fmt.Errorf("the grant could not be read: %w", err)
	case grantOver, grantNotAuthorised:
		// The grant is over for good: drop the refresh token with the answer.
		return nil, oauth.InvalidGrant("the grant behind the refresh token is no longer authorised"), refreshes.Revoke(t, rt)
	}
	g := &userGrant{
		clientID: rec.ClientID, subject: rec.Subject, consentID: rec.ConsentID, scope: scope, acr: rec.ACR,
		thumbprint: rec.CertThumbprint, authTime: time.Unix(rec.AuthTime, 0), refreshKey: refreshes.Key(rt),
	}
	if g.thumbprint == "" {
		g.thumbprint = c.CertThumbprint
	}
	g.until = time.Unix(rec.ExpiresAt, 0)
	if !until.IsZero() && until.Before(g.until) {
		g.until = until
	}
	resp, _, err := p.issue(t, g, now, false, nil)
	return resp, nil, err
}
