package keys

import "github.com/lestrrat-go/jwx/v2/jwk"

// SigningKey is the private key that signs now, with its kid: for signatures made outside
// the ring's JWT helpers, such as the UK OB x-jws-signature (which needs a PS256 ring).
func (k *Keyring) SigningKey() jwk.Key { return k.signing().private }
