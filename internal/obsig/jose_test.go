package obsig

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
)

// runJose runs test/e2e/jws.mjs (node, the jose library) with input and decodes its answer.
// Without node the test fails, as the third-party client tests of caddyciba do: node is
// part of the test toolchain (.ci/run installs it), and an interop test that silently does
// not run proves nothing.
func runJose(t *testing.T, input, out any) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is required for the jose interop test (.ci/run installs it):", err)
	}
	dir, err := filepath.Abs("../../test/e2e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, b)
		}
	}
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "jws.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "JWS_INPUT="+string(in))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node jws.mjs: %v\n%s", err, stderr.String())
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], out); err != nil {
		t.Fatalf("node jws.mjs printed %q: %v", stdout.String(), err)
	}
}

// TestJoseInterop: signatures made by jose (detached; b64 false and in crit for the 3.1.3
// form, b64 absent for the later form) verify here and each fault jose signs gets its code;
// the signatures Sign makes verify in jose, and a signature over another body does not.
func TestJoseInterop(t *testing.T) {
	k := loadKeys(t)
	bodies := [][]byte{testBody, {}, []byte(`{"Reference":"a.b..c","Name":"Zoë ✓"}`)}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	var bodiesB64 []string
	for _, b := range bodies {
		bodiesB64 = append(bodiesB64, b64(b))
	}

	forms := map[string]Form{"encoded": Encoded, "unencoded": Unencoded}
	type item struct {
		Form  string `json:"form"`
		Value string `json:"value"`
		Body  string `json:"body"`
	}
	var items []item
	var wantOK []bool
	for name, form := range forms {
		for _, body := range bodies {
			value, err := Sign(body, k.gateway, Claims{Issuer: "gateway-org", Form: form, IssuedAt: testNow})
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, item{name, value, b64(body)})
			wantOK = append(wantOK, true)
			// The same signature presented with another body must fail in jose too.
			items = append(items, item{name, value, b64(append(body, '!'))})
			wantOK = append(wantOK, false)
		}
	}

	tppJWK, err := json.Marshal(k.tpp)
	if err != nil {
		t.Fatal(err)
	}
	gwPublic, err := k.gateway.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	gwJWK, err := json.Marshal(gwPublic)
	if err != nil {
		t.Fatal(err)
	}
	input := map[string]any{
		"sign": map[string]any{
			"jwk": json.RawMessage(tppJWK), "iss": testIssuer, "tan": DefaultTrustAnchor,
			"iat": testNow.Unix(), "bodies": bodiesB64,
		},
		"verify": map[string]any{
			"jwk": json.RawMessage(gwJWK), "iss": "gateway-org", "tan": DefaultTrustAnchor, "items": items,
		},
	}
	var out struct {
		Signed []struct {
			Case  string `json:"case"`
			Form  string `json:"form"`
			Body  int    `json:"body"`
			Value string `json:"value"`
		} `json:"signed"`
		Verified []struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"verified"`
	}
	runJose(t, input, &out)
	t.Logf("jose made %d signatures and checked %d of the gateway's", len(out.Signed), len(out.Verified))

	// What each jose-made case must get here; "" is accepted.
	want := map[string]struct{ code, path string }{
		"good":             {},
		"rs256":            {obie.CodeSignatureInvalidClaim, "alg"},
		"crit-without-tan": {obie.CodeSignatureInvalidClaim, "crit"},
		"no-tan":           {obie.CodeSignatureMissingClaim, ClaimTAN},
		"iat-string":       {obie.CodeSignatureInvalidClaim, ClaimIAT},
		"iat-future":       {obie.CodeSignatureInvalidClaim, ClaimIAT},
		"wrong-iss":        {obie.CodeSignatureInvalidClaim, ClaimISS},
		"wrong-tan":        {obie.CodeSignatureInvalidClaim, ClaimTAN},
		"typ-jwt":          {obie.CodeSignatureInvalidClaim, "typ"},
		"no-crit":          {obie.CodeSignatureMissingClaim, "crit"},
		"other-body":       {obie.CodeSignatureInvalid, ""},
	}
	seen := map[string]bool{}
	for _, s := range out.Signed {
		w, ok := want[s.Case]
		if !ok {
			t.Errorf("jws.mjs made an unknown case %q", s.Case)
			continue
		}
		seen[s.Case+"/"+s.Form] = true
		form := forms[s.Form]
		err := Verify(s.Value, bodies[s.Body], k.set, Options{Issuer: testIssuer, Form: form, Now: testNow})
		var e *Error
		switch {
		case w.code == "" && err != nil:
			t.Errorf("jose %s/%s body %d refused: %v", s.Case, s.Form, s.Body, err)
		case w.code != "" && (!errors.As(err, &e) || e.Code != w.code || e.Path != w.path):
			t.Errorf("jose %s/%s: got %v, want %s at %q", s.Case, s.Form, err, w.code, w.path)
		}
		// A jose signature of one form is refused when the other form is served.
		if s.Case == "good" {
			other := Encoded
			if form == Encoded {
				other = Unencoded
			}
			if err := Verify(s.Value, bodies[s.Body], k.set, Options{Issuer: testIssuer, Form: other, Now: testNow}); CodeOf(err) == "" {
				t.Errorf("jose %s signature accepted as the other form: %v", s.Form, err)
			}
		}
	}
	for c := range want {
		for f := range forms {
			if !seen[c+"/"+f] && !(c == "no-crit" && f == "unencoded") {
				t.Errorf("jws.mjs made no %s/%s case", c, f)
			}
		}
	}

	if len(out.Verified) != len(items) {
		t.Fatalf("jose verified %d of %d", len(out.Verified), len(items))
	}
	for i, v := range out.Verified {
		if v.OK != wantOK[i] {
			t.Errorf("jose on the gateway's %s signature #%d: ok=%v (%s), want %v", items[i].Form, i, v.OK, v.Error, wantOK[i])
		}
	}
}
