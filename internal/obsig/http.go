package obsig

import (
	"errors"
	"net/http"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/caddyciba/gateway/internal/obie"
)

// Expect is what an endpoint expects of a request's x-jws-signature.
type Expect uint8

const (
	// Unchecked: the client does not sign (no jws_signature outside fapi mode); a signature
	// it sends anyway is neither required nor verified.
	Unchecked Expect = iota
	// Required: the client signs this request (a POST of PISP or CBPII by a client with
	// jws_signature, every client in fapi mode); a missing or bad signature is refused.
	Required
	// Refused: the endpoint takes no signed request (GET, DELETE); a signature is Unexpected.
	Refused
)

// VerifyRequest applies expect to the request header h and its body bytes, as read by the
// caller (the signature covers the exact bytes, so the body must not be re-encoded first).
// A refusal is an *Error; answer it with Answer.
func VerifyRequest(h http.Header, body []byte, keys jwk.Set, expect Expect, opts Options) error {
	values := h.Values(HeaderName)
	switch expect {
	case Unchecked:
		return nil
	case Refused:
		if len(values) != 0 {
			return &Error{Code: obie.CodeSignatureUnexpected, Reason: "this endpoint takes no signed request"}
		}
		return nil
	}
	if len(values) > 1 {
		return malformed("more than one x-jws-signature header")
	}
	value := ""
	if len(values) == 1 {
		value = values[0]
	}
	return Verify(value, body, keys, opts)
}

// Answer writes the 400 OB error body of a refusal made by VerifyRequest or Verify, and
// reports false for an error that is no refusal (the caller's configuration: a 500).
func Answer(w http.ResponseWriter, err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	obie.WriteError(w, obie.New(http.StatusBadRequest, "The request's x-jws-signature is refused.", e.Item()))
	return true
}

// SignResponse sets the x-jws-signature header of an answer over its body bytes, exactly as
// they will be written; call it before WriteHeader.
func SignResponse(h http.Header, body []byte, key jwk.Key, c Claims) error {
	value, err := Sign(body, key, c)
	if err != nil {
		return err
	}
	h.Set(HeaderName, value)
	return nil
}
