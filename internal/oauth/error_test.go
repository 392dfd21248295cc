package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var errDisk = errors.New("disk full at /var/lib/ciba")

// TestWriteError: each error is answered with its status, the RFC 6749 body and the
// no-store headers; a cause never reaches the wire; an error that is no OAuth error is a
// server_error that says nothing of its text; a wrapped OAuth error is answered as itself.
func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		status    int
		body      string
		challenge string
		retry     string
	}{
		{"invalid_request", InvalidRequest("grant_type is missing"), 400,
			`{"error":"invalid_request","error_description":"grant_type is missing"}`, "", ""},
		{"server_error with a cause", ServerError("the token could not be stored", errDisk), 500,
			`{"error":"server_error","error_description":"the token could not be stored"}`, "", ""},
		{"any other error", errDisk, 500,
			`{"error":"server_error","error_description":"the request could not be processed"}`, "", ""},
		{"wrapped", fmt.Errorf("token endpoint: %w", InvalidGrant("the refresh token is invalid")), 400,
			`{"error":"invalid_grant","error_description":"the refresh token is invalid"}`, "", ""},
		{"invalid_token", InvalidToken("unknown device link"), 401,
			`{"error":"invalid_token","error_description":"unknown device link"}`, `Bearer error="invalid_token"`, ""},
		{"rate limited", RateLimited(0), 429,
			`{"error":"invalid_request","error_description":"rate limit exceeded"}`, "", "1"},
		{"own code", NewError("request_decided", http.StatusConflict, "the request was already decided"), 409,
			`{"error":"request_decided","error_description":"the request was already decided"}`, "", ""},
		{"description kept ASCII", InvalidRequest("caf\u00e9 \"x\" \\"), 400,
			`{"error":"invalid_request","error_description":"caf? ?x? ?"}`, "", ""},
		{"withdrawn", TokenWithdrawn(), 400,
			`{"error":"access_denied","error_description":"the request was withdrawn before the user decided"}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, tc.err)
			h := w.Header()
			if w.Code != tc.status || w.Body.String() != tc.body+"\n" {
				t.Fatalf("answer %d %s, want %d %s", w.Code, w.Body.String(), tc.status, tc.body)
			}
			if h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
				t.Errorf("headers %v", h)
			}
			if h.Get("WWW-Authenticate") != tc.challenge || h.Get("Retry-After") != tc.retry {
				t.Errorf("challenge %q retry %q", h.Get("WWW-Authenticate"), h.Get("Retry-After"))
			}
			if strings.Contains(w.Body.String(), "disk") {
				t.Errorf("the cause reached the wire")
			}
		})
	}
}

// TestErrorCause: the cause is found through the OAuth error and the OAuth error through
// any wrapping; the text for logs names both.
func TestErrorCause(t *testing.T) {
	err := fmt.Errorf("issuing: %w", ServerError("the token could not be issued", errDisk))
	if !errors.Is(err, errDisk) {
		t.Fatal("errors.Is does not reach the cause")
	}
	oe, ok := errors.AsType[*Error](err)
	if !ok || oe.Code != "server_error" || oe.Status != 500 || oe.Cause != errDisk {
		t.Fatalf("errors.As found %+v", oe)
	}
	if got := AsError(err); got != oe {
		t.Fatalf("AsError %v, want the wrapped error", got)
	}
	if want := "server_error: the token could not be issued: disk full at /var/lib/ciba"; oe.Error() != want {
		t.Fatalf("Error() %q, want %q", oe.Error(), want)
	}
	if got := AsError(errDisk); got.Code != "server_error" || !errors.Is(got, errDisk) {
		t.Fatalf("AsError of a plain error: %+v", got)
	}
	if InvalidRequest("x").Unwrap() != nil || InvalidRequest("x").Error() != "invalid_request: x" {
		t.Fatal("a refusal has no cause")
	}
}
