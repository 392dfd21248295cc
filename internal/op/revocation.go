package op

import (
	"errors"
	"net/http"

	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// PathRevocation is the RFC 7009 endpoint.
const PathRevocation = "/revoke"

// ServeRevocation answers POST /revoke: the client's own access or refresh token is deleted
// (a self-contained one recorded revoked) and stops working on the next request; an
// unknown or expired token is answered 200 all the same.
// Revoking a refresh token ends the access tokens of its grant too (RFC 7009 §2.1): they
// name it, and the gate and introspection refuse a token whose refresh token is gone.
func (p *Provider) ServeRevocation(w http.ResponseWriter, r *http.Request) {
	if err := p.revoke(w, r); err != nil {
		p.logFailure(r.Context(), "revocation", err)
		oauth.WriteError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) error {
	form, client, err := p.clientForm(w, r)
	if err != nil {
		return err
	}
	tok, err := tokenParam(form)
	if err != nil {
		return err
	}
	err = p.Store.Update(func(t store.Txn) error {
		owner, drop, err := p.findRevocable(t, tok)
		if err != nil || drop == nil {
			return err
		}
		if owner != client.Client.ID {
			return oauth.InvalidRequest("the token was not issued to this client")
		}
		return drop(t)
	})
	if _, ok := errors.AsType[*oauth.Error](err); ok {
		return err
	}
	if err != nil {
		return oauth.ServerError("the revocation could not be stored", err)
	}
	return nil
}

// findRevocable finds tok as an access token, then as a refresh token (token_type_hint is
// only a hint, RFC 7009 §2.1), and returns its client and how to delete it; drop is nil
// for a token that is unknown or expired.
func (p *Provider) findRevocable(t store.Txn, tok string) (owner string, drop func(store.Txn) error, err error) {
	now := p.Now()
	if token.IsSelfContained(tok) {
		// Nothing is stored for a self-contained token: its revocation is a record of its
		// jti, kept until it would have expired, which every use reads.
		at, err := p.verifyClientToken(tok, now)
		if errors.Is(err, token.ErrInvalid) {
			return "", nil, nil
		}
		if err != nil {
			return "", nil, err
		}
		return at.ClientID, func(t store.Txn) error { return revocations.Revoke(t, at, now) }, nil
	}
	at, err := accesses.Lookup(t, tok, now)
	if err == nil {
		return at.ClientID, func(t store.Txn) error { return accesses.Revoke(t, tok) }, nil
	}
	if !errors.Is(err, token.ErrInvalid) {
		return "", nil, err
	}
	rt, err := refreshes.Lookup(t, tok, now)
	if err == nil {
		return rt.ClientID, func(t store.Txn) error { return refreshes.Revoke(t, tok) }, nil
	}
	if errors.Is(err, token.ErrInvalid) {
		return "", nil, nil
	}
	return "", nil, err
}
