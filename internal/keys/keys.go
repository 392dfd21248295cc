// Package keys keeps the gateway's signing keys: made on first start, stored, published
// with a stable kid, and rotated — a new key is published before it signs, and an old one
// stays published until the tokens it signed have expired.
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
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

// Supported are the algorithms the gateway signs with.
var Supported = []jwa.SignatureAlgorithm{jwa.PS256, jwa.ES256, jwa.EdDSA}

// rsaBits is the modulus size of generated PS256 keys (FAPI asks for at least 2048).
const rsaBits = 2048

// ParseAlg accepts the name of a supported algorithm.
func ParseAlg(name string) (jwa.SignatureAlgorithm, error) {
	for _, a := range Supported {
		if a.String() == name {
			return a, nil
		}
	}
	return "", fmt.Errorf("signing_alg %q is not supported (PS256, ES256 or EdDSA)", name)
}

// The stored ring: every key still published, oldest first.
type ringRecord struct {
	Keys []storedKey `json:"keys"`
}

type storedKey struct {
	JWK json.RawMessage `json:"jwk"`
	// NotBefore is when the key starts to sign; it is published from the moment it is stored.
	NotBefore time.Time `json:"not_before"`
	// RetireAfter is when it leaves the JWKS: zero while it is the newest key.
	RetireAfter time.Time `json:"retire_after,omitzero"`
}

func ringKey(alg jwa.SignatureAlgorithm) string { return "keys/ring/" + alg.String() }

// legacyKey is where a single key was kept before rotation existed; it is taken over.
func legacyKey(alg jwa.SignatureAlgorithm) string { return "keys/signing/" + alg.String() }

// Keyring signs with the newest key whose time has come and publishes every key not yet
// retired. It reads the ring from the store on Reload, so instances sharing a store
// follow each other's rotations.
type Keyring struct {
	alg   jwa.SignatureAlgorithm
	store store.Store
	Now   func() time.Time
	keys  atomic.Pointer[[]loadedKey]
}

type loadedKey struct {
	private jwk.Key
	// signer is private as a crypto key made once: handed a JWK, jwx rebuilds (and for
	// RSA, validates and precomputes) the key on every signature.
	signer      any
	public      jwk.Key
	notBefore   time.Time
	retireAfter time.Time
}

// KeyInfo describes a key of the ring.
type KeyInfo struct {
	KeyID       string    `json:"kid"`
	NotBefore   time.Time `json:"not_before"`
	RetireAfter time.Time `json:"retire_after,omitzero"`
	Signing     bool      `json:"signing"`
}

// LoadOrCreate returns the keyring for alg, making and storing a key on first use.
// Instances racing to create converge on the ring stored first.
func LoadOrCreate(s store.Store, alg jwa.SignatureAlgorithm) (*Keyring, error) {
	k := &Keyring{alg: alg, store: s, Now: time.Now}
	if _, err := s.Get(ringKey(alg)); errors.Is(err, store.ErrNotFound) {
		first, err := k.firstKey()
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		err = s.Update(func(t store.Txn) error {
			if _, err := t.Get(ringKey(alg)); err == nil {
				return nil // another instance was first
			}
			if legacy, err := t.Get(legacyKey(alg)); err == nil {
				first = legacy
			}
			return putRing(t, alg, &ringRecord{Keys: []storedKey{{JWK: first}}})
		})
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return k, k.Reload()
}

// firstKey is a new key, unless a key from before rotation is stored.
func (k *Keyring) firstKey() (json.RawMessage, error) {
	if legacy, err := k.store.Get(legacyKey(k.alg)); err == nil {
		return legacy, nil
	}
	return newKey(k.alg)
}

func putRing(t store.Txn, alg jwa.SignatureAlgorithm, r *ringRecord) error {
	buf, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return t.Put(ringKey(alg), buf, 0)
}

func readRing(r store.Reader, alg jwa.SignatureAlgorithm) (*ringRecord, error) {
	buf, err := r.Get(ringKey(alg))
	if err != nil {
		return nil, err
	}
	var rec ringRecord
	if err := json.Unmarshal(buf, &rec); err != nil {
		return nil, fmt.Errorf("stored key ring: %w", err)
	}
	if len(rec.Keys) == 0 {
		return nil, errors.New("stored key ring is empty")
	}
	return &rec, nil
}

// Reload reads the ring from the store.
func (k *Keyring) Reload() error {
	rec, err := readRing(k.store, k.alg)
	if err != nil {
		return err
	}
	loaded := make([]loadedKey, 0, len(rec.Keys))
	for _, sk := range rec.Keys {
		priv, err := jwk.ParseKey(sk.JWK)
		if err != nil {
			return fmt.Errorf("stored signing key: %w", err)
		}
		pub, err := priv.PublicKey()
		if err != nil {
			return err
		}
		var signer any
		if err := priv.Raw(&signer); err != nil {
			return fmt.Errorf("stored signing key: %w", err)
		}
		if rk, ok := signer.(*rsa.PrivateKey); ok {
			rk.Precompute()
		}
		loaded = append(loaded, loadedKey{private: priv, signer: signer, public: pub, notBefore: sk.NotBefore, retireAfter: sk.RetireAfter})
	}
	k.keys.Store(&loaded)
	return nil
}

// Rotate stores a new key that signs from now+lead on; the key it supersedes stays
// published for keep after that (the longest life of a token it signed), and keys past
// their retirement leave the ring. due, when given, is asked inside the transaction with
// the newest key's start, so instances on one schedule rotate once.
func (k *Keyring) Rotate(lead, keep time.Duration, due func(newest time.Time) bool) (rotated bool, kid string, err error) {
	fresh, err := newKey(k.alg)
	if err != nil {
		return false, "", err
	}
	now := k.Now()
	err = k.store.Update(func(t store.Txn) error {
		rec, err := readRing(t, k.alg)
		if err != nil {
			return err
		}
		newest := &rec.Keys[len(rec.Keys)-1]
		if due != nil && !due(newest.NotBefore) {
			return nil
		}
		start := now.Add(lead)
		newest.RetireAfter = start.Add(keep)
		kept := rec.Keys[:0]
		for _, sk := range rec.Keys {
			if sk.RetireAfter.IsZero() || sk.RetireAfter.After(now) {
				kept = append(kept, sk)
			}
		}
		rec.Keys = append(kept, storedKey{JWK: fresh, NotBefore: start})
		rotated = true
		return putRing(t, k.alg, rec)
	})
	if err != nil || !rotated {
		return false, "", err
	}
	if err := k.Reload(); err != nil {
		return true, "", err
	}
	key, _ := jwk.ParseKey(fresh)
	return true, key.KeyID(), nil
}

func newKey(alg jwa.SignatureAlgorithm) (json.RawMessage, error) {
	key, err := NewSigningKey(alg, "", rsaBits)
	if err != nil {
		return nil, err
	}
	return json.Marshal(key)
}

// NewSigningKey makes a private JWK for alg with its alg and use ("sig") set. kid names
// it; an empty kid is the key's thumbprint. rsaBits is the modulus size of a PS256 key.
// The gateway's keyring and `caddy ciba keygen` (client keys) both make keys here.
func NewSigningKey(alg jwa.SignatureAlgorithm, kid string, rsaBits int) (jwk.Key, error) {
	raw, err := generate(alg, rsaBits)
	if err != nil {
		return nil, err
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		err = jwk.AssignKeyID(key)
	} else {
		err = key.Set(jwk.KeyIDKey, kid)
	}
	if err != nil {
		return nil, err
	}
	if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return nil, err
	}
	return key, nil
}

func generate(alg jwa.SignatureAlgorithm, rsaBits int) (any, error) {
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

// signing is the newest key whose time has come (the oldest if none has: a ring never
// lacks a signer).
func (k *Keyring) signing() loadedKey {
	keys := *k.keys.Load()
	now := k.Now()
	for i := len(keys) - 1; i > 0; i-- {
		if !keys[i].notBefore.After(now) {
			return keys[i]
		}
	}
	return keys[0]
}

// KeyID is the kid of the key that signs now.
func (k *Keyring) KeyID() string { return k.signing().private.KeyID() }

// PublicSet is the JWKS to publish: every key not yet retired, the next one included.
func (k *Keyring) PublicSet() jwk.Set {
	set := jwk.NewSet()
	now := k.Now()
	for _, key := range *k.keys.Load() {
		if key.retireAfter.IsZero() || key.retireAfter.After(now) {
			_ = set.AddKey(key.public)
		}
	}
	return set
}

// Keys lists the ring.
func (k *Keyring) Keys() []KeyInfo {
	signing := k.KeyID()
	var out []KeyInfo
	for _, key := range *k.keys.Load() {
		kid := key.private.KeyID()
		out = append(out, KeyInfo{KeyID: kid, NotBefore: key.notBefore, RetireAfter: key.retireAfter, Signing: kid == signing})
	}
	return out
}

// SignJWT signs the token with the key that signs now; the kid goes in the header.
func (k *Keyring) SignJWT(tok jwt.Token) ([]byte, error) {
	key := k.signing()
	hdr := jws.NewHeaders() // jws sets alg in it, so each signature has its own
	if err := hdr.Set(jws.KeyIDKey, key.private.KeyID()); err != nil {
		return nil, err
	}
	return jwt.Sign(tok, jwt.WithKey(k.alg, key.signer, jws.WithProtectedHeaders(hdr)))
}

// ParseJWT verifies a token this gateway signed (for id_token_hint and tests).
func (k *Keyring) ParseJWT(raw []byte, opts ...jwt.ParseOption) (jwt.Token, error) {
	return jwt.Parse(raw, append([]jwt.ParseOption{jwt.WithKeySet(k.PublicSet())}, opts...)...)
}
