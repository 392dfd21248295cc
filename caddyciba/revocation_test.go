package caddyciba

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/token"
)

func TestRevocationAndIntrospection(t *testing.T) {
	up := newUpstream(t)
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, "reverse_proxy "+strings.TrimPrefix(up.srv.URL, "http://"), -1))
	id, tok := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")
	bound := mintCIBAToken(t, id, token.Thumbprint(fx.mtlsCert.Leaf))
	c := client(nil)
	owner := []string{"tpp-basic", "b@sic secret+/:~"}
	other := formOf("client_id", "tpp-post", "client_secret", "post-secret")
	with := func(f map[string][]string, kv ...string) map[string][]string {
		out := formOf(kv...)
		for k, v := range f {
			out[k] = v
		}
		return out
	}

	in := postForm(t, c, httpBase+"/introspect", formOf("token", bound), owner...)
	if in.status != 200 || in.body["active"] != true || in.str("client_id") != "tpp-basic" || in.str("sub") != "psu-1" ||
		in.str("consent_id") != id || in.str("scope") != "openid accounts" || in.body["exp"] == nil || in.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("introspection: %d %s", in.status, in.raw)
	}
	if cnf, _ := in.body["cnf"].(map[string]any); cnf["x5t#S256"] != token.Thumbprint(fx.mtlsCert.Leaf) {
		t.Errorf("cnf = %v", in.body["cnf"])
	}
	for name, r := range map[string]response{
		"another client's token": postForm(t, c, httpBase+"/introspect", with(other, "token", tok)),
		"unknown token":          postForm(t, c, httpBase+"/introspect", formOf("token", "nope"), owner...),
	} {
		if r.status != 200 || r.raw != "{\"active\":false}\n" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if r := postForm(t, c, httpBase+"/introspect", formOf("token", tok)); r.status != 401 || r.str("error") != "invalid_client" {
		t.Errorf("unauthenticated introspection: %d %s", r.status, r.raw)
	}

	if r := postForm(t, c, httpBase+"/revoke", with(other, "token", tok)); r.status != 400 {
		t.Fatalf("revocation by another client: %d %s", r.status, r.raw)
	}
	if r := accountCall(t, "/accounts/22289", tok); r.status != 200 {
		t.Fatalf("token revoked by another client: %d", r.status)
	}
	if r := postForm(t, c, httpBase+"/revoke", formOf("token", tok, "token_type_hint", "access_token"), owner...); r.status != 200 {
		t.Fatalf("revocation: %d %s", r.status, r.raw)
	}
	before := up.count()
	if r := consentCall(t, c, http.MethodGet, httpBase+consent.APIPrefix+"/accounts/22289", tok, ""); r.status != 401 || up.count() != before {
		t.Fatalf("revoked token at the gate: %d", r.status)
	}
	if r := postForm(t, c, httpBase+"/introspect", formOf("token", tok), owner...); r.body["active"] != false {
		t.Fatalf("revoked token introspected as %s", r.raw)
	}
	if r := postForm(t, c, httpBase+"/revoke", formOf("token", "never-issued"), owner...); r.status != 200 {
		t.Fatalf("unknown token revocation: %d %s", r.status, r.raw)
	}
	if r := postForm(t, c, httpBase+"/revoke", formOf(), owner...); r.status != 400 || r.str("error") != "invalid_request" {
		t.Fatalf("revocation without token: %d %s", r.status, r.raw)
	}
}

// TestIntrospectRefreshToken: a refresh token introspects as active for its client, with
// its consent and no token_type, inactive for another client and after revocation.
func TestIntrospectRefreshToken(t *testing.T) {
	hook := cibaGateway(t, "")
	consentID := newConsent(t, basicID, basicSecret)
	rt := approvedTokens(t, hook, consentID).str("refresh_token")
	c := client(nil)
	in := postForm(t, c, httpBase+"/introspect", formOf("token", rt), basicID, basicSecret)
	if in.body["active"] != true || in.str("consent_id") != consentID || in.str("client_id") != basicID || in.body["token_type"] != nil {
		t.Fatalf("refresh token introspection: %s", in.raw)
	}
	if r := postForm(t, c, httpBase+"/introspect", formOf("token", rt, "client_id", "tpp-post", "client_secret", "post-secret")); r.body["active"] != false {
		t.Fatalf("another client sees the refresh token: %s", r.raw)
	}
	if r := postForm(t, c, httpBase+"/revoke", formOf("token", rt), basicID, basicSecret); r.status != 200 {
		t.Fatalf("revoke: %d", r.status)
	}
	if r := postForm(t, c, httpBase+"/introspect", formOf("token", rt), basicID, basicSecret); r.body["active"] != false {
		t.Fatalf("a revoked refresh token introspects as %s", r.raw)
	}
}
