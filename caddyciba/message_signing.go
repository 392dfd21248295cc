package caddyciba

import (
	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/obsig"
	"github.com/caddyciba/gateway/internal/op"
	"github.com/caddyciba/gateway/internal/store"
)

// defaultJWSVersion is the OB API version whose x-jws-signature form the gateway uses
// unless jws_version says otherwise: v3.1.4 and later sign the body base64url-encoded.
const defaultJWSVersion = "v3.1.10"

func (a *App) jwsVersion() string {
	if a.JWSVersion == "" {
		return defaultJWSVersion
	}
	return a.JWSVersion
}

// messageSigning is the x-jws-signature setup of the payment APIs. UK OB message signing
// is PS256 only: with signing_alg PS256 the gateway's signing ring signs; otherwise a
// PS256 ring of its own is made and kept in the store beside it.
func (a *App) messageSigning(st store.Store, ring *keys.Keyring) (op.MessageSigning, error) {
	form, err := obsig.FormOf(a.jwsVersion())
	if err != nil {
		return op.MessageSigning{}, err
	}
	ps := ring
	if ring.Alg() != jwa.PS256 {
		if ps, err = keys.LoadOrCreate(st, jwa.PS256); err != nil {
			return op.MessageSigning{}, err
		}
	}
	iss := a.JWSIssuer
	if iss == "" {
		iss = a.Issuer
	}
	return op.MessageSigning{Issuer: iss, TrustAnchor: a.JWSTrustAnchor, Form: form, Keys: ps}, nil
}
