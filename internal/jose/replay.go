package jose

import (
	"errors"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

// ErrReplayed is returned for a jti already seen.
var ErrReplayed = errors.New("the jti was already used")

// RememberJTI records the token's jti under the use (client assertion, request object)
// and client until the token expires; a second sighting is ErrReplayed, any other error a
// storage failure.
func RememberJTI(s store.Store, use, clientID string, tok jwt.Token, now time.Time) error {
	ttl := tok.Expiration().Add(Skew).Sub(now)
	err := s.PutNew(use+"/"+clientID+"/"+tok.JwtID(), nil, ttl)
	if errors.Is(err, store.ErrExists) {
		return ErrReplayed
	}
	return err
}
