package keys

import (
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

func TestLoadOrCreateKeepsTheKey(t *testing.T) {
	t.Parallel()
	for _, alg := range Supported {
		t.Run(alg.String(), func(t *testing.T) {
			dir := t.TempDir()
			s, err := store.OpenBadger(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			first, err := LoadOrCreate(s, alg)
			if err != nil {
				t.Fatal(err)
			}
			tok := jwt.New()
			tok.Set(jwt.SubjectKey, "psu-1")
			tok.Set(jwt.ExpirationKey, time.Now().Add(time.Minute))
			signed, err := first.SignJWT(tok)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()

			s, err = store.OpenBadger(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			again, err := LoadOrCreate(s, alg)
			if err != nil {
				t.Fatal(err)
			}
			if again.KeyID() == "" || again.KeyID() != first.KeyID() {
				t.Fatalf("kid %q after reopen, want %q", again.KeyID(), first.KeyID())
			}
			parsed, err := again.ParseJWT(signed)
			if err != nil || parsed.Subject() != "psu-1" {
				t.Fatalf("a token signed before the reopen does not verify: %v", err)
			}
			pub, _ := again.PublicSet().Key(0)
			if isPriv, _ := jwk.IsPrivateKey(pub); isPriv {
				t.Fatal("the public set holds a private key")
			}
			if pub.KeyID() != first.KeyID() || pub.Algorithm().String() != alg.String() {
				t.Fatalf("published key kid=%s alg=%s", pub.KeyID(), pub.Algorithm())
			}
		})
	}
}

func TestRSAKeySize(t *testing.T) {
	t.Parallel()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ring, err := LoadOrCreate(s, jwa.PS256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ring.PublicSet().Key(0)
	var raw any
	if err := pub.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	type sized interface{ Size() int }
	if n := raw.(sized).Size() * 8; n < 2048 {
		t.Fatalf("RSA key of %d bits", n)
	}
}

func TestParseAlg(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"RS256", "HS256", "none", "", "ps256"} {
		if _, err := ParseAlg(name); err == nil {
			t.Errorf("ParseAlg(%q) accepted", name)
		}
	}
}

func TestNewSigningKey(t *testing.T) {
	tests := []struct {
		alg     jwa.SignatureAlgorithm
		kid     string
		rsaBits int
	}{
		{jwa.ES256, "client-1", 0},
		{jwa.EdDSA, "", 0},
		{jwa.PS256, "", 2048},
		{jwa.PS256, "client-rsa", 3072},
	}
	for _, tt := range tests {
		key, err := NewSigningKey(tt.alg, tt.kid, tt.rsaBits)
		if err != nil {
			t.Fatalf("%s: %v", tt.alg, err)
		}
		if tt.kid != "" && key.KeyID() != tt.kid || key.KeyID() == "" {
			t.Errorf("%s: kid %q, want %q (or a thumbprint when empty)", tt.alg, key.KeyID(), tt.kid)
		}
		if key.Algorithm().String() != tt.alg.String() || key.KeyUsage() != string(jwk.ForSignature) {
			t.Errorf("%s: alg %s use %s", tt.alg, key.Algorithm(), key.KeyUsage())
		}
		if isPriv, _ := jwk.IsPrivateKey(key); !isPriv {
			t.Errorf("%s: not a private key", tt.alg)
		}
		if tt.rsaBits != 0 {
			var raw any
			if err := key.Raw(&raw); err != nil {
				t.Fatal(err)
			}
			if n := raw.(interface{ Size() int }).Size() * 8; n != tt.rsaBits {
				t.Errorf("RSA key of %d bits, want %d", n, tt.rsaBits)
			}
		}
	}
	if _, err := NewSigningKey(jwa.HS256, "", 0); err == nil {
		t.Error("made an HS256 signing key")
	}
}
