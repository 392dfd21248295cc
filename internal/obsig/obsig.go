// Package obsig signs and verifies the UK Open Banking message signature: the detached JWS
// over the body carried in the x-jws-signature header of PISP and CBPII requests and
// answers (Read/Write API profile v3.1, "Message Signing").
//
// Every JOSE operation is jwx's; this package adds the profile's rules on top of it — PS256
// only, a kid from the client's key set, the three http://openbanking.org.uk/ claims and a
// crit listing exactly them, and b64 false only in the v3.1.0–3.1.3 form — and names each
// fault with its UK.OBIE.Signature.* code. jwx does not enforce crit itself (RFC 7515
// §4.1.11 leaves it to the application), which is why crit is checked here.
package obsig

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/caddyciba/gateway/internal/obie"
)

// HeaderName is the HTTP header that carries the signature.
const HeaderName = "X-Jws-Signature"

// The profile's private header claims.
const (
	ClaimIAT = "http://openbanking.org.uk/iat"
	ClaimISS = "http://openbanking.org.uk/iss"
	ClaimTAN = "http://openbanking.org.uk/tan"
)

// The standard header parameters the profile constrains.
const (
	headerB64  = "b64"
	headerCrit = "crit"
	headerAlg  = "alg"
	headerKid  = "kid"
	headerTyp  = "typ"
	headerCty  = "cty"
)

// DefaultTrustAnchor is the tan of keys lodged with the Open Banking directory.
const DefaultTrustAnchor = "openbanking.org.uk"

// DefaultSkew is the clock difference tolerated between the signer and the gateway.
const DefaultSkew = 60 * time.Second

// Alg is the only algorithm of the profile.
const Alg = jwa.PS256

// minRSABits is FAPI's floor for RSA keys.
const minRSABits = 2048

// maxValueLen bounds the header value parsed; a real signature is well under 2 KiB.
const maxValueLen = 8 << 10

// Form is the serialisation of the signed payload, fixed by the API version.
type Form uint8

const (
	// Encoded is the form of v3.1.4 and later: a plain RFC 7515 detached JWS (the body is
	// base64url-encoded in the signing input) and no b64 header.
	Encoded Form = iota
	// Unencoded is the form of v3.1.0 to v3.1.3: RFC 7797 "b64": false, listed in crit,
	// the body signed as its raw bytes.
	Unencoded
)

func (f Form) String() string {
	if f == Unencoded {
		return "b64=false (v3.1.0-3.1.3)"
	}
	return "b64 absent (v3.1.4+)"
}

// FormOf returns the form of an OB API version: "v3.1", "3.1.2", "v3.1.10", ...
func FormOf(version string) (Form, error) {
	v := strings.TrimPrefix(version, "v")
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "3" || parts[1] != "1" {
		return 0, fmt.Errorf("obsig: unsupported API version %q (v3.1.x)", version)
	}
	if len(parts) == 2 {
		return Unencoded, nil // v3.1 itself is v3.1.0
	}
	patch, err := strconv.Atoi(parts[2])
	if err != nil || patch < 0 || parts[2] != strconv.Itoa(patch) {
		return 0, fmt.Errorf("obsig: unsupported API version %q (v3.1.x)", version)
	}
	if patch <= 3 {
		return Unencoded, nil
	}
	return Encoded, nil
}

// Error is a refused signature: Code is its UK.OBIE.Signature.* code and Path the header
// claim at fault (the spec asks for it on MissingClaim and InvalidClaim).
type Error struct {
	Code   string
	Path   string
	Reason string
}

func (e *Error) Error() string {
	if e.Path != "" {
		return "x-jws-signature: " + e.Path + ": " + e.Reason
	}
	return "x-jws-signature: " + e.Reason
}

// Item is the error as one OBError1 of the 400 answer.
func (e *Error) Item() obie.Item {
	path := e.Path
	if path == "" {
		path = strings.ToLower(HeaderName)
	}
	return obie.Item{ErrorCode: e.Code, Message: e.Error(), Path: path}
}

// CodeOf returns the UK.OBIE.Signature.* code of err, or "" when err is not a refusal.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func malformed(reason string) *Error {
	return &Error{Code: obie.CodeSignatureMalformed, Reason: reason}
}

func missingClaim(name string) *Error {
	return &Error{Code: obie.CodeSignatureMissingClaim, Path: name, Reason: "required by the profile"}
}

func invalidClaim(name, reason string) *Error {
	return &Error{Code: obie.CodeSignatureInvalidClaim, Path: name, Reason: reason}
}

// ErrNoIssuer is a configuration fault, not the signer's: Verify was not told whom to expect.
var ErrNoIssuer = errors.New("obsig: no expected issuer configured")

// Options are what Verify holds the signature to.
type Options struct {
	// Issuer is the expected http://openbanking.org.uk/iss: the client's identity as the
	// spec defines it (organisation / software statement id), as registered.
	Issuer string
	// TrustAnchor is the expected http://openbanking.org.uk/tan; "" means DefaultTrustAnchor.
	TrustAnchor string
	// Form is the serialisation of the API version served.
	Form Form
	// Now is the time to judge iat against; zero means time.Now().
	Now time.Time
	// Skew is how far in the future iat may be; zero means DefaultSkew.
	Skew time.Duration
	// MaxAge, when set, also refuses an iat older than that (plus Skew).
	MaxAge time.Duration
}

// Verify checks value, an x-jws-signature header, over body with a key of the client's set.
// A refusal is an *Error with its code; any other error is the caller's configuration.
// The header is judged before the signature, as the codes ask: Invalid means a header that
// complies with the profile whose signature does not verify.
func Verify(value string, body []byte, keys jwk.Set, opts Options) error {
	if opts.Issuer == "" {
		return ErrNoIssuer
	}
	if value == "" {
		return &Error{Code: obie.CodeSignatureMissing, Reason: "the request carries no signature"}
	}
	if err := checkDetachedCompact(value); err != nil {
		return err
	}
	msg, err := jws.Parse([]byte(value), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return malformed("not a compact JWS")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if err := checkHeader(hdr, opts); err != nil {
		return err
	}
	candidates, err := signingKeys(keys, hdr.KeyID())
	if err != nil {
		return err
	}
	if body == nil {
		body = []byte{} // jwx reads a nil detached payload as "none given"
	}
	for _, key := range candidates {
		_, err := jws.Verify([]byte(value), jws.WithCompact(), jws.WithKey(Alg, key), jws.WithDetachedPayload(body))
		if err == nil {
			return nil
		}
	}
	return &Error{Code: obie.CodeSignatureInvalid, Reason: "the signature does not verify over the body"}
}

// checkDetachedCompact refuses anything but header..signature with both parts in canonical
// base64url, before jwx sees it: jwx also takes the JSON serialisation, padded or standard
// base64, and an attached payload, none of which the profile allows.
func checkDetachedCompact(value string) error {
	if len(value) > maxValueLen {
		return malformed("too long")
	}
	parts := strings.Split(value, ".")
	if len(parts) != 3 {
		return malformed("not of the form header..signature")
	}
	if parts[1] != "" {
		return malformed("the payload must be detached (header..signature)")
	}
	for _, p := range []string{parts[0], parts[2]} {
		if p == "" {
			return malformed("not of the form header..signature")
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(p); err != nil {
			return malformed("not base64url without padding")
		}
	}
	return nil
}

func checkHeader(hdr jws.Headers, opts Options) error {
	switch alg := hdr.Algorithm(); alg {
	case "":
		return missingClaim(headerAlg)
	case Alg:
	default:
		return invalidClaim(headerAlg, fmt.Sprintf("%q is not allowed (PS256 only)", alg.String()))
	}
	if hdr.KeyID() == "" {
		return missingClaim(headerKid)
	}
	// typ and cty are media types, whose names are case-insensitive (RFC 7515 §4.1.9–10
	// allow the "application/" prefix to be left out).
	if typ := hdr.Type(); typ != "" && !isMediaType(typ, "jose") {
		return invalidClaim(headerTyp, "must be JOSE when present")
	}
	if cty := hdr.ContentType(); cty != "" && !isMediaType(cty, "json") {
		return invalidClaim(headerCty, "must be json or application/json when present")
	}

	b64, hasB64 := hdr.Get(headerB64)
	switch {
	case opts.Form == Unencoded && !hasB64:
		return missingClaim(headerB64)
	case opts.Form == Unencoded && b64 != false:
		return invalidClaim(headerB64, "must be false in the v3.1.0-3.1.3 form")
	case opts.Form == Encoded && hasB64:
		return invalidClaim(headerB64, "belongs to the v3.1.0-3.1.3 form only")
	}

	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	skew := opts.Skew
	if skew == 0 {
		skew = DefaultSkew
	}
	iatRaw, ok := hdr.Get(ClaimIAT)
	if !ok {
		return missingClaim(ClaimIAT)
	}
	iat, ok := numericDate(iatRaw)
	if !ok {
		return invalidClaim(ClaimIAT, "must be a JSON number of seconds since the epoch")
	}
	if iat.After(now.Add(skew)) {
		return invalidClaim(ClaimIAT, "is in the future")
	}
	if opts.MaxAge > 0 && iat.Before(now.Add(-opts.MaxAge-skew)) {
		return invalidClaim(ClaimIAT, "is too old")
	}

	issRaw, ok := hdr.Get(ClaimISS)
	if !ok {
		return missingClaim(ClaimISS)
	}
	if iss, ok := issRaw.(string); !ok || iss != opts.Issuer {
		return invalidClaim(ClaimISS, "does not name the client")
	}

	anchor := opts.TrustAnchor
	if anchor == "" {
		anchor = DefaultTrustAnchor
	}
	tanRaw, ok := hdr.Get(ClaimTAN)
	if !ok {
		return missingClaim(ClaimTAN)
	}
	if tan, ok := tanRaw.(string); !ok || tan != anchor {
		return invalidClaim(ClaimTAN, "is not the trust anchor")
	}

	crit := hdr.Critical()
	if crit == nil {
		return missingClaim(headerCrit)
	}
	if !sameSet(crit, critFor(opts.Form)) {
		return invalidClaim(headerCrit, "must list exactly "+strings.Join(critFor(opts.Form), ", "))
	}
	return nil
}

// isMediaType reports whether v names application/<sub>, with or without the prefix.
func isMediaType(v, sub string) bool {
	return strings.EqualFold(v, sub) || strings.EqualFold(v, "application/"+sub)
}

// critFor is the crit the profile asks for in form f.
func critFor(f Form) []string {
	if f == Unencoded {
		return []string{headerB64, ClaimIAT, ClaimISS, ClaimTAN}
	}
	return []string{ClaimIAT, ClaimISS, ClaimTAN}
}

// sameSet reports whether got lists each of want once and nothing else, in any order.
func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := make(map[string]bool, len(got))
	for _, g := range got {
		if seen[g] || !slices.Contains(want, g) {
			return false
		}
		seen[g] = true
	}
	return true
}

// numericDate reads a JSON number of seconds; jwx decodes it as float64, or as a json.Number
// when its decoder is set to UseNumber.
func numericDate(v any) (time.Time, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case interface{ Float64() (float64, error) }:
		var err error
		if f, err = n.Float64(); err != nil {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// signingKeys returns the keys of set under kid that may verify a PS256 signature.
func signingKeys(set jwk.Set, kid string) ([]jwk.Key, error) {
	var found, usable []jwk.Key
	if set != nil {
		for i := 0; i < set.Len(); i++ {
			key, _ := set.Key(i)
			if key.KeyID() == kid {
				found = append(found, key)
			}
		}
	}
	if len(found) == 0 {
		return nil, invalidClaim(headerKid, "no key of the client has this kid")
	}
	for _, key := range found {
		if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
			continue
		}
		if a := key.Algorithm(); a != nil && a.String() != "" && a.String() != Alg.String() {
			continue
		}
		raw, err := jwk.PublicRawKeyOf(key)
		if err != nil {
			continue
		}
		pub, ok := raw.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() < minRSABits {
			continue
		}
		usable = append(usable, key)
	}
	if len(usable) == 0 {
		return nil, invalidClaim(headerKid, "the client's key with this kid is not a PS256 signing key")
	}
	return usable, nil
}

// Claims are what Sign puts in the header besides alg and kid.
type Claims struct {
	// Issuer is http://openbanking.org.uk/iss: the signer's identity (the gateway's, or the
	// bank's when it signs for the bank).
	Issuer string
	// TrustAnchor is http://openbanking.org.uk/tan; "" means DefaultTrustAnchor.
	TrustAnchor string
	// Form is the serialisation of the API version served.
	Form Form
	// IssuedAt is http://openbanking.org.uk/iat; zero means time.Now().
	IssuedAt time.Time
}

// Sign returns the x-jws-signature value over body: a detached compact PS256 JWS made with
// key (an RSA private key with a kid), in the form c.Form.
func Sign(body []byte, key jwk.Key, c Claims) (string, error) {
	if key == nil || key.KeyID() == "" {
		return "", errors.New("obsig: the signing key has no kid")
	}
	if c.Issuer == "" {
		return "", errors.New("obsig: no issuer to sign as")
	}
	anchor := c.TrustAnchor
	if anchor == "" {
		anchor = DefaultTrustAnchor
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	hdr := jws.NewHeaders()
	for name, value := range map[string]any{
		headerTyp:  "JOSE",
		headerCty:  "application/json",
		ClaimIAT:   iat.Unix(),
		ClaimISS:   c.Issuer,
		ClaimTAN:   anchor,
		headerCrit: critFor(c.Form),
	} {
		if err := hdr.Set(name, value); err != nil {
			return "", fmt.Errorf("obsig: header %s: %w", name, err)
		}
	}
	if c.Form == Unencoded {
		if err := hdr.Set(headerB64, false); err != nil {
			return "", fmt.Errorf("obsig: header b64: %w", err)
		}
	}
	if body == nil {
		body = []byte{}
	}
	out, err := jws.Sign(nil, jws.WithKey(Alg, key, jws.WithProtectedHeaders(hdr)), jws.WithDetachedPayload(body))
	if err != nil {
		return "", fmt.Errorf("obsig: signing: %w", err)
	}
	return string(out), nil
}
