package clients

import (
	"crypto"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/caddyciba/gateway/internal/jose"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// AssertionType is the client_assertion_type of private_key_jwt (RFC 7523).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AssertionAlgs are the algorithms FAPI allows for client assertions.
var AssertionAlgs = []jwa.SignatureAlgorithm{jwa.PS256, jwa.ES256}

// maxJTILength bounds the jti kept in the replay cache.
const maxJTILength = 256

// maxAssertionLifetime refuses assertions that would sit in the replay cache for long.
const maxAssertionLifetime = time.Hour

// Authenticator authenticates a client from a form request.
type Authenticator struct {
	Registry *Registry
	// Audiences accepted in a client assertion's aud: the issuer, the token endpoint and
	// the backchannel endpoint URLs (and their mTLS aliases).
	Audiences []string
	// Replay keeps the jti of every accepted assertion until it expires.
	Replay store.Store
	Now    func() time.Time
	// BindAll treats every client as certificate-bound (FAPI mode).
	BindAll bool
}

// Authenticated is a client that proved who it is on this request.
type Authenticated struct {
	Client *Client
	// CertThumbprint is the x5t#S256 the tokens are bound to, or "" for unbound tokens.
	CertThumbprint string
}

// errAuth is the one answer every failure gets, so a caller learns nothing of which part failed.
func errAuth() *oauth.Error { return oauth.InvalidClient("client authentication failed") }

// Authenticate identifies the client by its registered method; every failure is
// 401 invalid_client.
func (a *Authenticator) Authenticate(r *http.Request, form url.Values) (*Authenticated, error) {
	c, err := a.identify(r, form)
	if err != nil {
		return nil, err
	}
	res := &Authenticated{Client: c}
	bound := c.CertificateBound || a.BindAll
	if cert := peerCertificate(r); cert != nil && (c.Method.UsesTLS() || bound) {
		res.CertThumbprint = token.Thumbprint(cert)
	} else if bound {
		// A client configured for bound tokens must present its certificate.
		return nil, errAuth()
	}
	return res, nil
}

func (a *Authenticator) identify(r *http.Request, form url.Values) (*Client, error) {
	bodyID := form.Get("client_id")
	if user, pass, ok := basicCredentials(r); ok {
		if bodyID != "" && bodyID != user {
			return nil, basicFailure()
		}
		c := a.Registry.Lookup(user)
		if c == nil || c.Method != SecretBasic || !c.CheckSecret(pass) {
			return nil, basicFailure()
		}
		return c, nil
	}
	if r.Header.Get("Authorization") != "" {
		return nil, basicFailure()
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return a.assertion(form)
	}
	c := a.Registry.Lookup(bodyID)
	if c == nil {
		return nil, errAuth()
	}
	switch c.Method {
	case SecretPost:
		if form.Has("client_secret") && c.CheckSecret(form.Get("client_secret")) {
			return c, nil
		}
	case TLSClientAuth:
		if a.subjectMatches(r, c) {
			return c, nil
		}
	case SelfSignedTLSClient:
		if cert := peerCertificate(r); cert != nil && keyRegistered(c.JWKS, cert) {
			return c, nil
		}
	}
	return nil, errAuth()
}

func basicFailure() *oauth.Error {
	e := errAuth()
	e.Challenge = `Basic realm="ciba", charset="UTF-8"`
	return e
}

// basicCredentials reads HTTP Basic credentials, form-URL-decoding both parts (RFC 6749 §2.3.1).
func basicCredentials(r *http.Request) (string, string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", "", false
	}
	u, err1 := url.QueryUnescape(user)
	p, err2 := url.QueryUnescape(pass)
	if err1 != nil || err2 != nil || u == "" {
		return "", "", false
	}
	return u, p, true
}

func (a *Authenticator) assertion(form url.Values) (*Client, error) {
	if form.Get("client_assertion_type") != AssertionType {
		return nil, errAuth()
	}
	raw := []byte(form.Get("client_assertion"))
	unverified, err := jose.Unverified(raw)
	if err != nil {
		return nil, errAuth()
	}
	c := a.Registry.Lookup(unverified.Issuer())
	if c == nil || c.Method != PrivateKeyJWT {
		return nil, errAuth()
	}
	if id := form.Get("client_id"); id != "" && id != c.ID {
		return nil, errAuth()
	}
	tok, _, err := jose.Verify(raw, c.JWKS, AssertionAlgs)
	if err != nil {
		return nil, errAuth()
	}
	now := a.Now()
	switch {
	case tok.Issuer() != c.ID, tok.Subject() != c.ID, tok.JwtID() == "", len(tok.JwtID()) > maxJTILength:
		return nil, errAuth()
	case tok.Expiration().IsZero(), !now.Before(tok.Expiration().Add(jose.Skew)):
		return nil, errAuth()
	case tok.Expiration().Sub(now) > maxAssertionLifetime:
		return nil, errAuth()
	case !tok.NotBefore().IsZero() && now.Add(jose.Skew).Before(tok.NotBefore()):
		return nil, errAuth()
	case !tok.IssuedAt().IsZero() && now.Add(jose.Skew).Before(tok.IssuedAt()):
		return nil, errAuth()
	case !slices.ContainsFunc(tok.Audience(), a.acceptsAudience):
		return nil, errAuth()
	}
	if err := jose.RememberJTI(a.Replay, jose.ClientAssertion, c.ID, tok, now); err != nil {
		if errors.Is(err, jose.ErrReplayed) {
			return nil, errAuth()
		}
		return nil, oauth.ServerError("client authentication could not be recorded", err)
	}
	return c, nil
}

func (a *Authenticator) acceptsAudience(aud string) bool {
	return slices.Contains(a.Audiences, strings.TrimSuffix(aud, "/")) || slices.Contains(a.Audiences, aud)
}

// subjectMatches checks the certificate's subject DN, but only on a certificate whose chain
// was verified, by the TLS layer or by the registry's CA pool.
func (a *Authenticator) subjectMatches(r *http.Request, c *Client) bool {
	cert := peerCertificate(r)
	if cert == nil || normalizeDN(cert.Subject.String()) != normalizeDN(c.TLSSubject) {
		return false
	}
	if len(r.TLS.VerifiedChains) > 0 {
		return true
	}
	if a.Registry.ClientCAs == nil {
		return false
	}
	inter := x509.NewCertPool()
	for _, ic := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         a.Registry.ClientCAs,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   a.Now(),
	})
	return err == nil
}

// normalizeDN drops the spaces that people write after commas in a DN.
func normalizeDN(dn string) string {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return strings.Join(parts, ",")
}

// keyRegistered tells whether the certificate's public key is one of the client's JWKS keys.
func keyRegistered(set jwk.Set, cert *x509.Certificate) bool {
	if set == nil {
		return false
	}
	certKey, err := jwk.FromRaw(cert.PublicKey)
	if err != nil {
		return false
	}
	want, err := certKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return false
	}
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		pub, err := k.PublicKey()
		if err != nil {
			continue
		}
		if got, err := pub.Thumbprint(crypto.SHA256); err == nil && string(got) == string(want) {
			return true
		}
	}
	return false
}

func peerCertificate(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0]
}
