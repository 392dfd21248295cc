// Package obie holds the Open Banking error value and writes the error body
// (OBErrorResponse1) that the consent and account APIs answer with.
package obie

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// InteractionHeader is x-fapi-interaction-id, which correlates a TPP's call across systems
// (FAPI): every answer carries it, and an error body repeats it as its Id.
const InteractionHeader = "X-Fapi-Interaction-Id"

// Item is one OBError1.
type Item struct {
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
	Path      string `json:"Path,omitempty"`
}

// Response is an OBErrorResponse1.
type Response struct {
	Code    string `json:"Code"`
	ID      string `json:"Id,omitempty"`
	Message string `json:"Message"`
	Errors  []Item `json:"Errors"`
}

// Error codes of the v3.1 namespaced enumeration (the consent rules use them too).
const (
	CodeResourceNotFound = "UK.OBIE.Resource.NotFound"
	CodeInvalidFormat    = "UK.OBIE.Resource.InvalidFormat"
	CodeHeaderInvalid    = "UK.OBIE.Header.Invalid"
	CodeInvalidConsent   = "UK.OBIE.Resource.InvalidConsentStatus"
	CodeFieldInvalid     = "UK.OBIE.Field.Invalid"
	CodeFieldUnexpected  = "UK.OBIE.Field.Unexpected"
	CodeUnexpectedError  = "UK.OBIE.UnexpectedError"
	CodeReauthenticate   = "UK.OBIE.Reauthenticate"

	// The payment and funds-confirmation rules (PISP, CBPII).
	CodeFieldMissing               = "UK.OBIE.Field.Missing"
	CodeFieldInvalidDate           = "UK.OBIE.Field.InvalidDate"
	CodeHeaderMissing              = "UK.OBIE.Header.Missing"
	CodeConsentMismatch            = "UK.OBIE.Resource.ConsentMismatch"
	CodeAfterCutOff                = "UK.OBIE.Rules.AfterCutOffDateTime"
	CodeUnsupportedScheme          = "UK.OBIE.Unsupported.Scheme"
	CodeUnsupportedLocalInstrument = "UK.OBIE.Unsupported.LocalInstrument"
	CodeUnsupportedCurrency        = "UK.OBIE.Unsupported.Currency"
)

// Error codes of the x-jws-signature checks (package obsig).
const (
	CodeSignatureMissing      = "UK.OBIE.Signature.Missing"
	CodeSignatureMalformed    = "UK.OBIE.Signature.Malformed"
	CodeSignatureMissingClaim = "UK.OBIE.Signature.MissingClaim"
	CodeSignatureInvalidClaim = "UK.OBIE.Signature.InvalidClaim"
	CodeSignatureInvalid      = "UK.OBIE.Signature.Invalid"
	CodeSignatureUnexpected   = "UK.OBIE.Signature.Unexpected"
)

// Error is an Open Banking error answer: the status, the body's Message and items, the
// headers some statuses carry, and the failure behind a 5xx, for the log only. Build one
// with New or Unexpected, answer it with WriteError; errors.As finds it however deeply it
// is wrapped.
type Error struct {
	Status  int
	Message string
	Items   []Item
	// Allow is the Allow header of a 405.
	Allow string
	// Challenge is the WWW-Authenticate header: of every 401, and of a 403 for a token
	// without the scope asked for (RFC 6750 §3.1 insufficient_scope).
	Challenge string
	// Cause is the failure behind the answer; it never reaches the wire.
	Cause error
}

// New is the answer status with message and the error items.
func New(status int, message string, items ...Item) *Error {
	return &Error{Status: status, Message: message, Items: items}
}

// MethodNotAllowed is the 405 with the Allow header listing the methods there are.
func MethodNotAllowed(allow string, items ...Item) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Message: "Method not allowed", Allow: allow, Items: items}
}

// Unexpected is the 500 of a failure that is not the caller's: detail says what could not
// be done, the cause (logged, never sent) why.
func Unexpected(detail string, cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Message: "Unexpected error",
		Items: []Item{{ErrorCode: CodeUnexpectedError, Message: detail}}, Cause: cause}
}

// Unauthorized is the 401 with the Bearer challenge and no body (UK OB).
func Unauthorized(challenge string) *Error {
	return &Error{Status: http.StatusUnauthorized, Challenge: challenge}
}

// Error is the status, the message, the first item's code and the cause, for logs.
func (e *Error) Error() string {
	s := strconv.Itoa(e.Status) + " " + e.Message
	if code := e.Code(); code != "" {
		s += " (" + code + ")"
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap is the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// Code is the first item's ErrorCode, or "" (a 401 has none).
func (e *Error) Code() string {
	if len(e.Items) == 0 {
		return ""
	}
	return e.Items[0].ErrorCode
}

// AsError finds the Open Banking error in err's chain; any other error becomes an
// Unexpected error that keeps it as its cause and reveals nothing of its text.
func AsError(err error) *Error {
	if oe, ok := errors.AsType[*Error](err); ok {
		return oe
	}
	return Unexpected("the request could not be completed", err)
}

// WriteError answers err: the challenge and the Allow header when it has them, then a 401
// without a body, or the Open Banking error body.
func WriteError(w http.ResponseWriter, err error) {
	e := AsError(err)
	if e.Challenge != "" {
		w.Header().Set("WWW-Authenticate", e.Challenge)
	}
	if e.Status == http.StatusUnauthorized {
		w.WriteHeader(e.Status)
		return
	}
	if e.Allow != "" {
		w.Header().Set("Allow", e.Allow)
	}
	writeBody(w, e.Status, e.Message, e.Items)
}

// writeBody writes the error body; its Id is the response's x-fapi-interaction-id,
// so the TPP and the bank can find the call.
func writeBody(w http.ResponseWriter, status int, message string, items []Item) {
	id := w.Header().Get(InteractionHeader)
	if id == "" {
		id = uuid.NewString()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Response{
		Code:    strconv.Itoa(status) + " " + strings.ReplaceAll(http.StatusText(status), " ", ""),
		ID:      id,
		Message: message,
		Errors:  items,
	})
}

// ExtraMembers are the members of obj not in allowed, in name order: the Open Banking
// schemas have additionalProperties false, so each is a CodeFieldUnexpected item. The
// consent and payment body checks both find them here.
func ExtraMembers[V any](obj map[string]V, allowed ...string) []string {
	var extra []string
	for k := range obj {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return extra
}
