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
	// grantOver: the client, the user or the consent is gone, disabled or expired; the
	// token no longer counts (401 at the gate).
	grantOver
	// grantNotAuthorised: the consent exists but is not Authorised for this client (403).
	grantNotAuthorised
	// grantUnreadable: the store failed; nothing can be proven (500).
	grantUnreadable
)

// grantRef is what a token records of the grant it stands for.
type grantRef struct {
	clientID, subject, consentID string
}

// checkGrant is the one judgement of a user's grant, made by the gate on every request and
// by introspection and the refresh grant, so that they answer what the gate would decide:
// the grant holds while its client is registered, its user is in the users file and not
// disabled, and its consent — of any kind — is this client's and usable (an account or
// funds consent Authorised and unexpired, a payment consent Authorised and not yet spent).
// It returns when the grant ends (zero: never), and for an unreadable grant the store's
// error. A refresh token's revocation or expiry needs no read here: revoking it deletes
// the access tokens issued under it (token.RevokeRefresh), and none outlives it.
func (p *Provider) checkGrant(r store.Reader, g grantRef, now time.Time) (until time.Time, verdict grantVerdict, err error) {
	if kindOf(g.consentID) != accountAccess {
		return p.checkIntentGrant(r, g, now)
	}
	var c *consent.Consent
	err = store.ErrNotFound
	if g.consentID != "" {
		c, err = p.consentRecords.Get(r, consent.StoreKey(g.consentID))
	}
	c, verdict, _, err = p.judgeGrant(g, c, err, now)
	if verdict == grantHolds && c.Expiration != nil {
		until = c.Expiration.Time
	}
	return until, verdict, err
}

// checkIntentGrant is checkGrant for a payment or funds consent.
func (p *Provider) checkIntentGrant(r store.Reader, g grantRef, now time.Time) (time.Time, grantVerdict, error) {
	if p.partiesGone(g) != "" {
		return time.Time{}, grantOver, nil
	}
	in, err := readIntent(r, g.consentID)
	switch {
	case errors.Is(err, errIntentUnknown):
		return time.Time{}, grantOver, nil
	case err != nil:
		return time.Time{}, grantUnreadable, err
	case in.clientID() != g.clientID || !in.usable(now):
		return time.Time{}, grantNotAuthorised, nil
	}
	return in.until(), grantHolds, nil
}

// partiesGone is why a grant's client or user no longer counts (a why* constant), or "".
func (p *Provider) partiesGone(g grantRef) string {
	if p.Clients.Lookup(g.clientID) == nil {
		return whyClient
	}
	if u := p.Users.BySubject(g.subject); u == nil || u.Disabled {
		return whyUser
	}
	return ""
}

// judgeGrant is checkGrant of an account-access grant on its consent as read (c, or the
// error reading it), with, for a grant that is over, why (a why* constant, for the gate's
// error_description), and for an unreadable one the store's error; neither costs
// anything on the path where the grant holds.
func (p *Provider) judgeGrant(g grantRef, c *consent.Consent, err error, now time.Time) (*consent.Consent, grantVerdict, string, error) {
	if g.consentID == "" {
		return nil, grantOver, whyConsentGone, nil
	}
	if why := p.partiesGone(g); why != "" {
		return nil, grantOver, why, nil
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		// A deleted or expired consent ends its tokens (UK OB: 401).
		return nil, grantOver, whyConsentGone, nil
	case err == nil && c.Expired(now):
		return nil, grantOver, whyConsentOver, nil
	case err != nil:
		return nil, grantUnreadable, "", err
	case !c.Usable(now) || c.ClientID != g.clientID:
		return c, grantNotAuthorised, "", nil
	}
	return c, grantHolds, "", nil
}

// accessGrant is the grant an access token stands for.
func accessGrant(a *token.Access) grantRef {
	return grantRef{clientID: a.ClientID, subject: a.Subject, consentID: a.ConsentID}
}

// refreshGrant is the grant a refresh token stands for.
func refreshGrant(rt *token.Refresh) grantRef {
	return grantRef{clientID: rt.ClientID, subject: rt.Subject, consentID: rt.ConsentID}
}
