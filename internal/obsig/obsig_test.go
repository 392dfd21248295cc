package obsig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/caddyciba/gateway/internal/obie"
)

const (
	testIssuer = "0015800001041REAAY/5dPk2Bn6Dg4EsyJqBdIcK6"
	testKid    = "tpp-sig-1"
)

var testNow = time.Unix(1_780_000_000, 0)

var testBody = []byte(`{"Data":{"Initiation":{"InstructionIdentification":"ACME412","InstructedAmount":{"Amount":"165.88","Currency":"GBP"}}},"Risk":{}}`)

// testKeys are made once: RSA generation is the slow part of these tests.
type testKeys struct {
	tpp      jwk.Key // the client's PS256 key (private, kid testKid)
	other    jwk.Key // another RSA key, no kid
	weak     jwk.Key // RSA 1024, kid "weak"
	ec       jwk.Key // EC P-256, kid "ec"
	enc      jwk.Key // RSA for encryption, kid "enc"
	rs256    jwk.Key // RSA registered for RS256, kid "rs256"
	set      jwk.Set // the client's public JWKS
	gateway  jwk.Key // the gateway's PS256 key, kid "gw-1"
	gwPublic jwk.Set
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func rsaKey(t testing.TB, bits int, kid string, set func(jwk.Key)) jwk.Key {
	t.Helper()
	raw, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		_ = key.Set(jwk.KeyIDKey, kid)
	}
	if set != nil {
		set(key)
	}
	return key
}

func publicSet(t testing.TB, ks ...jwk.Key) jwk.Set {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range ks {
		pub, err := k.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	return set
}

func loadKeys(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		keys.tpp = rsaKey(t, 2048, testKid, func(k jwk.Key) { _ = k.Set(jwk.KeyUsageKey, "sig") })
		keys.other = rsaKey(t, 2048, "", nil)
		keys.weak = rsaKey(t, 1024, "weak", nil)
		ecRaw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys.ec, _ = jwk.FromRaw(ecRaw)
		_ = keys.ec.Set(jwk.KeyIDKey, "ec")
		keys.enc = rsaKey(t, 2048, "enc", func(k jwk.Key) { _ = k.Set(jwk.KeyUsageKey, "enc") })
		keys.rs256 = rsaKey(t, 2048, "rs256", func(k jwk.Key) { _ = k.Set(jwk.AlgorithmKey, jwa.RS256) })
		keys.set = publicSet(t, keys.tpp, keys.weak, keys.ec, keys.enc, keys.rs256)
		keys.gateway = rsaKey(t, 2048, "gw-1", func(k jwk.Key) { _ = k.Set(jwk.AlgorithmKey, jwa.PS256) })
		keys.gwPublic = publicSet(t, keys.gateway)
	})
	if keys.tpp == nil {
		t.Fatal("test keys were not made")
	}
	return keys
}

// goodHeader is a compliant header of form f, minus alg (set by the signer).
func goodHeader(f Form) map[string]any {
	h := map[string]any{
		"kid":    testKid,
		"typ":    "JOSE",
		"cty":    "application/json",
		ClaimIAT: testNow.Unix(),
		ClaimISS: testIssuer,
		ClaimTAN: DefaultTrustAnchor,
		"crit":   []string{ClaimIAT, ClaimISS, ClaimTAN},
	}
	if f == Unencoded {
		h["b64"] = false
		h["crit"] = []string{"b64", ClaimIAT, ClaimISS, ClaimTAN}
	}
	return h
}

// edit is a change to the good header: a nil value deletes the claim.
type edit map[string]any

func (e edit) apply(h map[string]any) map[string]any {
	for k, v := range e {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// signHeader signs body detached with jwx under the given header; key's own kid is dropped
// so that the header decides the kid.
func signHeader(t testing.TB, alg jwa.SignatureAlgorithm, key any, header map[string]any, body []byte) string {
	t.Helper()
	if k, ok := key.(jwk.Key); ok {
		c, err := k.Clone()
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Remove(jwk.KeyIDKey)
		key = c
	}
	hdr := jws.NewHeaders()
	for k, v := range header {
		if err := hdr.Set(k, v); err != nil {
			t.Fatalf("header %s: %v", k, err)
		}
	}
	out, err := jws.Sign(nil, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)), jws.WithDetachedPayload(body))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// rawHeader builds header..signature by hand for headers jwx will not sign (alg none, no alg).
func rawHeader(t testing.TB, header map[string]any) string {
	t.Helper()
	b, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b) + ".." + base64.RawURLEncoding.EncodeToString([]byte("not a signature"))
}

func opts(f Form) Options {
	return Options{Issuer: testIssuer, Form: f, Now: testNow}
}

func TestVerifyFaults(t *testing.T) {
	k := loadKeys(t)
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	ecRaw := func() any {
		var raw ecdsa.PrivateKey
		if err := k.ec.Raw(&raw); err != nil {
			t.Fatal(err)
		}
		return &raw
	}()
	ps := func(e edit) string { return signHeader(t, jwa.PS256, k.tpp, e.apply(goodHeader(Encoded)), testBody) }
	psU := func(e edit) string {
		return signHeader(t, jwa.PS256, k.tpp, e.apply(goodHeader(Unencoded)), testBody)
	}
	good := ps(nil)
	parts := strings.Split(good, ".")
	goodU := psU(nil)

	tests := []struct {
		name  string
		value string
		form  Form
		mod   func(*Options)
		code  string
		path  string
	}{
		{name: "ok", value: good},
		{name: "ok unencoded", value: goodU, form: Unencoded},
		{name: "ok iat within skew", value: ps(edit{ClaimIAT: testNow.Add(50 * time.Second).Unix()})},
		{name: "ok without typ and cty", value: ps(edit{"typ": nil, "cty": nil})},
		{name: "ok cty json", value: ps(edit{"cty": "json"})},
		{name: "ok crit in another order", value: ps(edit{"crit": []string{ClaimTAN, ClaimIAT, ClaimISS}})},
		{name: "ok old iat without MaxAge", value: ps(edit{ClaimIAT: testNow.Add(-48 * time.Hour).Unix()})},
		{name: "ok fractional iat", value: ps(edit{ClaimIAT: float64(testNow.Unix()) + 0.5})},

		{name: "missing", value: "", code: obie.CodeSignatureMissing},

		{name: "one part", value: "abc", code: obie.CodeSignatureMalformed},
		{name: "two parts", value: parts[0] + "." + parts[2], code: obie.CodeSignatureMalformed},
		{name: "four parts", value: good + ".x", code: obie.CodeSignatureMalformed},
		{name: "attached payload", value: parts[0] + "." + base64.RawURLEncoding.EncodeToString(testBody) + "." + parts[2], code: obie.CodeSignatureMalformed},
		{name: "json serialisation", value: `{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, code: obie.CodeSignatureMalformed},
		{name: "no header", value: ".." + parts[2], code: obie.CodeSignatureMalformed},
		{name: "no signature", value: parts[0] + "..", code: obie.CodeSignatureMalformed},
		{name: "padded header", value: parts[0] + "==.." + parts[2], code: obie.CodeSignatureMalformed},
		{name: "standard base64", value: strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]) + "+.." + parts[2], code: obie.CodeSignatureMalformed},
		{name: "header not json", value: base64.RawURLEncoding.EncodeToString([]byte("alg=PS256")) + ".." + parts[2], code: obie.CodeSignatureMalformed},
		{name: "header json array", value: base64.RawURLEncoding.EncodeToString([]byte(`["PS256"]`)) + ".." + parts[2], code: obie.CodeSignatureMalformed},
		{name: "crit not an array", value: rawHeader(t, edit{"alg": "PS256", "crit": "b64"}.apply(goodHeader(Encoded))), code: obie.CodeSignatureMalformed},
		{name: "too long", value: strings.Repeat("a", maxValueLen) + ".." + parts[2], code: obie.CodeSignatureMalformed},

		{name: "no alg", value: rawHeader(t, goodHeader(Encoded)), code: obie.CodeSignatureMissingClaim, path: "alg"},
		{name: "alg none", value: rawHeader(t, edit{"alg": "none"}.apply(goodHeader(Encoded))), code: obie.CodeSignatureInvalidClaim, path: "alg"},
		{name: "alg HS256", value: signHeader(t, jwa.HS256, hmacKey, goodHeader(Encoded), testBody), code: obie.CodeSignatureInvalidClaim, path: "alg"},
		{name: "alg RS256", value: signHeader(t, jwa.RS256, k.tpp, goodHeader(Encoded), testBody), code: obie.CodeSignatureInvalidClaim, path: "alg"},
		{name: "alg PS512", value: signHeader(t, jwa.PS512, k.tpp, goodHeader(Encoded), testBody), code: obie.CodeSignatureInvalidClaim, path: "alg"},
		{name: "alg ES256", value: signHeader(t, jwa.ES256, ecRaw, edit{"kid": "ec"}.apply(goodHeader(Encoded)), testBody), code: obie.CodeSignatureInvalidClaim, path: "alg"},

		{name: "no kid", value: ps(edit{"kid": nil}), code: obie.CodeSignatureMissingClaim, path: "kid"},
		{name: "unknown kid", value: ps(edit{"kid": "nobody"}), code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "kid of an encryption key", value: ps(edit{"kid": "enc"}), code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "kid of an EC key", value: ps(edit{"kid": "ec"}), code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "kid of an RS256 key", value: ps(edit{"kid": "rs256"}), code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "kid of a 1024-bit key", value: signHeader(t, jwa.PS256, k.weak, edit{"kid": "weak"}.apply(goodHeader(Encoded)), testBody), code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "no key set", value: good, mod: func(o *Options) {}, code: "nil-set"},

		{name: "typ JWT", value: ps(edit{"typ": "JWT"}), code: obie.CodeSignatureInvalidClaim, path: "typ"},
		{name: "ok typ lower case", value: ps(edit{"typ": "jose"})},
		{name: "ok typ as a full media type", value: ps(edit{"typ": "application/jose"})},
		{name: "typ JOSE+JSON", value: ps(edit{"typ": "JOSE+JSON"}), code: obie.CodeSignatureInvalidClaim, path: "typ"},
		{name: "cty application/jose", value: ps(edit{"cty": "application/jose"}), code: obie.CodeSignatureInvalidClaim, path: "cty"},
		{name: "cty text", value: ps(edit{"cty": "text/plain"}), code: obie.CodeSignatureInvalidClaim, path: "cty"},

		{name: "b64 false in the later form", value: psU(nil), code: obie.CodeSignatureInvalidClaim, path: "b64"},
		{name: "b64 true in the later form", value: ps(edit{"b64": true}), code: obie.CodeSignatureInvalidClaim, path: "b64"},
		{name: "no b64 in the 3.1.3 form", value: good, form: Unencoded, code: obie.CodeSignatureMissingClaim, path: "b64"},
		{name: "b64 true in the 3.1.3 form", value: psU(edit{"b64": true}), form: Unencoded, code: obie.CodeSignatureInvalidClaim, path: "b64"},
		{name: "b64 a string", value: psU(edit{"b64": "false"}), form: Unencoded, code: obie.CodeSignatureInvalidClaim, path: "b64"},

		{name: "no iat", value: ps(edit{ClaimIAT: nil}), code: obie.CodeSignatureMissingClaim, path: ClaimIAT},
		{name: "iat a string", value: ps(edit{ClaimIAT: "1780000000"}), code: obie.CodeSignatureInvalidClaim, path: ClaimIAT},
		{name: "iat negative", value: ps(edit{ClaimIAT: -1}), code: obie.CodeSignatureInvalidClaim, path: ClaimIAT},
		{name: "iat in the future", value: ps(edit{ClaimIAT: testNow.Add(2 * time.Minute).Unix()}), code: obie.CodeSignatureInvalidClaim, path: ClaimIAT},
		{name: "iat beyond a tighter skew", value: ps(edit{ClaimIAT: testNow.Add(10 * time.Second).Unix()}), mod: func(o *Options) { o.Skew = 5 * time.Second }, code: obie.CodeSignatureInvalidClaim, path: ClaimIAT},
		{name: "iat older than MaxAge", value: ps(edit{ClaimIAT: testNow.Add(-10 * time.Minute).Unix()}), mod: func(o *Options) { o.MaxAge = 5 * time.Minute }, code: obie.CodeSignatureInvalidClaim, path: ClaimIAT},

		{name: "no iss", value: ps(edit{ClaimISS: nil}), code: obie.CodeSignatureMissingClaim, path: ClaimISS},
		{name: "iss of another client", value: ps(edit{ClaimISS: "0015800001041REAAY/other"}), code: obie.CodeSignatureInvalidClaim, path: ClaimISS},
		{name: "iss a number", value: ps(edit{ClaimISS: 42}), code: obie.CodeSignatureInvalidClaim, path: ClaimISS},

		{name: "no tan", value: ps(edit{ClaimTAN: nil}), code: obie.CodeSignatureMissingClaim, path: ClaimTAN},
		{name: "tan of another anchor", value: ps(edit{ClaimTAN: "evil.example"}), code: obie.CodeSignatureInvalidClaim, path: ClaimTAN},
		{name: "tan against a configured anchor", value: good, mod: func(o *Options) { o.TrustAnchor = "sandbox.example" }, code: obie.CodeSignatureInvalidClaim, path: ClaimTAN},

		{name: "no crit", value: ps(edit{"crit": nil}), code: obie.CodeSignatureMissingClaim, path: "crit"},
		{name: "crit without tan", value: ps(edit{"crit": []string{ClaimIAT, ClaimISS}}), code: obie.CodeSignatureInvalidClaim, path: "crit"},
		{name: "crit with an unknown claim", value: ps(edit{"crit": []string{ClaimIAT, ClaimISS, ClaimTAN, "exp"}, "exp": 1}), code: obie.CodeSignatureInvalidClaim, path: "crit"},
		{name: "crit with a duplicate", value: ps(edit{"crit": []string{ClaimIAT, ClaimISS, ClaimISS}}), code: obie.CodeSignatureInvalidClaim, path: "crit"},
		{name: "crit empty", value: ps(edit{"crit": []string{}}), code: obie.CodeSignatureInvalidClaim, path: "crit"},
		{name: "crit with b64 in the later form", value: ps(edit{"crit": []string{"b64", ClaimIAT, ClaimISS, ClaimTAN}}), code: obie.CodeSignatureInvalidClaim, path: "crit"},
		{name: "crit without b64 in the 3.1.3 form", value: psU(edit{"crit": []string{ClaimIAT, ClaimISS, ClaimTAN}}), form: Unencoded, code: obie.CodeSignatureInvalidClaim, path: "crit"},

		{name: "signature over another body", value: signHeader(t, jwa.PS256, k.tpp, goodHeader(Encoded), []byte(`{"Data":{}}`)), code: obie.CodeSignatureInvalid},
		{name: "signature by another key under the kid", value: signHeader(t, jwa.PS256, k.other, goodHeader(Encoded), testBody), code: obie.CodeSignatureInvalid},
		{name: "signature bytes changed", value: parts[0] + ".." + flipLast(parts[2]), code: obie.CodeSignatureInvalid},
		{name: "3.1.3 signature over another body", value: signHeader(t, jwa.PS256, k.tpp, goodHeader(Unencoded), []byte(`{}`)), form: Unencoded, code: obie.CodeSignatureInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(tc.form)
			if tc.mod != nil {
				tc.mod(&o)
			}
			set := k.set
			if tc.code == "nil-set" {
				set, tc.code, tc.path = nil, obie.CodeSignatureInvalidClaim, "kid"
			}
			err := Verify(tc.value, testBody, set, o)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			if e.Code != tc.code || e.Path != tc.path {
				t.Fatalf("got %s at %q (%v), want %s at %q", e.Code, e.Path, e, tc.code, tc.path)
			}
		})
	}
}

// flipLast changes the last significant base64url character of s.
func flipLast(s string) string {
	b := []byte(s)
	i := len(b) - 2 // the last character may carry padding bits only
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestVerifyNeedsAnIssuer(t *testing.T) {
	k := loadKeys(t)
	err := Verify("x..y", testBody, k.set, Options{})
	if !errors.Is(err, ErrNoIssuer) || CodeOf(err) != "" {
		t.Fatalf("got %v", err)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := loadKeys(t)
	bodies := map[string][]byte{
		"payment":          testBody,
		"empty":            {},
		"nil":              nil,
		"dots and unicode": []byte(`{"Reference":"a.b..c","Name":"Zoë ✓"}`),
		"not json":         []byte("\x00\xff.."),
	}
	for _, form := range []Form{Encoded, Unencoded} {
		for name, body := range bodies {
			t.Run(form.String()+"/"+name, func(t *testing.T) {
				value, err := Sign(body, k.gateway, Claims{Issuer: "gateway-org", Form: form, IssuedAt: testNow})
				if err != nil {
					t.Fatal(err)
				}
				if p := strings.Split(value, "."); len(p) != 3 || p[1] != "" {
					t.Fatalf("not detached: %s", value)
				}
				o := Options{Issuer: "gateway-org", Form: form, Now: testNow}
				if err := Verify(value, body, k.gwPublic, o); err != nil {
					t.Fatalf("own signature refused: %v", err)
				}
				// The header says what the profile asks, read back by jwx.
				msg, err := jws.Parse([]byte(value))
				if err != nil {
					t.Fatal(err)
				}
				hdr := msg.Signatures()[0].ProtectedHeaders()
				if hdr.KeyID() != "gw-1" || hdr.Algorithm() != jwa.PS256 || hdr.Type() != "JOSE" {
					t.Fatalf("header %v %v %v", hdr.KeyID(), hdr.Algorithm(), hdr.Type())
				}
				// The other form and another body are refused.
				other := o
				other.Form = 1 - form
				if err := Verify(value, body, k.gwPublic, other); CodeOf(err) == "" {
					t.Fatalf("verified in the other form")
				}
				if err := Verify(value, append([]byte(body), ' '), k.gwPublic, o); CodeOf(err) != obie.CodeSignatureInvalid {
					t.Fatalf("another body: %v", err)
				}
			})
		}
	}
}

func TestSignRefusesBadInput(t *testing.T) {
	k := loadKeys(t)
	noKid, _ := k.gateway.Clone()
	_ = noKid.Remove(jwk.KeyIDKey)
	pub, _ := k.gateway.PublicKey()
	for name, tc := range map[string]struct {
		key jwk.Key
		c   Claims
	}{
		"no kid":     {noKid, Claims{Issuer: "gw"}},
		"no issuer":  {k.gateway, Claims{}},
		"public key": {pub, Claims{Issuer: "gw"}},
		"ec key":     {k.ec, Claims{Issuer: "gw"}},
		"nil key":    {nil, Claims{Issuer: "gw"}},
	} {
		if _, err := Sign(testBody, tc.key, tc.c); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

func TestFormOf(t *testing.T) {
	for v, want := range map[string]Form{
		"v3.1": Unencoded, "3.1": Unencoded, "v3.1.0": Unencoded, "v3.1.1": Unencoded,
		"v3.1.2": Unencoded, "3.1.3": Unencoded, "v3.1.4": Encoded, "v3.1.10": Encoded, "3.1.11": Encoded,
	} {
		if got, err := FormOf(v); err != nil || got != want {
			t.Errorf("FormOf(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "v4.0", "v3.0", "v3.1.x", "v3.1.-1", "v3.1.03", "v3.1.1.1", "3"} {
		if _, err := FormOf(v); err == nil {
			t.Errorf("FormOf(%q) accepted", v)
		}
	}
}

func TestVerifyRequest(t *testing.T) {
	k := loadKeys(t)
	good := signHeader(t, jwa.PS256, k.tpp, goodHeader(Encoded), testBody)
	header := func(values ...string) http.Header {
		h := http.Header{}
		for _, v := range values {
			h.Add("x-jws-signature", v)
		}
		return h
	}
	tests := []struct {
		name   string
		h      http.Header
		expect Expect
		code   string
	}{
		{"required and good", header(good), Required, ""},
		{"required and absent", header(), Required, obie.CodeSignatureMissing},
		{"required and twice", header(good, good), Required, obie.CodeSignatureMalformed},
		{"required and bad", header("garbage"), Required, obie.CodeSignatureMalformed},
		{"unchecked and absent", header(), Unchecked, ""},
		{"unchecked and garbage", header("garbage"), Unchecked, ""},
		{"refused and absent", header(), Refused, ""},
		{"refused and sent", header(good), Refused, obie.CodeSignatureUnexpected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyRequest(tc.h, testBody, k.set, tc.expect, opts(Encoded))
			if CodeOf(err) != tc.code || (tc.code == "" && err != nil) {
				t.Fatalf("got %v, want %q", err, tc.code)
			}
		})
	}
}

func TestAnswerAndSignResponse(t *testing.T) {
	k := loadKeys(t)
	rec := httptest.NewRecorder()
	err := Verify("", testBody, k.set, opts(Encoded))
	if !Answer(rec, err) {
		t.Fatal("a refusal not answered")
	}
	var body obie.Response
	if rec.Code != 400 || json.Unmarshal(rec.Body.Bytes(), &body) != nil || len(body.Errors) != 1 ||
		body.Errors[0].ErrorCode != obie.CodeSignatureMissing || body.Errors[0].Path != "x-jws-signature" {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	if Answer(httptest.NewRecorder(), ErrNoIssuer) {
		t.Fatal("a configuration error answered as a refusal")
	}

	h := http.Header{}
	if err := SignResponse(h, testBody, k.gateway, Claims{Issuer: "gw", IssuedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	if err := Verify(h.Get(HeaderName), testBody, k.gwPublic, Options{Issuer: "gw", Now: testNow}); err != nil {
		t.Fatal(err)
	}
}
