// Package oauth holds the OAuth 2.0 error value and the small helpers every endpoint shares
// to read form requests and write JSON answers.
package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Error is an OAuth 2.0 error (RFC 6749 §5.2) with the HTTP status it is answered with and,
// for a server_error, the failure behind it. Description is ASCII only: clients and the
// conformance suite reject anything else. Build one with the constructors below, answer it
// with WriteError; errors.As finds it however deeply it is wrapped.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	URI         string `json:"error_uri,omitempty"`
	Status      int    `json:"-"`
	// Challenge, when set, is sent as the WWW-Authenticate header (client_secret_basic failures).
	Challenge string `json:"-"`
	// RetryAfter, when positive, is sent as the Retry-After header, in seconds.
	RetryAfter int `json:"-"`
	// Cause is the failure behind the answer, for the log only: it never reaches the wire.
	Cause error `json:"-"`
}

// Error is the code, the description and the cause, for logs.
func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap is the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// NewError is an error with a code of its own, such as the device API's request_decided;
// the constructors below cover the codes of the OAuth and CIBA specifications.
func NewError(code string, status int, description string) *Error {
	return &Error{Code: code, Status: status, Description: asciiOnly(description)}
}

func newError(code string, status int, description string) *Error {
	return NewError(code, status, description)
}

func InvalidRequest(d string) *Error       { return newError("invalid_request", 400, d) }
func InvalidClient(d string) *Error        { return newError("invalid_client", 401, d) }
func InvalidGrant(d string) *Error         { return newError("invalid_grant", 400, d) }
func InvalidScope(d string) *Error         { return newError("invalid_scope", 400, d) }
func UnauthorizedClient(d string) *Error   { return newError("unauthorized_client", 400, d) }
func UnsupportedGrantType(d string) *Error { return newError("unsupported_grant_type", 400, d) }
func AccessDenied(d string) *Error         { return newError("access_denied", 403, d) }

// ServerError is the 500 of a failure that is not the client's: the description says what
// could not be done, the cause (logged, never sent) why.
func ServerError(d string, cause error) *Error {
	e := newError("server_error", 500, d)
	e.Cause = cause
	return e
}

// InvalidToken is the 401 of a missing or unusable bearer token, with the challenge of
// RFC 6750 §3.
func InvalidToken(d string) *Error {
	e := newError("invalid_token", http.StatusUnauthorized, d)
	e.Challenge = `Bearer error="invalid_token"`
	return e
}

// RateLimited is the answer over a client's rate limit. RFC 6749 has no code for it, so
// it is invalid_request with 429 (RFC 6585) and Retry-After in whole seconds.
func RateLimited(retryAfter int) *Error {
	e := newError("invalid_request", http.StatusTooManyRequests, "rate limit exceeded")
	e.RetryAfter = max(retryAfter, 1)
	return e
}

// AsError finds the OAuth error in err's chain; any other error becomes a server_error
// that keeps it as its cause and reveals nothing of its text.
func AsError(err error) *Error {
	if oe, ok := errors.AsType[*Error](err); ok {
		return oe
	}
	return ServerError("the request could not be processed", err)
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

// TokenWithdrawn is the token endpoint's answer for a request whose consent was withdrawn
// before the user decided.
func TokenWithdrawn() *Error {
	return newError("access_denied", 400, "the request was withdrawn before the user decided")
}

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
