package op

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// userGrant is what a token set is issued for: the user's approval of one consent for one
// client.
type userGrant struct {
	clientID   string
	subject    string
	consentID  string
	scope      string
	acr        string
	thumbprint string
	authTime   time.Time
	// until is when the grant ends (zero: never): the consent's expiry, and in the refresh
	// grant the refresh token's; no token outlives it.
	until time.Time
	// refreshKey is the store key of the refresh token an access token is issued under.
	refreshKey string
}

// idTokenExtras are the claims of a pushed ID token (CIBA Core §10.3.1).
type idTokenExtras struct {
	authReqID string
}

// issue mints the access token, the refresh token (with mintRefresh) and the ID token
// (for an openid scope) inside t, and returns the answer and the store keys of what it
// minted.
func (p *Provider) issue(t store.Txn, g *userGrant, now time.Time, mintRefresh bool, push *idTokenExtras) (*TokenResponse, []string, error) {
	ttl := p.AccessTokenTTL
	if !g.until.IsZero() {
		ttl = min(ttl, g.until.Sub(now))
	}
	// The refresh token comes first: it records the access token, so that revoking it ends
	// the access tokens of its grant.
	var rt string
	refreshKey := g.refreshKey
	if mintRefresh {
		rttl := p.RefreshTokenTTL
		if !g.until.IsZero() {
			rttl = min(rttl, g.until.Sub(now))
		}
		ttl = min(ttl, rttl)
		var err error
		rt, err = refreshes.Mint(t, &token.Refresh{
			ClientID: g.clientID, Subject: g.subject, ConsentID: g.consentID, Scope: g.scope,
			CertThumbprint: g.thumbprint, AuthTime: g.authTime.Unix(), ACR: g.acr, ExpiresAt: now.Add(rttl).Unix(),
		}, rttl)
		if err != nil {
			return nil, nil, err
		}
		refreshKey = refreshes.Key(rt)
	}
	at, err := accesses.Mint(t, &token.Access{
		ClientID: g.clientID, Grant: token.CIBA, Scope: g.scope, Subject: g.subject, ConsentID: g.consentID,
		CertThumbprint: g.thumbprint, IssuedAt: now.Unix(), ExpiresAt: now.Add(ttl).Unix(),
	}, ttl)
	if err != nil {
		return nil, nil, err
	}
	if refreshKey != "" {
		if err := refreshes.Link(t, refreshKey, accesses.Key(at), now.Add(ttl).Unix(), now); err != nil {
			return nil, nil, err
		}
	}
	resp := &TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second), Scope: g.scope, consentID: g.consentID}
	minted := []string{accesses.Key(at)}
	if rt != "" {
		resp.RefreshToken = rt
		minted = append(minted, refreshKey)
	}
	if slices.Contains(strings.Fields(g.scope), "openid") {
		idt, err := p.idToken(g, now, resp, push)
		if err != nil {
			return nil, nil, err
		}
		resp.IDToken = idt
	}
	return resp, minted, nil
}

// issueInTxn runs a grant in one transaction. The grant's OAuth answer (a refusal) still
// commits what the transaction wrote, such as a poll's time or a revocation; a storage
// error aborts it.
func (p *Provider) issueInTxn(grant func(store.Txn) (*TokenResponse, *oauth.Error, error)) (*TokenResponse, error) {
	var resp *TokenResponse
	var answer *oauth.Error
	err := p.Store.Update(func(t store.Txn) error {
		var err error
		resp, answer, err = grant(t)
		return err
	})
	switch {
	case err != nil:
		return nil, oauth.ServerError("the token could not be issued", err)
	case answer != nil:
		return nil, answer
	}
	return resp, nil
}

// Claims of the pushed ID token (CIBA Core §10.3.1).
const (
	ClaimAuthReqID = "urn:openid:params:jwt:claim:auth_req_id"
	ClaimRTHash    = "urn:openid:params:jwt:claim:rt_hash"
)

// idToken signs the user's ID token with the gateway key; the kid is in the header.
func (p *Provider) idToken(g *userGrant, now time.Time, resp *TokenResponse, push *idTokenExtras) (string, error) {
	tok := jwt.New()
	claims := map[string]any{
		jwt.IssuerKey: p.Issuer, jwt.SubjectKey: g.subject, jwt.AudienceKey: g.clientID,
		jwt.IssuedAtKey: now.Unix(), jwt.ExpirationKey: now.Add(p.AccessTokenTTL).Unix(),
		"auth_time": g.authTime.Unix(), "openbanking_intent_id": g.consentID,
	}
	if g.acr != "" {
		claims["acr"] = g.acr
	}
	if push != nil {
		claims["at_hash"] = p.halfHash(resp.AccessToken)
		claims[ClaimAuthReqID] = push.authReqID
		if resp.RefreshToken != "" {
			claims[ClaimRTHash] = p.halfHash(resp.RefreshToken)
		}
	}
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			return "", err
		}
	}
	signed, err := p.Keys.SignJWT(tok)
	return string(signed), err
}

// halfHash is the left-most half of the token's hash under the ID token's algorithm,
// base64url (OpenID Connect Core §3.1.3.6; SHA-512 for EdDSA with Ed25519).
func (p *Provider) halfHash(s string) string {
	var h hash.Hash = sha256.New()
	if p.Keys.Alg() == jwa.EdDSA {
		h = sha512.New()
	}
	h.Write([]byte(s))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
