// Package token mints and looks up the gateway's tokens. An opaque token is 256 random bits;
// the store holds only its SHA-256, so a leaked database yields no usable token, and
// revocation is the deletion of one record. A client-credentials access token is
// self-contained instead (selfcontained.go): nothing is stored when it is minted.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// Grant names the grant a token came from.
type Grant string

const (
	ClientCredentials Grant = "client_credentials"
	CIBA              Grant = "urn:openid:params:grant-type:ciba"
	RefreshToken      Grant = "refresh_token"
)

// ErrInvalid is returned for a token that is unknown, expired or revoked.
var ErrInvalid = errors.New("token: invalid")

// Access is what an access token stands for.
type Access struct {
	ClientID  string `json:"client_id"`
	Grant     Grant  `json:"grant"`
	Scope     string `json:"scope,omitempty"`
	Subject   string `json:"sub,omitempty"`
	ConsentID string `json:"consent_id,omitempty"`
	// CertThumbprint binds the token to a TLS client certificate (RFC 8705 x5t#S256).
	CertThumbprint string `json:"x5t_s256,omitempty"`
	IssuedAt       int64  `json:"iat"`
	ExpiresAt      int64  `json:"exp"`
	// TokenID is the jti of a self-contained token (Verify); empty for a stored one.
	TokenID string `json:"-"`
}

// PresentedOver tells whether the token may be used on a connection: an unbound token
// anywhere, a certificate-bound one only over TLS with that client certificate (RFC 8705).
func (a *Access) PresentedOver(cs *tls.ConnectionState) bool {
	if a.CertThumbprint == "" {
		return true
	}
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return false
	}
	got := thumbprint(cs.PeerCertificates[0])
	return subtle.ConstantTimeCompare(got[:], []byte(a.CertThumbprint)) == 1
}

// Thumbprint is the RFC 8705 x5t#S256 of a certificate, what a bound token records.
func Thumbprint(cert *x509.Certificate) string {
	t := thumbprint(cert)
	return string(t[:])
}

// thumbprint encodes into a fixed array, so the gate's check allocates nothing.
func thumbprint(cert *x509.Certificate) [43]byte {
	sum := sha256.Sum256(cert.Raw)
	var out [43]byte
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return out
}

// Live tells whether the token has not expired at now.
func (a *Access) Live(now time.Time) bool { return now.Unix() < a.ExpiresAt }

// New returns a fresh 256-bit token, base64url without padding (43 characters).
func New() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Key is the store key of a token of the given kind ("at", "rt", …): its hash, never the token.
func Key(kind, tok string) string {
	sum := sha256.Sum256([]byte(tok))
	// Encoded on the stack: the key is the one allocation of every request's lookup.
	var enc [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	return kind + "/" + string(enc[:])
}

const accessKind = "at"

// Accesses keeps access tokens in the store: each record as JSON under "at/" and its
// token's hash, expiring with the token. Its keys are built nowhere else; the zero value
// is ready to use.
type Accesses struct{}

// Key is the store key of an access token, kept by whoever must revoke it later without
// holding the token (a refresh token, a replayed auth_req_id).
func (Accesses) Key(tok string) string { return AccessKey(tok) }

// Mint stores the record under a new token, to expire after ttl, and returns the token.
func (Accesses) Mint(t store.Txn, a *Access, ttl time.Duration) (string, error) {
	return mint(t, accessKind, a, ttl)
}

// Lookup returns the record of tok if it is live at now, or ErrInvalid.
func (Accesses) Lookup(r store.Reader, tok string, now time.Time) (*Access, error) {
	var a Access
	if err := lookup(r, accessKind, tok, &a); err != nil {
		return nil, err
	}
	if !a.Live(now) {
		return nil, ErrInvalid
	}
	return &a, nil
}

// Decode reads a stored record, for readers that cache its decoding (store.Decoded at
// Key); they check Live themselves.
func (Accesses) Decode(buf []byte) (*Access, error) { return DecodeAccess(buf) }

// Revoke deletes tok's record.
func (Accesses) Revoke(t store.Txn, tok string) error { return t.Delete(AccessKey(tok)) }

// DecodeAccess is Accesses.Decode, for the gate's cache.
func DecodeAccess(buf []byte) (*Access, error) {
	var a Access
	if err := json.Unmarshal(buf, &a); err != nil {
		return nil, ErrInvalid
	}
	return &a, nil
}

// MintAccess is Accesses.Mint.
//
// Deprecated: use Accesses; kept while other branches' tests still call it.
func MintAccess(t store.Txn, a *Access, ttl time.Duration) (string, error) {
	return Accesses{}.Mint(t, a, ttl)
}

// LookupAccess is Accesses.Lookup.
//
// Deprecated: use Accesses; kept while other branches' tests still call it.
func LookupAccess(r store.Reader, tok string, now time.Time) (*Access, error) {
	return Accesses{}.Lookup(r, tok, now)
}

// AccessKey is Accesses.Key, for the gate.
func AccessKey(tok string) string { return Key(accessKind, tok) }

func mint(t store.Txn, kind string, rec any, ttl time.Duration) (string, error) {
	tok, err := New()
	if err != nil {
		return "", err
	}
	buf, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	return tok, t.Put(Key(kind, tok), buf, ttl)
}

func lookup(r store.Reader, kind, tok string, rec any) error {
	buf, err := r.Get(Key(kind, tok))
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalid
	}
	if err != nil {
		return err
	}
	if json.Unmarshal(buf, rec) != nil {
		return ErrInvalid
	}
	return nil
}
