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

// ServeRevocation answers POST /revoke: the client's own access token is deleted and stops
// working on the next request; an unknown or expired token is answered 200 all the same.
func (p *Provider) ServeRevocation(w http.ResponseWriter, r *http.Request) {
	if err := p.revoke(w, r); err != nil {
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
		rec, err := token.LookupAccess(t, tok, p.Now())
		if errors.Is(err, token.ErrInvalid) {
			return nil
		}
		if err != nil {
			return err
		}
		if rec.ClientID != client.Client.ID {
			return oauth.InvalidRequest("the token was not issued to this client")
		}
		return token.RevokeAccess(t, tok)
	})
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe
	}
	if err != nil {
		return oauth.ServerError("the revocation could not be stored")
	}
	return nil
}
