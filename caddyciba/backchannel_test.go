package caddyciba

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// extraClients are the CIBA clients beyond the harness's: one that sends user codes and
// one in ping mode (its endpoint is never reached in these tests).
const extraClients = `
		client tpp-code {
			auth      client_secret_basic
			secret    code-secret
			scopes    openid accounts
			user_code
		}
		client tpp-ping {
			auth                  client_secret_basic
			secret                ping-secret
			scopes                openid accounts
			delivery_mode         ping
			notification_endpoint http://127.0.0.1:9/cb
		}`

// signedWith signs the claims of a good request for tpp-pkj after edit.
func signedWith(t *testing.T, consentID string, edit func(map[string]any)) string {
	claims := requestClaims("tpp-pkj", consentID)
	if edit != nil {
		edit(claims)
	}
	return signRequest(t, fx.pkjKey, jwa.ES256, "", claims)
}

// TestBackchannelErrors sends one request per rule of CIBA Core §7 and FAPI-CIBA that
// the conformance suite checks, each for a fresh consent, and expects the exact answer.
func TestBackchannelErrors(t *testing.T) {
	// Alice gets one live request per success case: more than the default cap.
	cibaGateway(t, extraClients+"\n\t\tmax_pending_per_user 40")
	now := time.Now()
	gatewayHint := func(t *testing.T, sub, aud string) string {
		tok := jwt.New()
		_ = tok.Set("iss", httpBase)
		_ = tok.Set("sub", sub)
		_ = tok.Set("aud", aud)
		_ = tok.Set("iat", now.Add(-2*time.Hour).Unix())
		_ = tok.Set("exp", now.Add(-time.Hour).Unix()) // expired hints are accepted
		b, err := activeApp(t).provider.Keys.SignJWT(tok)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	unsigned := func(kv ...string) func(t *testing.T, consentID string) response {
		return func(t *testing.T, consentID string) response {
			return bcBasic(t, basicID, basicSecret, append(kv, "openbanking_intent_id", consentID)...)
		}
	}
	signed := func(edit func(map[string]any)) func(t *testing.T, consentID string) response {
		return func(t *testing.T, consentID string) response { return bcSigned(t, signedWith(t, consentID, edit)) }
	}
	base := []string{"scope", "openid accounts", "login_hint", "alice@example.com"}
	with := func(kv ...string) []string { return append(append([]string{}, base...), kv...) }
	longToken := strings.Repeat("a", 1023) + "="
	wantExpiresIn := map[string]float64{
		"signed, typ in mixed case, requested_expiry as a string": 30,
		"requested_expiry above the maximum is capped":            600,
	}

	for _, tc := range []struct {
		name   string
		send   func(t *testing.T, consentID string) response
		status int
		code   string
	}{
		// Successes that exercise a rule's edge.
		{"signed, typ in mixed case, requested_expiry as a string", func(t *testing.T, id string) response {
			claims := requestClaims("tpp-pkj", id)
			claims["requested_expiry"] = "30"
			return bcSigned(t, signRequest(t, fx.pkjKey, jwa.ES256, "OautH-auThZ-REQ+jWt", claims))
		}, 200, ""},
		{"requested_expiry above the maximum is capped", unsigned(with("requested_expiry", "100000")...), 200, ""},
		{"signed, UK OB intent claim form", signed(func(c map[string]any) {
			c["openbanking-intent-id"] = c["openbanking_intent_id"].(map[string]any)["value"]
			delete(c, "openbanking_intent_id")
		}), 200, ""},
		{"signed, intent under claims.id_token", signed(func(c map[string]any) {
			c["claims"] = map[string]any{"id_token": map[string]any{"openbanking_intent_id": c["openbanking_intent_id"]}}
			delete(c, "openbanking_intent_id")
		}), 200, ""},
		{"id_token_hint issued by the gateway", unsigned("scope", "openid accounts", "id_token_hint", gatewayHint(t, "sub-alice", basicID)), 200, ""},
		{"login_hint_token naming the user", unsigned("scope", "openid accounts", "login_hint_token",
			unsignedJWT(t, map[string]any{"sub": "alice@example.com"})), 200, ""},
		{"ping with a 1024-character notification token", func(t *testing.T, id string) response {
			return bcBasic(t, "tpp-ping", "ping-secret", append(with("client_notification_token", longToken), "openbanking_intent_id", id)...)
		}, 200, ""},
		{"user code", func(t *testing.T, id string) response {
			return bcBasic(t, "tpp-code", "code-secret", append(with("user_code", alicePIN), "openbanking_intent_id", id)...)
		}, 200, ""},

		// §1.8 invalid_request
		{"no scope", unsigned("login_hint", "alice@example.com"), 400, "invalid_request"},
		{"no hint", unsigned("scope", "openid accounts"), 400, "invalid_request"},
		{"two hints", unsigned(with("login_hint_token", unsignedJWT(t, map[string]any{"sub": "alice@example.com"}))...), 400, "invalid_request"},
		{"requested_expiry not a number", unsigned(with("requested_expiry", "ten")...), 400, "invalid_request"},
		{"requested_expiry negative", unsigned(with("requested_expiry", "-5")...), 400, "invalid_request"},
		{"request_uri", unsigned(with("request_uri", "https://tpp.example/r")...), 400, "invalid_request"},
		{"forged id_token_hint", unsigned("scope", "openid accounts", "id_token_hint",
			assertion(t, fx.otherKey, jwa.ES256, httpBase, basicID, nil)), 400, "invalid_request"},
		{"ping without notification token", func(t *testing.T, id string) response {
			return bcBasic(t, "tpp-ping", "ping-secret", append(with(), "openbanking_intent_id", id)...)
		}, 400, "invalid_request"},
		{"notification token over 1024 characters", func(t *testing.T, id string) response {
			return bcBasic(t, "tpp-ping", "ping-secret", append(with("client_notification_token", "a"+longToken), "openbanking_intent_id", id)...)
		}, 400, "invalid_request"},
		{"notification token not b64token", func(t *testing.T, id string) response {
			return bcBasic(t, "tpp-ping", "ping-secret", append(with("client_notification_token", "two words"), "openbanking_intent_id", id)...)
		}, 400, "invalid_request"},
		{"no consent", func(t *testing.T, id string) response { return bcBasic(t, basicID, basicSecret, base...) }, 400, "invalid_request"},
		{"another client's consent", func(t *testing.T, _ string) response {
			other := newConsent(t, "tpp-code", "code-secret")
			return bcBasic(t, basicID, basicSecret, append(with(), "openbanking_intent_id", other)...)
		}, 400, "invalid_request"},
		{"second request for the same consent", func(t *testing.T, id string) response {
			if r := bcBasic(t, basicID, basicSecret, append(with(), "openbanking_intent_id", id)...); r.status != 200 {
				t.Fatalf("first request: %d %s", r.status, r.raw)
			}
			return bcBasic(t, basicID, basicSecret, append(with(), "openbanking_intent_id", id)...)
		}, 400, "invalid_request"},

		// §1.5 every request-object failure is 400 invalid_request
		{"request object alg none", func(t *testing.T, id string) response {
			return bcSigned(t, unsignedJWT(t, requestClaims("tpp-pkj", id)))
		}, 400, "invalid_request"},
		{"request object HS256", func(t *testing.T, id string) response {
			tok := jwt.New()
			for k, v := range requestClaims("tpp-pkj", id) {
				_ = tok.Set(k, v)
			}
			b, _ := jwt.Sign(tok, jwt.WithKey(jwa.HS256, []byte("a-shared-secret-of-32-bytes-long")))
			return bcSigned(t, string(b))
		}, 400, "invalid_request"},
		{"request object RS256", func(t *testing.T, id string) response {
			return bcSigned(t, signRequest(t, fx.rsKey, jwa.RS256, "", requestClaims("tpp-pkj", id)))
		}, 400, "invalid_request"},
		{"request object signed by another key", func(t *testing.T, id string) response {
			return bcSigned(t, signRequest(t, fx.otherKey, jwa.ES256, "", requestClaims("tpp-pkj", id)))
		}, 400, "invalid_request"},
		{"request object encrypted", func(t *testing.T, _ string) response {
			return bcSigned(t, "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d")
		}, 400, "invalid_request"},
		{"request object iss another client", signed(func(c map[string]any) { c["iss"] = basicID }), 400, "invalid_request"},
		{"request object without aud", signed(func(c map[string]any) { delete(c, "aud") }), 400, "invalid_request"},
		{"request object aud another server", signed(func(c map[string]any) { c["aud"] = "https://other.example" }), 400, "invalid_request"},
		{"request object without exp", signed(func(c map[string]any) { delete(c, "exp") }), 400, "invalid_request"},
		{"request object expired", signed(func(c map[string]any) { c["exp"] = now.Add(-5 * time.Minute).Unix() }), 400, "invalid_request"},
		{"request object without iat", signed(func(c map[string]any) { delete(c, "iat") }), 400, "invalid_request"},
		{"request object without nbf", signed(func(c map[string]any) { delete(c, "nbf") }), 400, "invalid_request"},
		{"request object nbf 10 minutes ahead", signed(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Minute).Unix() }), 400, "invalid_request"},
		{"request object exp 70 minutes ahead", signed(func(c map[string]any) { c["exp"] = now.Add(70 * time.Minute).Unix() }), 400, "invalid_request"},
		{"request object nbf 70 minutes ago", signed(func(c map[string]any) {
			c["nbf"], c["iat"] = now.Add(-70*time.Minute).Unix(), now.Add(-70*time.Minute).Unix()
		}), 400, "invalid_request"},
		{"request object without jti", signed(func(c map[string]any) { delete(c, "jti") }), 400, "invalid_request"},
		{"request object replayed", func(t *testing.T, id string) response {
			ro := signedWith(t, id, nil)
			if r := bcSigned(t, ro); r.status != 200 {
				t.Fatalf("first: %d %s", r.status, r.raw)
			}
			return bcSigned(t, ro)
		}, 400, "invalid_request"},
		{"parameter outside the request object", func(t *testing.T, id string) response {
			return postForm(t, client(nil), httpBase+"/bc-authorize",
				pkjForm(t, httpBase+"/bc-authorize", "request", signedWith(t, id, nil), "scope", "openid"))
		}, 400, "invalid_request"},
		{"form body of the wrong type", func(t *testing.T, id string) response {
			req, _ := http.NewRequest(http.MethodPost, httpBase+"/bc-authorize", strings.NewReader(`{"scope":"openid"}`))
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth(basicID, "b%40sic+secret%2B%2F%3A%7E")
			return do(t, client(nil), req)
		}, 400, "invalid_request"},

		// The other errors of §1.8.
		{"scope without openid", unsigned("scope", "accounts", "login_hint", "alice@example.com"), 400, "invalid_scope"},
		{"scope not registered", unsigned("scope", "openid accounts admin", "login_hint", "alice@example.com"), 400, "invalid_scope"},
		{"unknown user", unsigned("scope", "openid accounts", "login_hint", "mallory@example.com"), 400, "unknown_user_id"},
		{"disabled user", unsigned("scope", "openid accounts", "login_hint", "bob@example.com"), 403, "access_denied"},
		{"expired login_hint_token", unsigned("scope", "openid accounts", "login_hint_token",
			unsignedJWT(t, map[string]any{"sub": "alice@example.com", "exp": now.Add(-time.Hour).Unix()})), 400, "expired_login_hint_token"},
		{"client not registered for CIBA", func(t *testing.T, id string) response {
			return postForm(t, client(nil), httpBase+"/bc-authorize", formOf(append(with("openbanking_intent_id", id),
				"client_id", "tpp-post", "client_secret", "post-secret")...))
		}, 400, "unauthorized_client"},
		{"missing user code", func(t *testing.T, id string) response {
			return bcBasic(t, "tpp-code", "code-secret", append(with(), "openbanking_intent_id", id)...)
		}, 400, "missing_user_code"},
		{"wrong user code", func(t *testing.T, id string) response {
			return bcBasic(t, "tpp-code", "code-secret", append(with("user_code", "0000"), "openbanking_intent_id", id)...)
		}, 400, "invalid_user_code"},
		{"binding message with emoji and CJK", unsigned(with("binding_message", "Pay 🙂 お支払い")...), 400, "invalid_binding_message"},
		{"binding message too long", unsigned(with("binding_message", strings.Repeat("x", 65))...), 400, "invalid_binding_message"},
		{"wrong client secret", func(t *testing.T, id string) response {
			return bcBasic(t, basicID, "wrong", append(with(), "openbanking_intent_id", id)...)
		}, 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			consentID := newConsent(t, basicID, basicSecret)
			if strings.Contains(tc.name, "tpp-pkj") || strings.HasPrefix(tc.name, "signed") || strings.HasPrefix(tc.name, "request object") ||
				strings.HasPrefix(tc.name, "parameter outside") {
				consentID = newConsentPKJ(t)
			}
			if strings.HasPrefix(tc.name, "ping") || strings.HasPrefix(tc.name, "notification") {
				consentID = newConsent(t, "tpp-ping", "ping-secret")
			}
			if strings.Contains(tc.name, "user code") {
				consentID = newConsent(t, "tpp-code", "code-secret")
			}
			r := tc.send(t, consentID)
			if tc.status == 200 {
				if r.status != 200 || r.str("auth_req_id") == "" {
					t.Fatalf("got %d %s", r.status, r.raw)
				}
				if _, isNumber := r.body["expires_in"].(float64); !isNumber {
					t.Fatalf("expires_in is not a number: %s", r.raw)
				}
				if want, ok := wantExpiresIn[tc.name]; ok && r.body["expires_in"] != want {
					t.Fatalf("expires_in %v, want %v", r.body["expires_in"], want)
				}
				return
			}
			errorOnly(t, r, tc.status, tc.code)
		})
	}
}

// newConsentPKJ creates a consent for tpp-pkj.
func newConsentPKJ(t *testing.T) string {
	t.Helper()
	f := pkjForm(t, httpBase+"/token", "grant_type", "client_credentials", "scope", "accounts")
	tok := postForm(t, client(nil), httpBase+"/token", f)
	if tok.status != 200 {
		t.Fatalf("token: %d %s", tok.status, tok.raw)
	}
	resp := consentCall(t, client(nil), http.MethodPost, consentsURL, tok.str("access_token"), consentBody)
	if resp.status != http.StatusCreated {
		t.Fatalf("consent: %d %s", resp.status, resp.raw)
	}
	return resp.body["Data"].(map[string]any)["ConsentId"].(string)
}

// unsignedJWT is an alg=none JWT, the form of UK OB's login_hint_token.
func unsignedJWT(t *testing.T, claims map[string]any) string {
	tok := jwt.New()
	for k, v := range claims {
		_ = tok.Set(k, v)
	}
	b, err := jwt.Sign(tok, jwt.WithInsecureNoSignature())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
