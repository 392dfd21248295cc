// Package oauth holds the OAuth 2.0 error value and the small helpers every endpoint shares
// to read form requests and write JSON answers.
package oauth

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Error is an OAuth 2.0 error (RFC 6749 §5.2) with the HTTP status it is answered with.
// Description is ASCII only: clients and the conformance suite reject anything else.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	URI         string `json:"error_uri,omitempty"`
	Status      int    `json:"-"`
	// Challenge, when set, is sent as the WWW-Authenticate header (client_secret_basic failures).
	Challenge string `json:"-"`
	// RetryAfter, when positive, is sent as the Retry-After header, in seconds.
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

func newError(code string, status int, description string) *Error {
	return &Error{Code: code, Status: status, Description: asciiOnly(description)}
}

func InvalidRequest(d string) *Error       { return newError("invalid_request", 400, d) }
func InvalidClient(d string) *Error        { return newError("invalid_client", 401, d) }
func InvalidGrant(d string) *Error         { return newError("invalid_grant", 400, d) }
func InvalidScope(d string) *Error         { return newError("invalid_scope", 400, d) }
func UnauthorizedClient(d string) *Error   { return newError("unauthorized_client", 400, d) }
func UnsupportedGrantType(d string) *Error { return newError("unsupported_grant_type", 400, d) }
func AccessDenied(d string) *Error         { return newError("access_denied", 403, d) }
func ServerError(d string) *Error          { return newError("server_error", 500, d) }

// RateLimited is the answer over a client's rate limit. RFC 6749 has no code for it, so
// it is invalid_request with 429 (RFC 6585) and Retry-After in whole seconds.
func RateLimited(retryAfter int) *Error {
	e := newError("invalid_request", http.StatusTooManyRequests, "rate limit exceeded")
	e.RetryAfter = max(retryAfter, 1)
	return e
}

// AsError turns any error into an OAuth error; unknown errors become a server_error that
// reveals nothing of their text.
func AsError(err error) *Error {
	if oe, ok := err.(*Error); ok {
		return oe
	}
	return ServerError("the request could not be processed")
}

// WriteError answers with the RFC 6749 JSON error body.
func WriteError(w http.ResponseWriter, err error) {
	oe := AsError(err)
	if oe.Challenge != "" {
		w.Header().Set("WWW-Authenticate", oe.Challenge)
	}
	if oe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(oe.RetryAfter))
	}
	WriteJSON(w, oe.Status, oe)
}

// WriteJSON writes v as the JSON body with the no-store headers every OAuth answer carries.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// asciiOnly keeps printable ASCII except '"' and '\' (RFC 6749 §5.2 error_description charset).
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}

// CIBA token errors (CIBA Core §11).
func AuthorizationPending() *Error {
	return newError("authorization_pending", 400, "the user has not yet decided")
}
func SlowDown() *Error     { return newError("slow_down", 400, "poll no faster than the interval") }
func ExpiredToken() *Error { return newError("expired_token", 400, "the auth_req_id has expired") }
func TokenDenied() *Error  { return newError("access_denied", 400, "the user denied the request") }

// CIBA backchannel errors (CIBA Core §13).
func UnknownUserID() *Error {
	return newError("unknown_user_id", 400, "the hint does not identify a user who can authenticate")
}
func ExpiredLoginHintToken() *Error {
	return newError("expired_login_hint_token", 400, "the login_hint_token has expired")
}
func MissingUserCode() *Error { return newError("missing_user_code", 400, "user_code is required") }
func InvalidUserCode() *Error {
	return newError("invalid_user_code", 400, "the user_code is not valid")
}
func InvalidBindingMessage(d string) *Error {
	return newError("invalid_binding_message", 400, d)
}
