package obsig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/caddyciba/gateway/internal/obie"
)

// fuzzKey is a fixed test key (kid fuzz-tpp) so that the seed corpus holds signatures that
// verify, and the fuzzer mutates from accepted headers rather than from noise.
func fuzzKey(tb testing.TB) (jwk.Key, jwk.Set) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz-tpp.jwk.json"))
	if err != nil {
		tb.Fatal(err)
	}
	key, err := jwk.ParseKey(b)
	if err != nil {
		tb.Fatal(err)
	}
	return key, publicSet(tb, key)
}

var verifyCodes = []string{
	obie.CodeSignatureMissing, obie.CodeSignatureMalformed, obie.CodeSignatureMissingClaim,
	obie.CodeSignatureInvalidClaim, obie.CodeSignatureInvalid,
}

// FuzzVerify feeds arbitrary header values and bodies to Verify: nothing panics, every
// refusal carries one of the codes with a path only for claim faults, and whatever is
// accepted is a detached PS256 signature jwx verifies with the client's key over exactly
// that body.
func FuzzVerify(f *testing.F) {
	key, set := fuzzKey(f)
	pub, _ := set.Key(0)
	for _, unencoded := range []bool{false, true} {
		form := Encoded
		if unencoded {
			form = Unencoded
		}
		h := goodHeader(form)
		h["kid"] = "fuzz-tpp"
		f.Add(signHeader(f, jwa.PS256, key, h, testBody), testBody, unencoded)
	}
	f.Add("", []byte{}, false)
	f.Add("e30..e30", []byte("{}"), true)

	f.Fuzz(func(t *testing.T, value string, body []byte, unencoded bool) {
		o := Options{Issuer: testIssuer, Now: testNow}
		if unencoded {
			o.Form = Unencoded
		}
		err := Verify(value, body, set, o)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not a refusal: %v", err)
			}
			if !slices.Contains(verifyCodes, e.Code) {
				t.Fatalf("code %q", e.Code)
			}
			claimFault := e.Code == obie.CodeSignatureMissingClaim || e.Code == obie.CodeSignatureInvalidClaim
			if claimFault != (e.Path != "") {
				t.Fatalf("%s with path %q", e.Code, e.Path)
			}
			return
		}
		p := strings.Split(value, ".")
		if len(p) != 3 || p[1] != "" {
			t.Fatalf("accepted a value not detached: %q", value)
		}
		if _, err := jws.Verify([]byte(value), jws.WithKey(jwa.PS256, pub), jws.WithDetachedPayload(append([]byte{}, body...))); err != nil {
			t.Fatalf("accepted what jwx does not verify: %v", err)
		}
		if err := Verify(value, append(body, 'x'), set, o); CodeOf(err) != obie.CodeSignatureInvalid {
			t.Fatalf("accepted over another body: %v", err)
		}
		if err := Verify(value, body, jwk.NewSet(), o); err == nil {
			t.Fatal("accepted without the client's key")
		}
	})
}

// TestWriteFuzzSeeds (re)writes testdata/fuzz/FuzzVerify from the fixed key: a good
// signature of each form and one per fault of the table. Run with OBSIG_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("OBSIG_WRITE_SEEDS") == "" {
		t.Skip("set OBSIG_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	key, _ := fuzzKey(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, value string, body []byte, unencoded bool) {
		content := fmt.Sprintf("go test fuzz v1\nstring(%q)\n[]byte(%q)\nbool(%v)\n", value, body, unencoded)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(form Form, e edit) string {
		h := goodHeader(form)
		h["kid"] = "fuzz-tpp"
		return signHeader(t, jwa.PS256, key, e.apply(h), testBody)
	}
	faults := map[string]edit{
		"good":          nil,
		"no-kid":        {"kid": nil},
		"other-kid":     {"kid": "nobody"},
		"typ-jwt":       {"typ": "JWT"},
		"cty-text":      {"cty": "text/plain"},
		"no-iat":        {ClaimIAT: nil},
		"iat-string":    {ClaimIAT: "1780000000"},
		"iat-future":    {ClaimIAT: testNow.Unix() + 3600},
		"no-iss":        {ClaimISS: nil},
		"wrong-iss":     {ClaimISS: "other"},
		"no-tan":        {ClaimTAN: nil},
		"wrong-tan":     {ClaimTAN: "evil.example"},
		"no-crit":       {"crit": nil},
		"crit-unknown":  {"crit": []string{ClaimIAT, ClaimISS, ClaimTAN, "exp"}},
		"crit-short":    {"crit": []string{ClaimIAT, ClaimISS}},
		"b64-true":      {"b64": true},
		"b64-string":    {"b64": "false"},
		"x5u":           {"x5u": "https://evil.example/cert"},
		"crit-with-b64": {"crit": []string{"b64", ClaimIAT, ClaimISS, ClaimTAN}},
	}
	for name, e := range faults {
		write("encoded-"+name, sign(Encoded, e), testBody, false)
		write("unencoded-"+name, sign(Unencoded, e), testBody, true)
	}
	good := sign(Encoded, nil)
	p := strings.Split(good, ".")
	write("empty", "", nil, false)
	write("attached", p[0]+".e30."+p[2], []byte("{}"), false)
	write("json-serialisation", `{"protected":"`+p[0]+`","signature":"`+p[2]+`"}`, testBody, false)
	write("alg-none", rawHeader(t, edit{"alg": "none", "kid": "fuzz-tpp"}.apply(goodHeader(Encoded))), testBody, false)
	write("no-alg", rawHeader(t, edit{"kid": "fuzz-tpp"}.apply(goodHeader(Encoded))), testBody, false)
	write("other-body", good, []byte(`{"Data":{}}`), false)
	h := goodHeader(Encoded)
	h["kid"] = "fuzz-tpp"
	write("empty-body-signed", signHeader(t, jwa.PS256, key, h, []byte{}), []byte{}, false)
}
