package op

import (
	"net/http"
	"time"

	"github.com/caddyciba/gateway/internal/token"
)

// PathIntrospection is the RFC 7662 endpoint.
const PathIntrospection = "/introspect"

// Introspection is the RFC 7662 answer. A token is active only while the gate would take
// it: its whole grant holds (checkGrant). A token of another client is reported inactive:
// a client learns nothing of tokens that are not its own.
type Introspection struct {
	Active    bool              `json:"active"`
	Scope     string            `json:"scope,omitempty"`
	ClientID  string            `json:"client_id,omitempty"`
	Subject   string            `json:"sub,omitempty"`
	TokenType string            `json:"token_type,omitempty"`
	Exp       int64             `json:"exp,omitempty"`
	Iat       int64             `json:"iat,omitempty"`
	Iss       string            `json:"iss,omitempty"`
	Cnf       map[string]string `json:"cnf,omitempty"`
	ConsentID string            `json:"consent_id,omitempty"`
}

// ServeIntrospection answers POST /introspect for an authenticated client.
func (p *Provider) ServeIntrospection(w http.ResponseWriter, r *http.Request) {
	resp, err := p.introspect(w, r)
	p.logFailure(r.Context(), "introspection", err)
	writeAnswer(w, resp, err)
}

func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) (*Introspection, error) {
	form, client, err := p.clientForm(w, r)
	if err != nil {
		return nil, err
	}
	tok, err := tokenParam(form)
	if err != nil {
		return nil, err
	}
	now := p.Now()
	rec, err := p.LookupAccess(tok, now)
	if err != nil {
		if token.IsSelfContained(tok) {
			// Tampered, of another key, expired or revoked: no refresh token looks like this.
			return &Introspection{Active: false}, nil
		}
		return p.introspectRefresh(tok, client.Client.ID, now), nil
	}
	if rec.ClientID != client.Client.ID || !p.accessActive(rec, now) {
		return &Introspection{Active: false}, nil
	}
	out := &Introspection{
		Active: true, Scope: rec.Scope, ClientID: rec.ClientID, Subject: rec.Subject, TokenType: "Bearer",
		Exp: rec.ExpiresAt, Iat: rec.IssuedAt, Iss: p.Issuer, ConsentID: rec.ConsentID,
	}
	if rec.CertThumbprint != "" {
		out.Cnf = map[string]string{"x5t#S256": rec.CertThumbprint}
	}
	return out, nil
}

// accessActive is what the gate would decide of the token's grant (RFC 7662 §2.2: active
// only while the token may be used): a user's token while checkGrant holds, a client's
// own token while the client is registered.
func (p *Provider) accessActive(a *token.Access, now time.Time) bool {
	if a.Grant == token.ClientCredentials {
		return p.Clients.Lookup(a.ClientID) != nil
	}
	_, verdict, _ := p.checkGrant(p.Store, accessGrant(a), now)
	return verdict == grantHolds
}

// introspectRefresh answers for a refresh token (RFC 7662 §2.1: the server may introspect
// any token it issued); it has no token_type, which names access-token types.
func (p *Provider) introspectRefresh(tok, clientID string, now time.Time) *Introspection {
	rec, err := refreshes.Lookup(p.Store, tok, now)
	if err != nil || rec.ClientID != clientID {
		return &Introspection{Active: false}
	}
	if _, verdict, _ := p.checkGrant(p.Store, refreshGrant(rec), now); verdict != grantHolds {
		return &Introspection{Active: false}
	}
	out := &Introspection{Active: true, Scope: rec.Scope, ClientID: rec.ClientID, Subject: rec.Subject,
		Exp: rec.ExpiresAt, Iss: p.Issuer, ConsentID: rec.ConsentID}
	if rec.CertThumbprint != "" {
		out.Cnf = map[string]string{"x5t#S256": rec.CertThumbprint}
	}
	return out
}
