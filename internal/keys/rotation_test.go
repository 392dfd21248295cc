package keys

import (
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

func kidsOf(set jwk.Set) []string {
	var out []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		out = append(out, k.KeyID())
	}
	return out
}

func signed(t *testing.T, k *Keyring) []byte {
	t.Helper()
	tok := jwt.New()
	_ = tok.Set(jwt.SubjectKey, "psu-1")
	b, err := k.SignJWT(tok)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRotation: the next key is published before it signs; the old one stays published
// until the tokens it signed have expired, then leaves; a second instance on the same
// store follows after Reload; a schedule that is not due rotates nothing.
func TestRotation(t *testing.T) {
	t.Parallel()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	k, err := LoadOrCreate(s, jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	k.Now = clock
	old := k.KeyID()
	before := signed(t, k)

	rotated, next, err := k.Rotate(time.Minute, 10*time.Minute, nil)
	if err != nil || !rotated || next == old {
		t.Fatalf("rotate: %v %q %v", rotated, next, err)
	}
	if kids := kidsOf(k.PublicSet()); len(kids) != 2 || kids[0] != old || kids[1] != next {
		t.Fatalf("JWKS right after the rotation: %v", kids)
	}
	if k.KeyID() != old {
		t.Fatal("the new key signs before its lead time")
	}

	now = now.Add(time.Minute)
	if k.KeyID() != next {
		t.Fatalf("after the lead the signer is %s", k.KeyID())
	}
	after := signed(t, k)
	for name, tok := range map[string][]byte{"before": before, "after": after} {
		if _, err := k.ParseJWT(tok, jwt.WithValidate(false)); err != nil {
			t.Fatalf("token signed %s the rotation: %v", name, err)
		}
	}

	other, err := LoadOrCreate(s, jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	other.Now = clock
	if other.KeyID() != next {
		t.Fatalf("a second instance signs with %s", other.KeyID())
	}

	now = now.Add(10*time.Minute + time.Second)
	if kids := kidsOf(k.PublicSet()); len(kids) != 1 || kids[0] != next {
		t.Fatalf("JWKS after the old key's tokens expired: %v", kids)
	}
	if _, err := k.ParseJWT(before, jwt.WithValidate(false)); err == nil {
		t.Fatal("a retired key still verifies")
	}
	if rotated, _, _ := k.Rotate(time.Minute, time.Minute, func(newest time.Time) bool { return now.Sub(newest) > time.Hour }); rotated {
		t.Fatal("rotated when not due")
	}
}

// TestLegacyKeyTakenOver: a key stored before rotation existed keeps signing.
func TestLegacyKeyTakenOver(t *testing.T) {
	t.Parallel()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	legacy, err := newKey(jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(legacyKey(jwa.ES256), legacy, 0); err != nil {
		t.Fatal(err)
	}
	key, _ := jwk.ParseKey(legacy)
	k, err := LoadOrCreate(s, jwa.ES256)
	if err != nil || k.KeyID() != key.KeyID() {
		t.Fatalf("kid %s, want the legacy %s (%v)", k.KeyID(), key.KeyID(), err)
	}
}
