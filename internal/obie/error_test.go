package obie

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

var errDisk = errors.New("disk full at /var/lib/ciba")

// TestWriteError: the Open Banking body with the response's interaction id, the 401 with
// only its challenge, the Allow header of a 405; a cause never reaches the wire; an error
// that is no Open Banking error is the 500 that says nothing of its text.
func TestWriteError(t *testing.T) {
	const id = "93bac548-d2de-4546-b106-880a5018460d"
	for _, tc := range []struct {
		name      string
		err       error
		status    int
		body      string
		challenge string
		allow     string
	}{
		{"forbidden", New(http.StatusForbidden, "The token cannot manage consents",
			Item{ErrorCode: CodeHeaderInvalid, Message: "a client-credentials token is required", Path: "Authorization"}), 403,
			`{"Code":"403 Forbidden","Id":"` + id + `","Message":"The token cannot manage consents","Errors":[{"ErrorCode":"UK.OBIE.Header.Invalid","Message":"a client-credentials token is required","Path":"Authorization"}]}`, "", ""},
		{"unexpected with a cause", Unexpected("the grant could not be read", errDisk), 500,
			`{"Code":"500 InternalServerError","Id":"` + id + `","Message":"Unexpected error","Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"the grant could not be read"}]}`, "", ""},
		{"any other error", errDisk, 500,
			`{"Code":"500 InternalServerError","Id":"` + id + `","Message":"Unexpected error","Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"the request could not be completed"}]}`, "", ""},
		{"wrapped", fmt.Errorf("consents: %w", New(http.StatusBadRequest, "Consent not found")), 400,
			`{"Code":"400 BadRequest","Id":"` + id + `","Message":"Consent not found","Errors":null}`, "", ""},
		{"401: the challenge and no body", Unauthorized(`Bearer realm="https://bank.example"`), 401, "", `Bearer realm="https://bank.example"`, ""},
		{"405 with Allow", MethodNotAllowed("GET, HEAD", Item{ErrorCode: CodeFieldUnexpected, Message: "GET only"}), 405,
			`{"Code":"405 MethodNotAllowed","Id":"` + id + `","Message":"Method not allowed","Errors":[{"ErrorCode":"UK.OBIE.Field.Unexpected","Message":"GET only"}]}`, "", "GET, HEAD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			w.Header().Set("X-Fapi-Interaction-Id", id)
			WriteError(w, tc.err)
			body := strings.TrimSuffix(w.Body.String(), "\n")
			if w.Code != tc.status || body != tc.body {
				t.Fatalf("answer %d %s, want %d %s", w.Code, body, tc.status, tc.body)
			}
			h := w.Header()
			if h.Get("WWW-Authenticate") != tc.challenge || h.Get("Allow") != tc.allow {
				t.Errorf("challenge %q allow %q", h.Get("WWW-Authenticate"), h.Get("Allow"))
			}
			if tc.body != "" && h.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", h.Get("Content-Type"))
			}
		})
	}
}

// TestWriteErrorNewID: without an interaction id on the response, the body names a new one.
func TestWriteErrorNewID(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, New(http.StatusNotFound, "No such endpoint"))
	if !strings.Contains(w.Body.String(), `"Id":"`) || strings.Contains(w.Body.String(), `"Id":""`) {
		t.Fatalf("body %s", w.Body.String())
	}
}

// TestErrorCause: the cause is found through the Open Banking error, and that error through
// any wrapping; the text for logs names the status, the code and the cause.
func TestErrorCause(t *testing.T) {
	err := fmt.Errorf("gate: %w", Unexpected("the grant could not be read", errDisk))
	if !errors.Is(err, errDisk) {
		t.Fatal("errors.Is does not reach the cause")
	}
	oe, ok := errors.AsType[*Error](err)
	if !ok || oe.Status != 500 || oe.Code() != CodeUnexpectedError {
		t.Fatalf("errors.As found %+v", oe)
	}
	if want := "500 Unexpected error (UK.OBIE.UnexpectedError): disk full at /var/lib/ciba"; oe.Error() != want {
		t.Fatalf("Error() %q, want %q", oe.Error(), want)
	}
	if AsError(err) != oe || !errors.Is(AsError(errDisk), errDisk) {
		t.Fatal("AsError")
	}
}

func TestExtraMembers(t *testing.T) {
	tests := []struct {
		obj     map[string]int
		allowed []string
		want    []string
	}{
		{nil, nil, nil},
		{map[string]int{"Data": 1, "Risk": 2}, []string{"Data", "Risk"}, nil},
		{map[string]int{"Data": 1, "zeta": 2, "Alpha": 3, "Risk": 4}, []string{"Data", "Risk"}, []string{"Alpha", "zeta"}},
		{map[string]int{"data": 1}, []string{"Data"}, []string{"data"}},
	}
	for _, tt := range tests {
		if got := ExtraMembers(tt.obj, tt.allowed...); !slices.Equal(got, tt.want) {
			t.Errorf("ExtraMembers(%v, %v) = %q, want %q", tt.obj, tt.allowed, got, tt.want)
		}
	}
}
