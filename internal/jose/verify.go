// Package jose verifies JWTs signed by clients against their registered JWKS, with the
// algorithm allow-list and the checks every client-signed JWT needs.
package jose

import (
	"errors"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Skew is the clock difference tolerated between a client and the gateway.
const Skew = 60 * time.Second

var (
	ErrMalformed    = errors.New("the JWT is malformed")
	ErrEncrypted    = errors.New("encrypted JWTs are not supported")
	ErrAlgorithm    = errors.New("the JWT's algorithm is not allowed")
	ErrNoKey        = errors.New("no registered key matches the JWT")
	ErrBadSignature = errors.New("the JWT's signature does not verify")
)

// Header is what the caller may want from the protected header before trusting the JWT.
type Header struct {
	Alg jwa.SignatureAlgorithm
	Kid string
	Typ string
}

// PeekHeader reads the protected header of a compact JWS without verifying it.
// A five-part compact serialisation (JWE) is refused.
func PeekHeader(raw []byte) (Header, error) {
	if countDots(raw) == 4 {
		return Header{}, ErrEncrypted
	}
	msg, err := jws.Parse(raw)
	if err != nil || len(msg.Signatures()) != 1 {
		return Header{}, ErrMalformed
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	return Header{Alg: h.Algorithm(), Kid: h.KeyID(), Typ: h.Type()}, nil
}

// Unverified parses the claims without checking the signature: only for finding which
// client's keys to verify with.
func Unverified(raw []byte) (jwt.Token, error) {
	tok, err := jwt.Parse(raw, jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		return nil, ErrMalformed
	}
	return tok, nil
}

// Verify checks the signature of raw with a key of set under one of the allowed algorithms
// and returns its claims, not yet validated (the caller's rules differ by use).
func Verify(raw []byte, set jwk.Set, allowed []jwa.SignatureAlgorithm) (jwt.Token, Header, error) {
	hdr, err := PeekHeader(raw)
	if err != nil {
		return nil, hdr, err
	}
	if !slices.Contains(allowed, hdr.Alg) {
		return nil, hdr, ErrAlgorithm
	}
	if set == nil {
		return nil, hdr, ErrNoKey
	}
	tried := false
	for i := 0; i < set.Len(); i++ {
		key, _ := set.Key(i)
		if !usableFor(key, hdr) {
			continue
		}
		tried = true
		tok, err := jwt.Parse(raw, jwt.WithKey(hdr.Alg, key), jwt.WithValidate(false))
		if err == nil {
			return tok, hdr, nil
		}
	}
	if !tried {
		return nil, hdr, ErrNoKey
	}
	return nil, hdr, ErrBadSignature
}

func usableFor(key jwk.Key, hdr Header) bool {
	if hdr.Kid != "" && key.KeyID() != "" && key.KeyID() != hdr.Kid {
		return false
	}
	if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return false
	}
	if a := key.Algorithm(); a != nil && a.String() != "" && a.String() != hdr.Alg.String() {
		return false
	}
	return true
}

func countDots(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '.' {
			n++
		}
	}
	return n
}
