package consent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
)

// Problem is one thing wrong with a request, as an Open Banking error item.
type Problem struct {
	Code    string
	Message string
	Path    string
}

// InvalidError lists every problem found in a request body.
type InvalidError struct{ Problems []Problem }

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Path + ": " + p.Message
	}
	return "invalid consent request: " + strings.Join(msgs, "; ")
}

// Request is a validated OBReadConsent1.
type Request struct {
	Permissions     []Permission
	Expiration      *Date
	TransactionFrom *Date
	TransactionTo   *Date
}

// MaxRequestBytes bounds a consent request body.
const MaxRequestBytes = 16 << 10

// ParseRequest decodes and validates an OBReadConsent1 body at now. Field names are
// matched exactly (the schema has additionalProperties false); every problem is reported.
func ParseRequest(body []byte, now time.Time) (*Request, error) {
	var top map[string]json.RawMessage
	if err := decodeObject(body, &top); err != nil {
		return nil, &InvalidError{[]Problem{{obie.CodeInvalidFormat, "the body is not a JSON object", ""}}}
	}
	v := &validator{}
	v.onlyKeys(top, "", "Data", "Risk")
	var data map[string]json.RawMessage
	v.object(top, "Data", "", &data)
	var risk map[string]json.RawMessage
	if v.object(top, "Risk", "", &risk) {
		v.onlyKeys(risk, "Risk")
	}
	req := &Request{}
	if data != nil {
		v.onlyKeys(data, "Data", "Permissions", "ExpirationDateTime", "TransactionFromDateTime", "TransactionToDateTime")
		req.Permissions = v.permissions(data)
		req.Expiration = v.date(data, "ExpirationDateTime")
		req.TransactionFrom = v.date(data, "TransactionFromDateTime")
		req.TransactionTo = v.date(data, "TransactionToDateTime")
		if req.Expiration != nil && !req.Expiration.Time.After(now) {
			v.add(obie.CodeFieldInvalidDate, "ExpirationDateTime must be in the future", "Data.ExpirationDateTime")
		}
		if req.TransactionFrom != nil && req.TransactionTo != nil && req.TransactionTo.Time.Before(req.TransactionFrom.Time) {
			v.add(obie.CodeFieldInvalidDate, "TransactionToDateTime is before TransactionFromDateTime", "Data.TransactionToDateTime")
		}
	}
	if len(v.problems) > 0 {
		return nil, &InvalidError{v.problems}
	}
	return req, nil
}

// decodeObject decodes one JSON object and nothing after it.
func decodeObject(b []byte, dst *map[string]json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if *dst == nil {
		return fmt.Errorf("null")
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("trailing data")
	}
	return nil
}

type validator struct{ problems []Problem }

func (v *validator) add(code, msg, path string) {
	v.problems = append(v.problems, Problem{code, msg, path})
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// onlyKeys reports every member of obj not in allowed, in a stable order.
func (v *validator) onlyKeys(obj map[string]json.RawMessage, path string, allowed ...string) {
	for _, k := range obie.ExtraMembers(obj, allowed...) {
		v.add(obie.CodeFieldUnexpected, "unexpected field", join(path, k))
	}
}

// object reads the required member key of parent as a JSON object.
func (v *validator) object(parent map[string]json.RawMessage, key, path string, dst *map[string]json.RawMessage) bool {
	raw, ok := parent[key]
	if !ok {
		v.add(obie.CodeFieldMissing, key+" is required", join(path, key))
		return false
	}
	if err := decodeObject(raw, dst); err != nil {
		v.add(obie.CodeFieldInvalid, key+" must be an object", join(path, key))
		*dst = nil
		return false
	}
	return true
}

func (v *validator) permissions(data map[string]json.RawMessage) []Permission {
	const path = "Data.Permissions"
	raw, ok := data["Permissions"]
	if !ok {
		v.add(obie.CodeFieldMissing, "Permissions is required", path)
		return nil
	}
	var codes []string
	if err := json.Unmarshal(raw, &codes); err != nil || codes == nil {
		v.add(obie.CodeFieldInvalid, "Permissions must be an array of permission codes", path)
		return nil
	}
	if len(codes) == 0 {
		v.add(obie.CodeFieldInvalid, "Permissions must not be empty", path)
		return nil
	}
	perms := make([]Permission, 0, len(codes))
	seen := map[Permission]bool{}
	for _, c := range codes {
		p := Permission(c)
		switch {
		case !p.Known():
			v.add(obie.CodeFieldInvalid, fmt.Sprintf("unsupported permission %q", c), path)
		case seen[p]:
			v.add(obie.CodeFieldInvalid, fmt.Sprintf("permission %s is listed twice", c), path)
		default:
			seen[p] = true
			perms = append(perms, p)
		}
	}
	if !seen[ReadAccountsBasic] && !seen[ReadAccountsDetail] {
		v.add(obie.CodeFieldInvalid, "Permissions must include ReadAccountsBasic or ReadAccountsDetail", path)
	}
	listing := seen[ReadTransactionsBasic] || seen[ReadTransactionsDetail]
	direction := seen[ReadTransactionsCredits] || seen[ReadTransactionsDebits]
	if listing && !direction {
		v.add(obie.CodeFieldInvalid, "ReadTransactionsBasic or ReadTransactionsDetail needs ReadTransactionsCredits or ReadTransactionsDebits", path)
	}
	if direction && !listing {
		v.add(obie.CodeFieldInvalid, "ReadTransactionsCredits or ReadTransactionsDebits needs ReadTransactionsBasic or ReadTransactionsDetail", path)
	}
	return perms
}

func (v *validator) date(data map[string]json.RawMessage, key string) *Date {
	raw, ok := data[key]
	if !ok {
		return nil
	}
	path := "Data." + key
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v.add(obie.CodeFieldInvalid, key+" must be an ISO 8601 date-time string", path)
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.add(obie.CodeFieldInvalid, key+" must be an ISO 8601 date-time with a time zone", path)
		return nil
	}
	return &Date{Raw: s, Time: t}
}
