package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/caddyciba/gateway/internal/store"
)

// A client-credentials access token is self-contained: a JWT (RFC 9068 shape) that the
// gateway MACs with a key of its own (HS256), carrying the client, its certificate
// thumbprint, the scope, iat/exp and a 256-bit jti. Minting writes nothing, so the token
// endpoint never waits on the disk for it and a crash loses nothing. The token holds no
// secret; revocation is a small record keyed by the hash of its jti (Revocations), read
// at each use.

// clientKeyName is where the shared HS256 key lives: made once by whichever instance
// comes first (PutNew) and read by every other.
const clientKeyName = "keys/access/HS256"

// selfContainedType is the JWT typ of the gateway's access tokens (RFC 9068 §2.1).
const selfContainedType = "at+jwt"

// revokedKind prefixes the revocation records of self-contained tokens.
const revokedKind = "atrev"

// ClientTokenKey mints and verifies self-contained client-credentials tokens.
type ClientTokenKey struct {
	secret []byte
	issuer string
	// header is the protected header of every token (typ, kid); jws.Sign copies it.
	header jws.Headers
}

type storedClientKey struct {
	KeyID  string `json:"kid"`
	Secret []byte `json:"k"`
}

// LoadOrCreateClientKey reads the shared key from the store, making it first if none is
// stored; it alone reads and writes the key's record. Instances starting together
// converge on the one PutNew stored first.
func LoadOrCreateClientKey(s store.Store, issuer string) (*ClientTokenKey, error) {
	buf, err := s.Get(clientKeyName)
	if errors.Is(err, store.ErrNotFound) {
		fresh := storedClientKey{Secret: make([]byte, 32)}
		var id [8]byte
		if _, err := rand.Read(fresh.Secret); err != nil {
			return nil, err
		}
		if _, err := rand.Read(id[:]); err != nil {
			return nil, err
		}
		fresh.KeyID = base64.RawURLEncoding.EncodeToString(id[:])
		if buf, err = json.Marshal(fresh); err != nil {
			return nil, err
		}
		if err = s.PutNew(clientKeyName, buf, 0); errors.Is(err, store.ErrExists) {
			buf, err = s.Get(clientKeyName)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("access token key: %w", err)
	}
	var k storedClientKey
	if err := json.Unmarshal(buf, &k); err != nil || len(k.Secret) != 32 {
		return nil, errors.New("access token key: the stored key is damaged")
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, selfContainedType); err != nil {
		return nil, err
	}
	if err := hdr.Set(jws.KeyIDKey, k.KeyID); err != nil {
		return nil, err
	}
	return &ClientTokenKey{secret: k.Secret, issuer: issuer, header: hdr}, nil
}

// selfContainedClaims is the token's payload.
type selfContainedClaims struct {
	Issuer   string `json:"iss,omitempty"`
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	Cnf      *cnf   `json:"cnf,omitempty"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
	ID       string `json:"jti"`
	Grant    Grant  `json:"gty"`
}

type cnf struct {
	Thumbprint string `json:"x5t#S256"`
}

// Mint returns a self-contained token for a, which must be of the client-credentials
// grant, and records its jti in a.TokenID.
func (k *ClientTokenKey) Mint(a *Access) (string, error) {
	if a.Grant != ClientCredentials {
		return "", errors.New("token: only client-credentials tokens are self-contained")
	}
	jti, err := New()
	if err != nil {
		return "", err
	}
	c := selfContainedClaims{Issuer: k.issuer, Subject: a.ClientID, ClientID: a.ClientID, Scope: a.Scope,
		IssuedAt: a.IssuedAt, Expires: a.ExpiresAt, ID: jti, Grant: a.Grant}
	if a.CertThumbprint != "" {
		c.Cnf = &cnf{Thumbprint: a.CertThumbprint}
	}
	payload, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	signed, err := jws.Sign(payload, jws.WithKey(jwa.HS256, k.secret, jws.WithProtectedHeaders(k.header)))
	if err != nil {
		return "", err
	}
	a.TokenID = jti
	return string(signed), nil
}

// IsSelfContained tells whether tok has the shape of a self-contained token (a compact
// JWS); an opaque token is base64url without dots.
func IsSelfContained(tok string) bool { return strings.Count(tok, ".") == 2 }

// Verify returns what tok stands for when the gateway's key made it; ErrInvalid for a
// token of another key, tampered with, or of another shape. It checks neither expiry
// (Access.Live) nor revocation (Revocations.Revoked): the caller does, as for a stored token.
func (k *ClientTokenKey) Verify(tok string) (*Access, error) {
	if !IsSelfContained(tok) {
		return nil, ErrInvalid
	}
	// The algorithm is the key's, whatever the header says: no alg confusion.
	payload, err := jws.Verify([]byte(tok), jws.WithKey(jwa.HS256, k.secret))
	if err != nil {
		return nil, ErrInvalid
	}
	var c selfContainedClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, ErrInvalid
	}
	if c.Grant != ClientCredentials || c.ClientID == "" || len(c.ID) != 43 {
		return nil, ErrInvalid
	}
	a := &Access{ClientID: c.ClientID, Grant: c.Grant, Scope: c.Scope, IssuedAt: c.IssuedAt, ExpiresAt: c.Expires, TokenID: c.ID}
	if c.Cnf != nil {
		a.CertThumbprint = c.Cnf.Thumbprint
	}
	return a, nil
}

// Revocations keeps the revocations of self-contained tokens in the store: a record under
// "atrev/" and the hash of the token's jti, kept until the token would have expired. Its
// keys are built nowhere else; the zero value is ready to use.
type Revocations struct{}

// revocationSkew keeps a revocation past the token's expiry by the clock difference
// tolerated between instances and the database, whose clock expires records.
const revocationSkew = time.Minute

// Revoke records that a's token is revoked until it would have expired at now.
func (Revocations) Revoke(t store.Txn, a *Access, now time.Time) error {
	if a.TokenID == "" {
		return errors.New("token: not a self-contained token")
	}
	left := time.Unix(a.ExpiresAt, 0).Sub(now)
	if left <= 0 {
		return nil
	}
	return t.Put(revokedKey(a.TokenID), []byte{1}, left+revocationSkew)
}

// Revoked tells whether a self-contained token's jti has been revoked: one key read.
func (Revocations) Revoked(r store.Reader, jti string) (bool, error) {
	_, err := r.Get(revokedKey(jti))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

func revokedKey(jti string) string { return Key(revokedKind, jti) }
