package ciba

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/jose"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
)

// RequestObjectAlgs are the algorithms a signed authentication request may use; FAPIAlgs
// the ones FAPI-CIBA allows.
var (
	RequestObjectAlgs = []jwa.SignatureAlgorithm{jwa.PS256, jwa.ES256, jwa.EdDSA}
	FAPIAlgs          = []jwa.SignatureAlgorithm{jwa.PS256, jwa.ES256}
)

// maxRequestLifetime is FAPI-CIBA 5.2.2-9: exp − nbf at most 60 minutes.
const maxRequestLifetime = 60 * time.Minute

// Params are the authentication request parameters, from a signed request object or
// the form.
type Params struct {
	Scope                   string
	LoginHint               string
	LoginHintToken          string
	IDTokenHint             string
	BindingMessage          string
	UserCode                string
	ClientNotificationToken string
	ACRValues               string
	RequestedExpiry         int // seconds; 0 when absent
	ConsentID               string
}

// RequestObject verifies a signed authentication request (CIBA Core §7.1.1) of the
// authenticated client and returns its parameters. Every failure is 400 invalid_request,
// the answer the conformance suite requires. The jti goes into replay until exp.
type RequestObject struct {
	Issuer string
	Algs   []jwa.SignatureAlgorithm
	Replay store.Store
}

func badRequestObject(msg string) *oauth.Error { return oauth.InvalidRequest("request object: " + msg) }

// Verify checks raw for clientID with the client's keys at now.
func (ro *RequestObject) Verify(raw, clientID string, keys jwk.Set, now time.Time) (*Params, error) {
	tok, hdr, err := jose.Verify([]byte(raw), keys, ro.Algs)
	switch {
	case errors.Is(err, jose.ErrEncrypted):
		return nil, badRequestObject("encrypted request objects are not supported")
	case errors.Is(err, jose.ErrAlgorithm):
		return nil, badRequestObject("the signing algorithm is not allowed")
	case err != nil:
		return nil, badRequestObject("the signature does not verify with the client's keys")
	}
	if hdr.Typ != "" && !strings.EqualFold(hdr.Typ, "oauth-authz-req+jwt") && !strings.EqualFold(hdr.Typ, "JWT") {
		return nil, badRequestObject("typ must be oauth-authz-req+jwt")
	}
	if err := ro.checkClaims(tok, clientID, now); err != nil {
		return nil, err
	}
	p, err := paramsFromClaims(tok)
	if err != nil {
		return nil, err
	}
	if err := jose.RememberJTI(ro.Replay, jose.RequestObject, clientID, tok, now); err != nil {
		if errors.Is(err, jose.ErrReplayed) {
			return nil, badRequestObject(err.Error())
		}
		return nil, oauth.ServerError("the request could not be recorded", err)
	}
	return p, nil
}

func (ro *RequestObject) checkClaims(tok jwt.Token, clientID string, now time.Time) error {
	exp, nbf, iat := tok.Expiration(), tok.NotBefore(), tok.IssuedAt()
	switch {
	case tok.Issuer() != clientID:
		return badRequestObject("iss must be the client_id")
	case !slices.Contains(tok.Audience(), ro.Issuer) && !slices.Contains(tok.Audience(), ro.Issuer+"/"):
		return badRequestObject("aud must contain the issuer")
	case exp.IsZero(), iat.IsZero(), nbf.IsZero():
		return badRequestObject("exp, iat and nbf are required")
	case tok.JwtID() == "" || len(tok.JwtID()) > 256:
		return badRequestObject("jti is required")
	case !now.Before(exp.Add(jose.Skew)):
		return badRequestObject("the request object has expired")
	case now.Add(jose.Skew).Before(nbf), now.Add(jose.Skew).Before(iat):
		return badRequestObject("the request object is not yet valid")
	case nbf.Before(now.Add(-maxRequestLifetime)):
		return badRequestObject("nbf is more than 60 minutes in the past")
	case exp.Sub(nbf) > maxRequestLifetime, exp.After(now.Add(maxRequestLifetime + jose.Skew)):
		return badRequestObject("the lifetime may not exceed 60 minutes")
	case exp.Sub(nbf) <= 0:
		return badRequestObject("exp must be after nbf")
	}
	if id, ok := tok.Get("client_id"); ok && id != clientID {
		return badRequestObject("client_id does not match the client")
	}
	return nil
}

func paramsFromClaims(tok jwt.Token) (*Params, error) {
	claims, err := tok.AsMap(context.Background())
	if err != nil {
		return nil, badRequestObject("the claims could not be read")
	}
	p := &Params{}
	for name, dst := range map[string]*string{
		"scope": &p.Scope, "login_hint": &p.LoginHint, "login_hint_token": &p.LoginHintToken,
		"id_token_hint": &p.IDTokenHint, "binding_message": &p.BindingMessage, "user_code": &p.UserCode,
		"client_notification_token": &p.ClientNotificationToken, "acr_values": &p.ACRValues,
	} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		s, isString := v.(string)
		if !isString {
			return nil, badRequestObject(name + " must be a string")
		}
		*dst = s
	}
	if v, ok := claims["requested_expiry"]; ok {
		n, err := requestedExpiry(v)
		if err != nil {
			return nil, badRequestObject(err.Error())
		}
		p.RequestedExpiry = n
	}
	if p.ConsentID, err = consentClaim(claims); err != nil {
		return nil, badRequestObject(err.Error())
	}
	return p, nil
}

// IntentParam is the form parameter of an unsigned request's consent; signed requests
// carry the consent as a claim.
const IntentParam = "openbanking_intent_id"

// ParseRequestedExpiry reads requested_expiry from a form.
func ParseRequestedExpiry(s string) (int, error) { return requestedExpiry(s) }

// requestedExpiry accepts a positive integer as a JSON number or string (CIBA §7.1.1).
func requestedExpiry(v any) (int, error) {
	var n float64
	switch x := v.(type) {
	case float64:
		n = x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, errors.New("requested_expiry must be a positive integer")
		}
		n = f
	case string:
		i, err := strconv.Atoi(x)
		if err != nil {
			return 0, errors.New("requested_expiry must be a positive integer")
		}
		n = float64(i)
	default:
		return 0, errors.New("requested_expiry must be a positive integer")
	}
	if n <= 0 || n != float64(int(n)) || n > 1<<31 {
		return 0, errors.New("requested_expiry must be a positive integer")
	}
	return int(n), nil
}

// consentClaim finds the consent in the three forms banks meet: openbanking_intent_id as
// {"value": …} (WSO2), openbanking-intent-id as a string (UK OB CIBA profile), or either
// under claims.id_token.
func consentClaim(claims map[string]any) (string, error) {
	var found []string
	collect := func(m map[string]any) error {
		for _, name := range []string{"openbanking_intent_id", "openbanking-intent-id"} {
			v, ok := m[name]
			if !ok {
				continue
			}
			switch x := v.(type) {
			case string:
				found = append(found, x)
			case map[string]any:
				s, ok := x["value"].(string)
				if !ok {
					return fmt.Errorf("%s must carry a string value", name)
				}
				found = append(found, s)
			default:
				return fmt.Errorf("%s must be a string or {\"value\": …}", name)
			}
		}
		return nil
	}
	if err := collect(claims); err != nil {
		return "", err
	}
	if c, ok := claims["claims"].(map[string]any); ok {
		if idt, ok := c["id_token"].(map[string]any); ok {
			if err := collect(idt); err != nil {
				return "", err
			}
		}
	}
	for _, f := range found {
		if f == "" || f != found[0] {
			return "", errors.New("the consent claims disagree")
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	return found[0], nil
}
