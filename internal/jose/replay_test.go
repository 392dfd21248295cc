package jose

import (
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

// TestRememberJTI: a jti is accepted once per use and client; the same jti under another
// use or another client is a different sighting.
func TestRememberJTI(t *testing.T) {
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	tok := func(jti string) jwt.Token {
		tk, err := jwt.NewBuilder().JwtID(jti).Expiration(now.Add(time.Minute)).Build()
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	for _, tc := range []struct {
		name   string
		use    Use
		client string
		jti    string
		want   error
	}{
		{"first sighting", ClientAssertion, "c1", "j1", nil},
		{"replayed", ClientAssertion, "c1", "j1", ErrReplayed},
		{"another use", RequestObject, "c1", "j1", nil},
		{"replayed request object", RequestObject, "c1", "j1", ErrReplayed},
		{"another client", ClientAssertion, "c2", "j1", nil},
		{"another jti", ClientAssertion, "c1", "j2", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := RememberJTI(s, tc.use, tc.client, tok(tc.jti), now); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
