// Package keys keeps the gateway's signing keys: made on first start, stored, and
// published with a stable kid.
package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

// Supported are the algorithms the gateway signs with.
var Supported = []jwa.SignatureAlgorithm{jwa.PS256, jwa.ES256, jwa.EdDSA}

// rsaBits is the modulus size of generated PS256 keys (FAPI asks for at least 2048).
const rsaBits = 2048

// Keyring holds the active signing key and every public key still published.
type Keyring struct {
	alg     jwa.SignatureAlgorithm
	signing jwk.Key
	public  jwk.Set
}

func storeKey(alg jwa.SignatureAlgorithm) string { return "keys/signing/" + alg.String() }

// ParseAlg accepts the name of a supported algorithm.
func ParseAlg(name string) (jwa.SignatureAlgorithm, error) {
	for _, a := range Supported {
		if a.String() == name {
			return a, nil
		}
	}
	return "", fmt.Errorf("signing_alg %q is not supported (PS256, ES256 or EdDSA)", name)
}

// LoadOrCreate returns the keyring for alg, making and storing a key on first use.
// Instances racing to create converge on the key stored first.
func LoadOrCreate(s store.Store, alg jwa.SignatureAlgorithm) (*Keyring, error) {
	raw, err := s.Get(storeKey(alg))
	if errors.Is(err, store.ErrNotFound) {
		raw, err = create(s, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("stored signing key: %w", err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	return &Keyring{alg: alg, signing: key, public: set}, nil
}

func create(s store.Store, alg jwa.SignatureAlgorithm) ([]byte, error) {
	raw, err := generate(alg)
	if err != nil {
		return nil, err
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	if err := jwk.AssignKeyID(key); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return nil, err
	}
	enc, err := json.Marshal(key)
	if err != nil {
		return nil, err
	}
	if err := s.PutNew(storeKey(alg), enc, 0); errors.Is(err, store.ErrExists) {
		return s.Get(storeKey(alg))
	} else if err != nil {
		return nil, err
	}
	return enc, nil
}

func generate(alg jwa.SignatureAlgorithm) (any, error) {
	switch alg {
	case jwa.PS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case jwa.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jwa.EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unsupported signing algorithm %s", alg)
}

// Alg is the algorithm new signatures use.
func (k *Keyring) Alg() jwa.SignatureAlgorithm { return k.alg }

// KeyID is the kid of the active signing key.
func (k *Keyring) KeyID() string { return k.signing.KeyID() }

// PublicSet is the JWKS to publish.
func (k *Keyring) PublicSet() jwk.Set { return k.public }

// SignJWT signs the token with the active key; the kid goes in the header.
func (k *Keyring) SignJWT(tok jwt.Token) ([]byte, error) {
	return jwt.Sign(tok, jwt.WithKey(k.alg, k.signing))
}

// ParseJWT verifies a token this gateway signed (for id_token_hint and tests).
func (k *Keyring) ParseJWT(raw []byte, opts ...jwt.ParseOption) (jwt.Token, error) {
	return jwt.Parse(raw, append([]jwt.ParseOption{jwt.WithKeySet(k.public)}, opts...)...)
}
