package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

// keyPair is a private key and its public JWK with kid, alg and use as given.
func keyPair(t *testing.T, raw any, kid string, alg jwa.SignatureAlgorithm, use string) (jwk.Key, jwk.Key) {
	t.Helper()
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		_ = priv.Set(jwk.KeyIDKey, kid)
	}
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if alg != "" {
		_ = pub.Set(jwk.AlgorithmKey, alg)
	}
	if use != "" {
		_ = pub.Set(jwk.KeyUsageKey, use)
	}
	return priv, pub
}

func signed(t *testing.T, key jwk.Key, alg jwa.SignatureAlgorithm, typ string) []byte {
	t.Helper()
	tok := jwt.New()
	_ = tok.Set(jwt.IssuerKey, "tpp-1")
	_ = tok.Set(jwt.JwtIDKey, "jti-1")
	_ = tok.Set(jwt.ExpirationKey, time.Now().Add(time.Minute))
	hdr := jws.NewHeaders()
	if typ != "" {
		_ = hdr.Set(jws.TypeKey, typ)
	}
	b, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func set(t *testing.T, keys ...jwk.Key) jwk.Set {
	t.Helper()
	s := jwk.NewSet()
	for _, k := range keys {
		if err := s.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ecRaw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRaw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaRaw, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edRaw, _ := ed25519.GenerateKey(rand.Reader)

	ec, ecPub := keyPair(t, ecRaw, "ec-1", "", "")
	other, otherPub := keyPair(t, otherRaw, "ec-2", "", "")
	_, ecSigOnly := keyPair(t, ecRaw, "ec-1", jwa.ES256, "sig")
	_, ecEnc := keyPair(t, ecRaw, "ec-1", "", "enc")
	_, ecWrongAlg := keyPair(t, ecRaw, "ec-1", jwa.ES384, "")
	_, ecNoKid := keyPair(t, ecRaw, "", "", "")
	rs, rsPub := keyPair(t, rsaRaw, "rs-1", "", "")
	ed, edPub := keyPair(t, edRaw, "ed-1", "", "")
	noKid, _ := keyPair(t, ecRaw, "", "", "")

	fapi := []jwa.SignatureAlgorithm{jwa.PS256, jwa.ES256}
	for _, tc := range []struct {
		name    string
		raw     []byte
		keys    jwk.Set
		allowed []jwa.SignatureAlgorithm
		err     error
		alg     jwa.SignatureAlgorithm
	}{
		{"ES256 by kid", signed(t, ec, jwa.ES256, "JWT"), set(t, otherPub, ecPub), fapi, nil, jwa.ES256},
		{"PS256", signed(t, rs, jwa.PS256, ""), set(t, rsPub), fapi, nil, jwa.PS256},
		{"key with alg and use sig", signed(t, ec, jwa.ES256, ""), set(t, ecSigOnly), fapi, nil, jwa.ES256},
		{"registered key without kid", signed(t, ec, jwa.ES256, ""), set(t, ecNoKid), fapi, nil, jwa.ES256},
		{"JWT without kid tries every key", signed(t, noKid, jwa.ES256, ""), set(t, otherPub, ecPub), fapi, nil, jwa.ES256},
		{"RS256 not allowed", signed(t, rs, jwa.RS256, ""), set(t, rsPub), fapi, ErrAlgorithm, jwa.RS256},
		{"EdDSA not allowed", signed(t, ed, jwa.EdDSA, ""), set(t, edPub), fapi, ErrAlgorithm, jwa.EdDSA},
		{"EdDSA allowed", signed(t, ed, jwa.EdDSA, ""), set(t, edPub), []jwa.SignatureAlgorithm{jwa.EdDSA}, nil, jwa.EdDSA},
		{"no keys registered", signed(t, ec, jwa.ES256, ""), nil, fapi, ErrNoKey, jwa.ES256},
		{"kid matches no key", signed(t, ec, jwa.ES256, ""), set(t, otherPub), fapi, ErrNoKey, jwa.ES256},
		{"encryption key", signed(t, ec, jwa.ES256, ""), set(t, ecEnc), fapi, ErrNoKey, jwa.ES256},
		{"key bound to another alg", signed(t, ec, jwa.ES256, ""), set(t, ecWrongAlg), fapi, ErrNoKey, jwa.ES256},
		{"signed by another key under the kid", signed(t, other, jwa.ES256, ""), set(t, func() jwk.Key {
			_, k := keyPair(t, ecRaw, "ec-2", "", "")
			return k
		}()), fapi, ErrBadSignature, jwa.ES256},
		{"not a JWS", []byte("not.a.jws"), set(t, ecPub), fapi, ErrMalformed, ""},
		{"empty", nil, set(t, ecPub), fapi, ErrMalformed, ""},
		{"five parts: a JWE", []byte("a.b.c.d.e"), set(t, ecPub), fapi, ErrEncrypted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, hdr, err := Verify(tc.raw, tc.keys, tc.allowed)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if hdr.Alg != tc.alg {
				t.Errorf("alg %q, want %q", hdr.Alg, tc.alg)
			}
			if tc.err == nil && (tok == nil || tok.Issuer() != "tpp-1" || tok.JwtID() != "jti-1") {
				t.Errorf("claims %v", tok)
			}
		})
	}
}

func TestPeekHeaderAndUnverified(t *testing.T) {
	t.Parallel()
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, pub := keyPair(t, raw, "k-1", "", "")
	tok := signed(t, key, jwa.ES256, "oauth-authz-req+jwt")
	hdr, err := PeekHeader(tok)
	if err != nil || hdr.Alg != jwa.ES256 || hdr.Kid != "k-1" || hdr.Typ != "oauth-authz-req+jwt" {
		t.Errorf("PeekHeader = %+v, %v", hdr, err)
	}
	claims, err := Unverified(tok)
	if err != nil || claims.Issuer() != "tpp-1" {
		t.Errorf("Unverified = %v, %v", claims, err)
	}
	// Unverified reads an expired token too: it only finds the client.
	expired := jwt.New()
	_ = expired.Set(jwt.IssuerKey, "tpp-2")
	_ = expired.Set(jwt.ExpirationKey, time.Now().Add(-time.Hour))
	b, _ := jwt.Sign(expired, jwt.WithKey(jwa.ES256, key))
	if c, err := Unverified(b); err != nil || c.Issuer() != "tpp-2" {
		t.Errorf("Unverified(expired) = %v, %v", c, err)
	}
	if _, err := Unverified([]byte("garbage")); !errors.Is(err, ErrMalformed) {
		t.Errorf("Unverified(garbage) = %v", err)
	}
	// A real JWE, compact: refused before any parsing.
	enc, err := jwe.Encrypt([]byte(`{"iss":"x"}`), jwe.WithKey(jwa.ECDH_ES_A128KW, pub))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PeekHeader(enc); !errors.Is(err, ErrEncrypted) {
		t.Errorf("PeekHeader(JWE) = %v", err)
	}
	// Two signatures (JSON serialisation) are not one JWT.
	multi, err := jws.Sign([]byte("{}"), jws.WithJSON(), jws.WithKey(jwa.ES256, key), jws.WithKey(jwa.ES256, key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PeekHeader(multi); !errors.Is(err, ErrMalformed) {
		t.Errorf("PeekHeader(two signatures) = %v", err)
	}
}

// TestRememberJTI: a jti is accepted once per use and client, in a real Badger store.
func TestRememberJTI(t *testing.T) {
	t.Parallel()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	tok := func(jti string) jwt.Token {
		tk := jwt.New()
		_ = tk.Set(jwt.JwtIDKey, jti)
		_ = tk.Set(jwt.ExpirationKey, now.Add(time.Minute))
		return tk
	}
	for _, tc := range []struct {
		name, use, client, jti string
		err                    error
	}{
		{"first sighting", "assertion", "tpp-1", "j-1", nil},
		{"replayed", "assertion", "tpp-1", "j-1", ErrReplayed},
		{"same jti, another client", "assertion", "tpp-2", "j-1", nil},
		{"same jti, another use", "request", "tpp-1", "j-1", nil},
		{"another jti", "assertion", "tpp-1", "j-2", nil},
	} {
		if err := RememberJTI(s, tc.use, tc.client, tok(tc.jti), now); !errors.Is(err, tc.err) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.err)
		}
	}
}
