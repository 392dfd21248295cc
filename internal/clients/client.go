// Package clients holds the registered TPP clients and authenticates them at the
// token and backchannel endpoints with the five methods FAPI and CIBA allow.
package clients

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/caddyciba/gateway/internal/ratelimit"
)

// Method is a token_endpoint_auth_method.
type Method string

const (
	SecretBasic         Method = "client_secret_basic"
	SecretPost          Method = "client_secret_post"
	PrivateKeyJWT       Method = "private_key_jwt"
	TLSClientAuth       Method = "tls_client_auth"
	SelfSignedTLSClient Method = "self_signed_tls_client_auth"
)

// Methods lists every supported method, in the order discovery advertises them.
var Methods = []Method{PrivateKeyJWT, TLSClientAuth, SelfSignedTLSClient, SecretBasic, SecretPost}

// ParseMethod accepts a method name.
func ParseMethod(s string) (Method, error) {
	if slices.Contains(Methods, Method(s)) {
		return Method(s), nil
	}
	return "", fmt.Errorf("unknown client auth method %q", s)
}

// UsesSecret tells whether the method authenticates with a shared secret.
func (m Method) UsesSecret() bool { return m == SecretBasic || m == SecretPost }

// UsesTLS tells whether the method authenticates with the TLS client certificate.
func (m Method) UsesTLS() bool { return m == TLSClientAuth || m == SelfSignedTLSClient }

// Client is one registered TPP.
type Client struct {
	ID                   string
	Name                 string
	Method               Method
	JWKS                 jwk.Set
	TLSSubject           string
	DeliveryMode         string
	NotificationEndpoint string
	Scopes               []string
	// CertificateBound binds tokens to the TLS client certificate even when the client
	// authenticated another way (private_key_jwt over mTLS, as FAPI asks).
	CertificateBound bool
	// UserCode is backchannel_user_code_parameter: the client sends the user's code
	// (their password) with every backchannel request.
	UserCode bool
	// RateLimit bounds the client's /token (client credentials, refresh) and
	// /bc-authorize calls; nil is no limit.
	RateLimit *ratelimit.Rate
	// JWSSignature: the client signs its PISP and CBPII POSTs with x-jws-signature (UK OB
	// message signing), verified against JWKS; JWSIssuer is the
	// http://openbanking.org.uk/iss its signatures carry.
	JWSSignature bool
	JWSIssuer    string

	secret secretHash
}

// secretHash keeps a client secret as a salted SHA-256: client secrets are high-entropy
// machine values, so a fast hash is enough and keeps the token endpoint fast.
type secretHash struct {
	salt [16]byte
	sum  [32]byte
	set  bool
}

// SetSecret stores the secret hashed; the plain value is not kept.
func (c *Client) SetSecret(secret string) error {
	if _, err := rand.Read(c.secret.salt[:]); err != nil {
		return err
	}
	c.secret.sum = c.secret.digest(secret)
	c.secret.set = true
	return nil
}

// SecretHashPrefix starts a client secret hash as written in a config file.
const SecretHashPrefix = "sha256$"

// HashSecret is the salted SHA-256 of a secret, written "sha256$<salt>$<sum>"
// (base64url), so a config file can hold the hash instead of the secret.
func HashSecret(secret string) (string, error) {
	var h secretHash
	if _, err := rand.Read(h.salt[:]); err != nil {
		return "", err
	}
	h.sum = h.digest(secret)
	enc := base64.RawURLEncoding
	return SecretHashPrefix + enc.EncodeToString(h.salt[:]) + "$" + enc.EncodeToString(h.sum[:]), nil
}

// SetSecretHash takes a hash made by HashSecret.
func (c *Client) SetSecretHash(encoded string) error {
	rest, ok := strings.CutPrefix(encoded, SecretHashPrefix)
	salt, sum, ok2 := strings.Cut(rest, "$")
	if !ok || !ok2 {
		return errors.New(`a secret hash is "sha256$<salt>$<sum>", as caddy ciba hash-secret prints it`)
	}
	s, err1 := base64.RawURLEncoding.DecodeString(salt)
	d, err2 := base64.RawURLEncoding.DecodeString(sum)
	if err1 != nil || err2 != nil || len(s) != len(c.secret.salt) || len(d) != len(c.secret.sum) {
		return errors.New("the secret hash is damaged")
	}
	copy(c.secret.salt[:], s)
	copy(c.secret.sum[:], d)
	c.secret.set = true
	return nil
}

// HasSecret tells whether a secret was set.
func (c *Client) HasSecret() bool { return c.secret.set }

// CheckSecret compares in constant time.
func (c *Client) CheckSecret(secret string) bool {
	if !c.secret.set {
		return false
	}
	d := c.secret.digest(secret)
	return subtle.ConstantTimeCompare(d[:], c.secret.sum[:]) == 1
}

func (h *secretHash) digest(secret string) [32]byte {
	buf := make([]byte, 0, len(h.salt)+len(secret))
	buf = append(buf, h.salt[:]...)
	buf = append(buf, secret...)
	return sha256.Sum256(buf)
}

// AllowsScope tells whether every scope in the request was registered for the client.
func (c *Client) AllowsScope(scopes []string) bool {
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	return true
}

// Delivery modes of CIBA tokens.
const (
	Poll = "poll"
	Ping = "ping"
	Push = "push"
)

// Registry is the set of clients, read-only once built.
type Registry struct {
	byID map[string]*Client
	// ClientCAs verifies tls_client_auth certificates that the TLS layer did not verify.
	ClientCAs *x509.CertPool
}

// NewRegistry indexes the clients by id; ids must be unique.
func NewRegistry(list []*Client, cas *x509.CertPool) (*Registry, error) {
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	if err := CheckUniqueIDs(ids); err != nil {
		return nil, err
	}
	r := &Registry{byID: make(map[string]*Client, len(list)), ClientCAs: cas}
	for _, c := range list {
		r.byID[c.ID] = c
	}
	return r, nil
}

// CheckUniqueIDs names the first client id that stands twice in ids. The config is
// checked with it before any client is built, and NewRegistry keeps it as an invariant.
func CheckUniqueIDs(ids []string) error {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return fmt.Errorf("client %q is defined twice", id)
		}
		seen[id] = true
	}
	return nil
}

// Lookup returns the client or nil.
func (r *Registry) Lookup(id string) *Client { return r.byID[id] }

// All returns the clients sorted by id.
func (r *Registry) All() []*Client {
	out := make([]*Client, 0, len(r.byID))
	for _, c := range r.byID {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Client) int { return strings.Compare(a.ID, b.ID) })
	return out
}
