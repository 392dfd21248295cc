package payment

import (
	"net/http"
	"slices"
	"sort"

	"github.com/caddyciba/gateway/internal/obie"
)

// Compare checks a POST /domestic-payments body (OBWriteDomestic2: {Data: {ConsentId,
// Initiation}, Risk}) against the consent it spends. The Initiation and the Risk must
// equal the consent's as JSON values: member order does not matter, numbers compare as
// the digits sent, nothing may be added or left out. ok is true when they do; else path
// is the JSON Path of the first difference (members in name order, Data.ConsentId and
// Data's own members first), e.g. "Data.Initiation.InstructedAmount.Amount", or "" when
// the body is not one JSON object without repeated names (answer Resource.InvalidFormat).
func Compare(c *Consent, body []byte) (path string, ok bool) {
	v, err := decodeStrict(body)
	top, isObject := v.(map[string]any)
	if err != nil || !isObject {
		return "", false
	}
	if k := extraMember(top, "Data", "Risk"); k != "" {
		return k, false
	}
	data, isObject := top["Data"].(map[string]any)
	if !isObject {
		return "Data", false
	}
	if k := extraMember(data, "ConsentId", "Initiation"); k != "" {
		return "Data." + k, false
	}
	if id, _ := data["ConsentId"].(string); id != c.ID {
		return "Data.ConsentId", false
	}
	want, err := decodeStrict(c.Initiation)
	if err != nil {
		return "Data.Initiation", false
	}
	got, present := data["Initiation"]
	if !present {
		return "Data.Initiation", false
	}
	if d := firstDifference(want, got, "Data.Initiation"); d != "" {
		return d, false
	}
	wantRisk, err := decodeStrict(c.Risk)
	if err != nil {
		return "Risk", false
	}
	gotRisk, present := top["Risk"]
	if !present {
		return "Risk", false
	}
	if d := firstDifference(wantRisk, gotRisk, "Risk"); d != "" {
		return d, false
	}
	return "", true
}

// Mismatch is the answer to a payment Compare refused: 400 ConsentMismatch with the Path,
// or Resource.InvalidFormat for a body that is not JSON.
func Mismatch(path string) *obie.Error {
	if path == "" {
		return &obie.Error{Status: http.StatusBadRequest, Message: "The payment request is invalid",
			Items: []obie.Item{{ErrorCode: obie.CodeInvalidFormat, Message: "the body is not one JSON object"}}}
	}
	return &obie.Error{Status: http.StatusBadRequest, Message: "The payment does not match its consent",
		Items: []obie.Item{{ErrorCode: obie.CodeConsentMismatch, Message: "the field differs from the consent", Path: path}}}
}

// extraMember is the first member of obj, in name order, not in allowed; "" if none.
func extraMember(obj map[string]any, allowed ...string) string {
	var extra []string
	for k := range obj {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return ""
	}
	sort.Strings(extra)
	return extra[0]
}
