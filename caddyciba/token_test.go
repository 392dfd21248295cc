package caddyciba

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestClientCredentialsGrant(t *testing.T) {
	startGateway(t, gatewayConfig(t.TempDir(), ""))
	basic := []string{"tpp-basic", "b@sic secret+/:~"}
	c := client(nil)

	t.Run("token", func(t *testing.T) {
		resp := postForm(t, c, httpBase+"/token", formOf("grant_type", "client_credentials", "scope", "accounts"), basic...)
		if resp.status != http.StatusOK {
			t.Fatalf("got %d %s", resp.status, resp.raw)
		}
		if resp.header.Get("Cache-Control") != "no-store" || resp.header.Get("Content-Type") != "application/json" {
			t.Errorf("headers: %v", resp.header)
		}
		if resp.str("token_type") != "Bearer" || resp.str("scope") != "accounts" || resp.body["expires_in"] != float64(600) {
			t.Errorf("body: %s", resp.raw)
		}
		// A self-contained JWT whose jti is 256 random bits.
		parts := strings.Split(resp.str("access_token"), ".")
		var claims struct {
			JTI      string `json:"jti"`
			ClientID string `json:"client_id"`
		}
		if len(parts) != 3 {
			t.Fatalf("access token %q is not a compact JWS", resp.str("access_token"))
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil || json.Unmarshal(payload, &claims) != nil || claims.ClientID != "tpp-basic" {
			t.Fatalf("access token payload %s: %v", payload, err)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(claims.JTI); err != nil || len(raw) < 32 {
			t.Errorf("jti %q is not 256 bits of base64url", claims.JTI)
		}
		if _, ok := resp.body["refresh_token"]; ok {
			t.Error("client credentials issued a refresh token")
		}
	})

	t.Run("default scope leaves out openid", func(t *testing.T) {
		resp := postForm(t, c, httpBase+"/token", formOf("grant_type", "client_credentials"), basic...)
		if resp.status != http.StatusOK || resp.str("scope") != "accounts payments" {
			t.Fatalf("got %d %s", resp.status, resp.raw)
		}
	})

	t.Run("tokens differ", func(t *testing.T) {
		a := postForm(t, c, httpBase+"/token", formOf("grant_type", "client_credentials"), basic...)
		b := postForm(t, c, httpBase+"/token", formOf("grant_type", "client_credentials"), basic...)
		if a.str("access_token") == b.str("access_token") {
			t.Fatal("two requests got the same token")
		}
	})

	for _, tc := range []struct {
		name, contentType, method string
		form                      url.Values
		status                    int
		code                      string
	}{
		{name: "scope not registered", form: formOf("grant_type", "client_credentials", "scope", "accounts admin"), status: 400, code: "invalid_scope"},
		{name: "scope of another client only", form: formOf("grant_type", "client_credentials", "scope", "fundsconfirmations"), status: 400, code: "invalid_scope"},
		{name: "no grant_type", form: formOf("scope", "accounts"), status: 400, code: "invalid_request"},
		{name: "unknown grant_type", form: formOf("grant_type", "password"), status: 400, code: "unsupported_grant_type"},
		{name: "repeated parameter", form: url.Values{"grant_type": {"client_credentials", "client_credentials"}}, status: 400, code: "invalid_request"},
		{name: "JSON body", contentType: "application/json", form: formOf("grant_type", "client_credentials"), status: 400, code: "invalid_request"},
		{name: "GET", method: http.MethodGet, form: formOf("grant_type", "client_credentials"), status: 400, code: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, httpBase+"/token", strings.NewReader(tc.form.Encode()))
			ct := tc.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			req.SetBasicAuth(basic[0], url.QueryEscape(basic[1]))
			resp := do(t, c, req)
			if resp.status != tc.status || resp.str("error") != tc.code {
				t.Fatalf("got %d %s, want %d %s", resp.status, resp.raw, tc.status, tc.code)
			}
			if resp.header.Get("Cache-Control") != "no-store" {
				t.Error("error without Cache-Control: no-store")
			}
		})
	}

	t.Run("interaction id echoed", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, httpBase+"/jwks", nil)
		req.Header.Set("x-fapi-interaction-id", "93bac548-d2de-4546-b106-880a5018460d")
		if got := do(t, c, req).header.Get("X-Fapi-Interaction-Id"); got != "93bac548-d2de-4546-b106-880a5018460d" {
			t.Fatalf("x-fapi-interaction-id = %q", got)
		}
	})
}
