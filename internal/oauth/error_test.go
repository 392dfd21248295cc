package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestErrorConstructors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    *Error
		code   string
		status int
	}{
		{"invalid_request", InvalidRequest("d"), "invalid_request", 400},
		{"invalid_client", InvalidClient("d"), "invalid_client", 401},
		{"invalid_grant", InvalidGrant("d"), "invalid_grant", 400},
		{"invalid_scope", InvalidScope("d"), "invalid_scope", 400},
		{"unauthorized_client", UnauthorizedClient("d"), "unauthorized_client", 400},
		{"unsupported_grant_type", UnsupportedGrantType("d"), "unsupported_grant_type", 400},
		{"access_denied", AccessDenied("d"), "access_denied", 403},
		{"server_error", ServerError("d"), "server_error", 500},
		{"rate limited", RateLimited(3), "invalid_request", 429},
		{"authorization_pending", AuthorizationPending(), "authorization_pending", 400},
		{"slow_down", SlowDown(), "slow_down", 400},
		{"expired_token", ExpiredToken(), "expired_token", 400},
		{"token denied", TokenDenied(), "access_denied", 400},
		{"unknown_user_id", UnknownUserID(), "unknown_user_id", 400},
		{"expired_login_hint_token", ExpiredLoginHintToken(), "expired_login_hint_token", 400},
		{"missing_user_code", MissingUserCode(), "missing_user_code", 400},
		{"invalid_user_code", InvalidUserCode(), "invalid_user_code", 400},
		{"invalid_binding_message", InvalidBindingMessage("d"), "invalid_binding_message", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.err.Code != tc.code || tc.err.Status != tc.status {
				t.Errorf("%s = %q %d, want %q %d", tc.name, tc.err.Code, tc.err.Status, tc.code, tc.status)
			}
			if tc.err.Description == "" {
				t.Errorf("%s has no description", tc.name)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Code: "invalid_request"}, "invalid_request"},
		{InvalidGrant("the code is spent"), "invalid_grant: the code is spent"},
		// RFC 6749 §5.2: error_description is printable ASCII without '"' and '\'.
		{InvalidRequest("caf\u00e9 \"quoted\" back\\slash\nnewline"), `invalid_request: caf? ?quoted? back?slash?newline`},
		{InvalidBindingMessage("\x00\x7f~ "), "invalid_binding_message: ??~ "},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestRateLimitedRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want int }{{-5, 1}, {0, 1}, {1, 1}, {30, 30}} {
		if got := RateLimited(tc.in).RetryAfter; got != tc.want {
			t.Errorf("RateLimited(%d).RetryAfter = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestAsError(t *testing.T) {
	t.Parallel()
	grant := InvalidGrant("spent")
	for _, tc := range []struct {
		name string
		in   error
		want *Error
		code string
	}{
		{"an OAuth error is itself", grant, grant, "invalid_grant"},
		{"any other error is a server_error", errors.New("disk on fire: /var/lib/x"), nil, "server_error"},
	} {
		got := AsError(tc.in)
		if tc.want != nil && got != tc.want {
			t.Errorf("%s: AsError = %p, want %p", tc.name, got, tc.want)
		}
		if got.Code != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, got.Code, tc.code)
		}
	}
	// The text of an unknown error never reaches the client.
	if d := AsError(errors.New("disk on fire: /var/lib/x")).Description; d != "the request could not be processed" {
		t.Errorf("server_error description %q", d)
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	challenged := InvalidClient("bad secret")
	challenged.Challenge = `Basic realm="https://bank.example"`
	for _, tc := range []struct {
		name                  string
		err                   error
		status                int
		challenge, retryAfter string
		body                  map[string]string
	}{
		{"plain", InvalidScope("no such scope"), 400, "", "",
			map[string]string{"error": "invalid_scope", "error_description": "no such scope"}},
		{"challenge", challenged, 401, `Basic realm="https://bank.example"`, "",
			map[string]string{"error": "invalid_client", "error_description": "bad secret"}},
		{"retry after", RateLimited(7), 429, "", "7",
			map[string]string{"error": "invalid_request", "error_description": "rate limit exceeded"}},
		{"unknown error", errors.New("boom"), 500, "", "",
			map[string]string{"error": "server_error", "error_description": "the request could not be processed"}},
		{"no description", &Error{Code: "slow_down", Status: 400}, 400, "", "",
			map[string]string{"error": "slow_down"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			WriteError(rec, tc.err)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			h := rec.Header()
			if h.Get("WWW-Authenticate") != tc.challenge || h.Get("Retry-After") != tc.retryAfter {
				t.Errorf("WWW-Authenticate %q Retry-After %q", h.Get("WWW-Authenticate"), h.Get("Retry-After"))
			}
			if h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
				t.Errorf("headers %v", h)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if len(body) != len(tc.body) {
				t.Errorf("body %v, want %v", body, tc.body)
			}
			for k, v := range tc.body {
				if body[k] != v {
					t.Errorf("body[%s] = %q, want %q", k, body[k], v)
				}
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusCreated, map[string]int{"expires_in": 300})
	if rec.Code != http.StatusCreated || rec.Body.String() != "{\"expires_in\":300}\n" {
		t.Errorf("%d %q", rec.Code, rec.Body)
	}
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Pragma") != "no-cache" {
		t.Errorf("headers %v", rec.Header())
	}
}
