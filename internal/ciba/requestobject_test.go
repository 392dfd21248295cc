package ciba

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/oauth"
)

const issuer = "https://bank.example"

type signer struct {
	ec, other, rs jwk.Key
	set           jwk.Set
}

func newSigner(t *testing.T) *signer {
	mk := func(raw any, err error) jwk.Key {
		if err != nil {
			t.Fatal(err)
		}
		k, err := jwk.FromRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	s := &signer{
		ec:    mk(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		other: mk(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		rs:    mk(rsa.GenerateKey(rand.Reader, 2048)),
	}
	s.set = jwk.NewSet()
	for _, k := range []jwk.Key{s.ec, s.rs} {
		pub, _ := k.PublicKey()
		s.set.AddKey(pub)
	}
	return s
}

func (s *signer) sign(t *testing.T, key jwk.Key, alg jwa.SignatureAlgorithm, typ string, claims map[string]any) string {
	t.Helper()
	now := time.Now()
	tok := jwt.New()
	base := map[string]any{
		"iss": "tpp", "aud": issuer, "exp": now.Add(5 * time.Minute), "iat": now, "nbf": now,
		"jti": uuid.NewString(), "scope": "openid accounts", "login_hint": "alice", "binding_message": "W4K9",
		"openbanking_intent_id": map[string]any{"value": "aac-1", "essential": true},
	}
	for k, v := range claims {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	for k, v := range base {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	if typ != "" {
		hdr.Set(jws.TypeKey, typ)
	}
	out, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestRequestObject(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	ro := &RequestObject{Issuer: issuer, Algs: RequestObjectAlgs, Replay: openStore(t)}
	now := time.Now()
	replayed := s.sign(t, s.ec, jwa.ES256, "", nil)
	if _, err := ro.Verify(replayed, "tpp", s.set, now); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		jwt     string
		consent string
		expiry  int
		bad     bool
	}{
		{name: "WSO2 consent form", jwt: s.sign(t, s.ec, jwa.ES256, "oauth-authz-req+jwt", nil), consent: "aac-1"},
		{name: "UK OB consent form", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"openbanking_intent_id": nil, "openbanking-intent-id": "aac-2"}), consent: "aac-2"},
		{name: "consent under claims.id_token", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"openbanking_intent_id": nil,
			"claims": map[string]any{"id_token": map[string]any{"openbanking_intent_id": map[string]any{"value": "aac-3", "essential": true}}}}), consent: "aac-3"},
		{name: "typ in odd case", jwt: s.sign(t, s.ec, jwa.ES256, "OautH-auThZ-REQ+jWt", nil), consent: "aac-1"},
		{name: "aud as array", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"aud": []string{"https://x", issuer}}), consent: "aac-1"},
		{name: "requested_expiry as number", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"requested_expiry": 30}), consent: "aac-1", expiry: 30},
		{name: "requested_expiry as string", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"requested_expiry": "30"}), consent: "aac-1", expiry: 30},
		{name: "PS256", jwt: s.sign(t, s.rs, jwa.PS256, "", nil), consent: "aac-1"},

		{name: "RS256", jwt: s.sign(t, s.rs, jwa.RS256, "", nil), bad: true},
		{name: "HS256", jwt: func() string {
			k, _ := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
			return s.sign(t, k, jwa.HS256, "", nil)
		}(), bad: true},
		{name: "encrypted", jwt: "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", bad: true},
		{name: "not a JWT", jwt: "garbage", bad: true},
		{name: "signed by another key", jwt: s.sign(t, s.other, jwa.ES256, "", nil), bad: true},
		{name: "replayed jti", jwt: replayed, bad: true},
		{name: "wrong typ", jwt: s.sign(t, s.ec, jwa.ES256, "dpop+jwt", nil), bad: true},
		{name: "iss of another client", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"iss": "tpp-2"}), bad: true},
		{name: "no iss", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"iss": nil}), bad: true},
		{name: "aud not the issuer", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"aud": "https://other"}), bad: true},
		{name: "no aud", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"aud": nil}), bad: true},
		{name: "no exp", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"exp": nil}), bad: true},
		{name: "no iat", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"iat": nil}), bad: true},
		{name: "no nbf", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"nbf": nil}), bad: true},
		{name: "no jti", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"jti": nil}), bad: true},
		{name: "expired", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"exp": now.Add(-2 * time.Minute), "nbf": now.Add(-5 * time.Minute)}), bad: true},
		{name: "nbf 10 minutes ahead", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"nbf": now.Add(10 * time.Minute), "exp": now.Add(15 * time.Minute)}), bad: true},
		{name: "exp 70 minutes ahead", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"exp": now.Add(70 * time.Minute)}), bad: true},
		{name: "nbf 70 minutes back", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"nbf": now.Add(-70 * time.Minute)}), bad: true},
		{name: "client_id claim of another client", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"client_id": "tpp-2"}), bad: true},
		{name: "requested_expiry zero", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"requested_expiry": 0}), bad: true},
		{name: "requested_expiry negative", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"requested_expiry": -5}), bad: true},
		{name: "requested_expiry fraction", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"requested_expiry": 1.5}), bad: true},
		{name: "requested_expiry text", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"requested_expiry": "soon"}), bad: true},
		{name: "login_hint not a string", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"login_hint": 42}), bad: true},
		{name: "consent claims disagree", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"openbanking-intent-id": "aac-9"}), bad: true},
		{name: "consent claim of a wrong shape", jwt: s.sign(t, s.ec, jwa.ES256, "", map[string]any{"openbanking_intent_id": []string{"aac-1"}}), bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ro.Verify(tc.jwt, "tpp", s.set, now)
			if tc.bad {
				oe, ok := err.(*oauth.Error)
				if !ok || oe.Code != "invalid_request" || oe.Status != 400 {
					t.Fatalf("error = %v, want 400 invalid_request", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ConsentID != tc.consent || p.RequestedExpiry != tc.expiry || p.LoginHint != "alice" || p.Scope != "openid accounts" || p.BindingMessage != "W4K9" {
				t.Fatalf("params %+v", p)
			}
		})
	}
}

func TestRequestObjectFAPIAlgs(t *testing.T) {
	t.Parallel()
	raw, _, _ := ed25519Key(t)
	ro := &RequestObject{Issuer: issuer, Algs: FAPIAlgs, Replay: openStore(t)}
	s := newSigner(t)
	set := jwk.NewSet()
	pub, _ := raw.PublicKey()
	set.AddKey(pub)
	if _, err := ro.Verify(s.sign(t, raw, jwa.EdDSA, "", nil), "tpp", set, time.Now()); err == nil {
		t.Fatal("EdDSA accepted under FAPI")
	}
	ro.Algs = RequestObjectAlgs
	if _, err := ro.Verify(s.sign(t, raw, jwa.EdDSA, "", nil), "tpp", set, time.Now()); err != nil {
		t.Fatalf("EdDSA outside FAPI: %v", err)
	}
}

func ed25519Key(t *testing.T) (jwk.Key, any, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(priv)
	return k, priv, err
}
