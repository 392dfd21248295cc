package op

import (
	"errors"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// grantVerdict is whether a user's grant still holds.
type grantVerdict int

const (
	grantHolds grantVerdict = iota
	// grantOver: the client, the user, the consent or the refresh token is gone, disabled
	// or expired; the token no longer counts (401 at the gate).
	grantOver
	// grantNotAuthorised: the consent exists but is not Authorised for this client (403).
	grantNotAuthorised
	// grantUnreadable: the store failed; nothing can be proven (500).
	grantUnreadable
)

// grantRef is what a token records of the grant it stands for.
type grantRef struct {
	clientID, subject, consentID string
	// refreshKey is the store key of the grant's refresh token, when the token has one.
	refreshKey string
}

// checkGrant is the one judgement of a user's grant, made by the gate on every request and
// by introspection, so that introspection answers what the gate would decide: the grant
// holds while its client is registered, its user is in the users file and not disabled,
// its refresh token (if any) is neither revoked nor expired, and its consent is this client's, Authorised
// and unexpired. It returns the consent when the grant holds.
func (p *Provider) checkGrant(r store.Reader, g grantRef, now time.Time) (*consent.Consent, grantVerdict) {
	c, v, _, _ := p.judgeGrant(r, g, now)
	return c, v
}

// judgeGrant is checkGrant with, for a grant that is over, why (a why* constant, for the
// gate's error_description), and for an unreadable one the store's error; neither costs
// anything on the path where the grant holds.
func (p *Provider) judgeGrant(r store.Reader, g grantRef, now time.Time) (*consent.Consent, grantVerdict, string, error) {
	if g.consentID == "" {
		return nil, grantOver, whyConsentGone, nil
	}
	if p.Clients.Lookup(g.clientID) == nil {
		return nil, grantOver, whyClient, nil
	}
	if u := p.Users.BySubject(g.subject); u == nil || u.Disabled {
		return nil, grantOver, whyUser, nil
	}
	if g.refreshKey != "" {
		rt, err := p.refreshRecords.Get(r, g.refreshKey)
		switch {
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, token.ErrInvalid) || (err == nil && !rt.Live(now)):
			return nil, grantOver, whyRefresh, nil
		case err != nil:
			return nil, grantUnreadable, "", err
		}
	}
	c, err := p.consentRecords.Get(r, consent.StoreKey(g.consentID))
	switch {
	case errors.Is(err, store.ErrNotFound):
		// A deleted or expired consent ends its tokens (UK OB: 401).
		return nil, grantOver, whyConsentGone, nil
	case err == nil && c.Expired(now):
		return nil, grantOver, whyConsentOver, nil
	case err != nil:
		return nil, grantUnreadable, "", err
	case c.Status != consent.Authorised || c.ClientID != g.clientID:
		return c, grantNotAuthorised, "", nil
	}
	return c, grantHolds, "", nil
}

// accessGrant is the grant an access token stands for.
func accessGrant(a *token.Access) grantRef {
	return grantRef{clientID: a.ClientID, subject: a.Subject, consentID: a.ConsentID, refreshKey: a.Refresh}
}

// refreshGrant is the grant a refresh token stands for.
func refreshGrantOf(key string, rt *token.Refresh) grantRef {
	return grantRef{clientID: rt.ClientID, subject: rt.Subject, consentID: rt.ConsentID, refreshKey: key}
}
