package jose

import (
	"errors"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/store"
)

// ErrReplayed is returned for a jti already seen.
var ErrReplayed = errors.New("the jti was already used")

// The replay caches, one per kind of token, each under its own store prefix: the jti of
// one kind is remembered apart from another's.
const (
	ClientAssertion = "jti"
	RequestObject   = "rojti"
)

// replayKey is where a sighting is kept: "<use>/<client>/<jti>". Built nowhere else.
func replayKey(use, clientID, jti string) string { return use + "/" + clientID + "/" + jti }

// RememberJTI records the token's jti under the use (ClientAssertion, RequestObject) and
// client until the token expires (plus Skew), counted from now; a second sighting is
// ErrReplayed, any other error a storage failure.
func RememberJTI(s store.Store, use, clientID string, tok jwt.Token, now time.Time) error {
	ttl := tok.Expiration().Add(Skew).Sub(now)
	err := s.PutNew(replayKey(use, clientID, tok.JwtID()), nil, ttl)
	if errors.Is(err, store.ErrExists) {
		return ErrReplayed
	}
	return err
}
