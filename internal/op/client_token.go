package op

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/token"
)

// clientTokenKey is the key of the self-contained client-credentials tokens, read from the
// store (or made there) on first use and kept: it never changes once stored.
// A failure to read it is retried at the next use.
type clientTokenKey struct {
	mu  sync.Mutex
	key atomic.Pointer[token.ClientTokenKey]
}

func (p *Provider) clientKey() (*token.ClientTokenKey, error) {
	if k := p.ccKey.key.Load(); k != nil {
		return k, nil
	}
	p.ccKey.mu.Lock()
	defer p.ccKey.mu.Unlock()
	if k := p.ccKey.key.Load(); k != nil {
		return k, nil
	}
	k, err := token.LoadOrCreateClientKey(p.Store, p.Issuer)
	if err != nil {
		return nil, err
	}
	p.ccKey.key.Store(k)
	return k, nil
}

// LookupAccess returns the live record of an access token of either form: a
// self-contained client-credentials token made by this gateway's key and not revoked, or
// a token whose record is stored (CIBA and refresh grants, and client-credentials tokens
// minted before they were self-contained). It returns token.ErrInvalid for a token that
// is unknown, tampered with, of another key, expired or revoked; any other error is the
// store's.
func (p *Provider) LookupAccess(tok string, now time.Time) (*token.Access, error) {
	if !token.IsSelfContained(tok) {
		return accesses.Lookup(p.Store, tok, now)
	}
	a, err := p.verifyClientToken(tok, now)
	if err != nil {
		return nil, err
	}
	switch revoked, err := revocations.Revoked(p.Store, a.TokenID); {
	case err != nil:
		return nil, err
	case revoked:
		return nil, token.ErrInvalid
	}
	return a, nil
}

// verifyClientToken checks a self-contained token's MAC and expiry, not its revocation.
func (p *Provider) verifyClientToken(tok string, now time.Time) (*token.Access, error) {
	k, err := p.clientKey()
	if err != nil {
		return nil, err
	}
	a, err := k.Verify(tok)
	if err != nil {
		return nil, err
	}
	if !a.Live(now) {
		return nil, token.ErrInvalid
	}
	return a, nil
}

// refuseAtGate is the gate's answer to a self-contained token: it stands for a client, not
// for a user's consent, so when it is good it is refused as the wrong kind (403,
// insufficient_scope), as a stored client-credentials token is; otherwise it is the 401
// of any token that cannot be used.
func (p *Provider) refuseAtGate(r *http.Request, tok string, now time.Time) *obie.Error {
	k, err := p.clientKey()
	if err != nil {
		return obie.Unexpected("the token key could not be read", err)
	}
	a, err := k.Verify(tok)
	if err != nil {
		return p.refuseToken(whyUnknown)
	}
	revoked, err := revocations.Revoked(p.Store, a.TokenID)
	switch {
	case err != nil:
		return obie.Unexpected("the token could not be read", err)
	case revoked:
		return p.refuseToken(whyUnknown)
	case !a.Live(now):
		return p.refuseToken(whyExpired)
	case !a.PresentedOver(r.TLS):
		return p.refuseToken(whyCertificate)
	}
	return p.refuseNotCIBA()
}
