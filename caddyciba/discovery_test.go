package caddyciba

import (
	"net/http"
	"slices"
	"testing"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/token"
)

func TestDiscoveryAndJWKS(t *testing.T) {
	for _, tc := range []struct {
		alg, kty string
	}{
		{"PS256", "RSA"},
		{"ES256", "EC"},
		{"EdDSA", "OKP"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			startGateway(t, gatewayConfig(t.TempDir(), "signing_alg "+tc.alg))
			c := client(nil)
			md := get(t, c, httpBase+"/.well-known/openid-configuration")
			if md.status != http.StatusOK || md.header.Get("Content-Type") != "application/json" {
				t.Fatalf("discovery: %d %s", md.status, md.raw)
			}
			for k, want := range map[string]string{
				"issuer":                              httpBase,
				"jwks_uri":                            httpBase + "/jwks",
				"token_endpoint":                      httpBase + "/token",
				"revocation_endpoint":                 httpBase + "/revoke",
				"introspection_endpoint":              httpBase + "/introspect",
				"backchannel_authentication_endpoint": httpBase + "/bc-authorize",
			} {
				if got := md.str(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := md.body["mtls_endpoint_aliases"].(map[string]any)["token_endpoint"]; got != httpsBase+"/token" {
				t.Errorf("mtls token alias = %v", got)
			}
			if !containsAll(md.body["token_endpoint_auth_methods_supported"],
				"client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth") {
				t.Errorf("auth methods: %v", md.body["token_endpoint_auth_methods_supported"])
			}
			if !containsAll(md.body["id_token_signing_alg_values_supported"], tc.alg) {
				t.Errorf("signing algs: %v", md.body["id_token_signing_alg_values_supported"])
			}
			if !containsAll(md.body["backchannel_token_delivery_modes_supported"], "poll", "ping", "push") ||
				!containsAll(md.body["backchannel_authentication_request_signing_alg_values_supported"], "PS256", "ES256") ||
				md.body["backchannel_user_code_parameter_supported"] != true {
				t.Errorf("CIBA metadata: %s", md.raw)
			}
			if !containsAll(md.body["grant_types_supported"], string(token.ClientCredentials), string(token.CIBA), string(token.RefreshToken)) {
				t.Errorf("grant types: %v", md.body["grant_types_supported"])
			}
			if md.header.Get("X-Fapi-Interaction-Id") == "" {
				t.Error("no x-fapi-interaction-id")
			}

			jwks := get(t, c, httpBase+"/jwks")
			keys, _ := jwks.body["keys"].([]any)
			// Beside a ring of another algorithm, the PS256 key of the payment APIs'
			// x-jws-signature.
			want := 1
			if tc.alg != "PS256" {
				want = 2
			}
			if jwks.status != http.StatusOK || len(keys) != want {
				t.Fatalf("jwks: %d %s", jwks.status, jwks.raw)
			}
			if want == 2 && keys[1].(map[string]any)["alg"] != "PS256" {
				t.Errorf("jwks: %s", jwks.raw)
			}
			key := keys[0].(map[string]any)
			if key["kid"] == "" || key["kid"] == nil || key["kty"] != tc.kty || key["alg"] != tc.alg || key["use"] != "sig" {
				t.Errorf("jwk = %v", key)
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := key[private]; ok {
					t.Errorf("jwks publishes private member %q", private)
				}
			}
		})
	}
}

func containsAll(list any, want ...string) bool {
	items, _ := list.([]any)
	for _, w := range want {
		if !slices.Contains(items, any(w)) {
			return false
		}
	}
	return true
}

func kid(t *testing.T) string {
	t.Helper()
	jwks := get(t, client(nil), httpBase+"/jwks")
	keys, _ := jwks.body["keys"].([]any)
	if len(keys) == 0 {
		t.Fatalf("jwks: %s", jwks.raw)
	}
	return keys[0].(map[string]any)["kid"].(string)
}

// TestKeysSurviveRestart unloads the gateway (the store is closed and released) and starts
// it again on the same storage: the kid is the same.
func TestKeysSurviveRestart(t *testing.T) {
	storage := t.TempDir()
	cfg := gatewayConfig(storage, "signing_alg ES256")
	startGateway(t, cfg)
	first := kid(t)
	unloadGateway(t)
	if n, _ := stores.References(mustAbs(t, storage)); n != 0 {
		t.Fatalf("store still referenced %d times after unload", n)
	}
	startGateway(t, cfg)
	if again := kid(t); again != first {
		t.Fatalf("kid after restart = %s, want %s", again, first)
	}
}

// TestReloadKeepsStore reloads a changed config: the DB is not reopened and what was
// written before the reload is still there.
func TestReloadKeepsStore(t *testing.T) {
	storage := t.TempDir()
	startGateway(t, gatewayConfig(storage, ""))
	opensBefore := storeOpens.Load()
	before := activeApp(t).Store()
	// A consent is a record written before the reload (client-credentials tokens are
	// self-contained: their key is what is stored).
	consentID := newConsent(t, "tpp-basic", "b@sic secret+/:~")

	startGateway(t, gatewayConfig(storage, "access_token_ttl 20m"))
	if opened := storeOpens.Load() - opensBefore; opened != 0 {
		t.Fatalf("reload opened the store %d more times", opened)
	}
	app := activeApp(t)
	if app.Store() != before {
		t.Fatal("reload gave the app another store")
	}
	if _, err := app.Store().Get(consent.StoreKey(consentID)); err != nil {
		t.Fatalf("consent written before the reload: %v", err)
	}
	if n, _ := stores.References(mustAbs(t, storage)); n != 1 {
		t.Fatalf("store referenced %d times after reload, want 1", n)
	}
}
