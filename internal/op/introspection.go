package op

import (
	"net/http"

	"github.com/caddyciba/gateway/internal/token"
)

// PathIntrospection is the RFC 7662 endpoint.
const PathIntrospection = "/introspect"

// Introspection is the RFC 7662 answer. A token of another client is reported inactive:
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
	rec, err := token.LookupAccess(p.Store, tok, p.Now())
	if err != nil {
		return p.introspectRefresh(tok, client.Client.ID), nil
	}
	if rec.ClientID != client.Client.ID {
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

// introspectRefresh answers for a refresh token (RFC 7662 §2.1: the server may introspect
// any token it issued); it has no token_type, which names access-token types.
func (p *Provider) introspectRefresh(tok, clientID string) *Introspection {
	rec, err := token.LookupRefresh(p.Store, tok, p.Now())
	if err != nil || rec.ClientID != clientID {
		return &Introspection{Active: false}
	}
	out := &Introspection{Active: true, Scope: rec.Scope, ClientID: rec.ClientID, Subject: rec.Subject,
		Exp: rec.ExpiresAt, Iss: p.Issuer, ConsentID: rec.ConsentID}
	if rec.CertThumbprint != "" {
		out.Cnf = map[string]string{"x5t#S256": rec.CertThumbprint}
	}
	return out
}
