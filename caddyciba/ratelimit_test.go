package caddyciba

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCaddyfileBounds: rate_limit and max_deliveries adapt to their JSON, and mistakes are
// refused at adapt time.
func TestCaddyfileBounds(t *testing.T) {
	t.Parallel()
	client := func(opt string) string {
		return "issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_post\n\t\t\tsecret s\n\t\t\t" + opt + "\n\t\t}"
	}
	for _, tc := range []struct {
		name, body, err string
		rate            *RateLimitConfig
		deliveries      int
	}{
		{name: "rate and burst", body: client("rate_limit 20/s burst 40"), rate: &RateLimitConfig{Rate: "20/s", Burst: 40}},
		{name: "per minute, no burst", body: client("rate_limit 600/m"), rate: &RateLimitConfig{Rate: "600/m"}},
		{name: "no limit by default", body: client("scopes accounts")},
		{name: "max deliveries", body: "issuer https://bank.example\n\t\tmax_deliveries 32", deliveries: 32},
		{name: "zero rate", body: client("rate_limit 0/s"), err: "rate_limit: rate \"0/s\""},
		{name: "hourly", body: client("rate_limit 20/h"), err: "the unit is s or m"},
		{name: "no unit", body: client("rate_limit 20"), err: "is not <n>/s or <n>/m"},
		{name: "burst without value", body: client("rate_limit 20/s burst"), err: "rate_limit needs <n>/s or <n>/m"},
		{name: "burst not a number", body: client("rate_limit 20/s burst many"), err: `burst "many" is not a positive number`},
		{name: "burst zero", body: client("rate_limit 20/s burst 0"), err: `burst "0" is not a positive number`},
		{name: "no rate", body: client("rate_limit"), err: "rate_limit needs"},
		{name: "max deliveries zero", body: "issuer https://bank.example\n\t\tmax_deliveries 0", err: "not a positive number"},
		{name: "max deliveries huge", body: "issuer https://bank.example\n\t\tmax_deliveries 5000", err: "max_deliveries must be between 1 and 1024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := adapt("{\n\tciba {\n\t\t" + tc.body + "\n\t}\n}\n")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Apps struct {
					CIBA App `json:"ciba"`
				} `json:"apps"`
			}
			if err := json.Unmarshal(out, &cfg); err != nil {
				t.Fatal(err)
			}
			app := cfg.Apps.CIBA
			if app.MaxDeliveries != tc.deliveries {
				t.Errorf("max_deliveries = %d, want %d", app.MaxDeliveries, tc.deliveries)
			}
			var got *RateLimitConfig
			if len(app.Clients) > 0 {
				got = app.Clients[0].RateLimit
			}
			if (got == nil) != (tc.rate == nil) || (got != nil && *got != *tc.rate) {
				t.Errorf("rate_limit = %+v, want %+v", got, tc.rate)
			}
		})
	}
}

// TestTokenRateLimit: a client with rate_limit 20/m burst 3 gets three calls (token and
// bc-authorize draw from one bucket), then 429 with Retry-After and an OAuth body on both
// endpoints; polling its pending request is never 429; after Retry-After it is allowed
// again; another client is not affected.
func TestTokenRateLimit(t *testing.T) {
	cibaGateway(t, `client tpp-limited {
			auth       client_secret_basic
			secret     limited-secret
			scopes     openid accounts
			rate_limit 20/m burst 3
		}`)
	const id, secret = "tpp-limited", "limited-secret"
	cc := func() response {
		return postForm(t, client(nil), httpBase+"/token", formOf("grant_type", "client_credentials"), id, secret)
	}
	consentID := newConsent(t, id, secret) // 1: its client-credentials token
	ack := bcBasic(t, id, secret, "scope", "openid accounts", "login_hint", "alice@example.com", "openbanking_intent_id", consentID)
	if ack.status != http.StatusOK { // 2
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	if r := cc(); r.status != http.StatusOK { // 3
		t.Fatalf("third call: %d %s", r.status, r.raw)
	}
	limited := func(r response) int {
		t.Helper()
		errorOnly(t, r, http.StatusTooManyRequests, "invalid_request")
		if r.str("error_description") != "rate limit exceeded" {
			t.Errorf("error_description %q", r.str("error_description"))
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		after, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || after < 1 || after > 3 {
			t.Fatalf("Retry-After %q, want whole seconds from 1 to 3", r.header.Get("Retry-After"))
		}
		return after
	}
	after := limited(cc())
	limited(bcBasic(t, id, secret, "scope", "openid accounts", "login_hint", "alice@example.com", "openbanking_intent_id", consentID))
	// Polling keeps its own pace: pending, then slow_down when too fast, never 429.
	for i := range 5 {
		r := pollBasic(t, id, secret, ack.str("auth_req_id"))
		if r.status != http.StatusBadRequest || (r.str("error") != "authorization_pending" && r.str("error") != "slow_down") {
			t.Fatalf("poll %d: %d %s", i+1, r.status, r.raw)
		}
	}
	if r := postForm(t, client(nil), httpBase+"/token", formOf("grant_type", "client_credentials"), basicID, basicSecret); r.status != http.StatusOK {
		t.Fatalf("another client: %d %s", r.status, r.raw)
	}
	time.Sleep(time.Duration(after) * time.Second)
	if r := cc(); r.status != http.StatusOK {
		t.Fatalf("after Retry-After: %d %s", r.status, r.raw)
	}
	limited(cc())
}

// TestRefreshRateLimit: the refresh_token grant draws from the client's bucket; the CIBA
// grant's poll that fetched the tokens did not.
func TestRefreshRateLimit(t *testing.T) {
	hook := cibaGateway(t, `client tpp-limited {
			auth       client_secret_basic
			secret     limited-secret
			scopes     openid accounts
			rate_limit 20/m burst 3
		}`)
	const id, secret = "tpp-limited", "limited-secret"
	consentID := newConsent(t, id, secret) // 1
	ack := bcBasic(t, id, secret, "scope", "openid accounts", "login_hint", "alice@example.com", "openbanking_intent_id", consentID)
	if ack.status != http.StatusOK { // 2
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	approve(t, notification(t, hook))
	tokens := pollBasic(t, id, secret, ack.str("auth_req_id")) // not counted
	if tokens.status != http.StatusOK || tokens.str("refresh_token") == "" {
		t.Fatalf("tokens: %d %s", tokens.status, tokens.raw)
	}
	refresh := func(rt string) response {
		return postForm(t, client(nil), httpBase+"/token", formOf("grant_type", "refresh_token", "refresh_token", rt), id, secret)
	}
	r := refresh(tokens.str("refresh_token")) // 3
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	rt := r.str("refresh_token")
	if rt == "" {
		rt = tokens.str("refresh_token")
	}
	limited := refresh(rt)
	errorOnly(t, limited, http.StatusTooManyRequests, "invalid_request")
	after, err := strconv.Atoi(limited.header.Get("Retry-After"))
	if err != nil || after < 1 || after > 3 {
		t.Fatalf("Retry-After %q", limited.header.Get("Retry-After"))
	}
	time.Sleep(time.Duration(after) * time.Second)
	if r := refresh(rt); r.status != http.StatusOK {
		t.Fatalf("refresh after Retry-After: %d %s", r.status, r.raw)
	}
}
