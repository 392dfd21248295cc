// Package obie writes the Open Banking error body (OBErrorResponse1) that the consent and
// account APIs answer with.
package obie

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

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

// Error codes of the v3.1 namespaced enumeration used outside the consent rules.
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

// Error is a refusal a domain package returns as a value: the status and message of the
// answer and its items, so the HTTP side writes it as is with WriteError.
type Error struct {
	Status  int
	Message string
	Items   []Item
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Items))
	for i, it := range e.Items {
		parts[i] = it.ErrorCode + " " + it.Path + ": " + it.Message
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// WriteError answers with e.
func WriteError(w http.ResponseWriter, e *Error) { Write(w, e.Status, e.Message, e.Items...) }

// Write answers status with the error body; its Id is the response's x-fapi-interaction-id,
// so the TPP and the bank can find the call.
func Write(w http.ResponseWriter, status int, message string, items ...Item) {
	id := w.Header().Get("X-Fapi-Interaction-Id")
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
