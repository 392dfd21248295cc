package payment

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func sampleDomestic(t testing.TB) *Consent {
	t.Helper()
	req, err := ParseDomesticConsent([]byte(sampleConsent), now, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	return NewDomestic("tpp-1", req, now, Policy{})
}

// paymentBody is the POST /domestic-payments body for the sample consent, from the
// consent request as the TPP wrote it (another member order than the stored form).
func paymentTree(t testing.TB, consentID string) map[string]any {
	t.Helper()
	v, err := decodeStrict([]byte(sampleConsent))
	if err != nil {
		t.Fatal(err)
	}
	top := v.(map[string]any)
	data := top["Data"].(map[string]any)
	return map[string]any{
		"Data": map[string]any{"ConsentId": consentID, "Initiation": data["Initiation"]},
		"Risk": top["Risk"],
	}
}

// leaves calls fn with the path of every scalar under v and a setter that replaces it.
func leaves(v any, path string, set func(any), fn func(path string, old any, set func(any))) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			leaves(child, join(path, k), func(n any) { x[k] = n }, fn)
		}
	case []any:
		for i, child := range x {
			leaves(child, path+"["+strconv.Itoa(i)+"]", func(n any) { x[i] = n }, fn)
		}
	default:
		fn(path, v, set)
	}
}

func TestCompareEqual(t *testing.T) {
	c := sampleDomestic(t)
	body, _ := json.Marshal(paymentTree(t, c.ID))
	if path, ok := Compare(c, body); !ok {
		t.Fatalf("the consent's own payment differs at %q", path)
	}
	// Member order and white space do not matter.
	spaced := strings.ReplaceAll(string(body), ",", " ,\n ")
	if path, ok := Compare(c, []byte(spaced)); !ok {
		t.Fatalf("spaced body differs at %q", path)
	}
}

// TestCompareEveryField changes, removes and adds to every field of the Initiation and
// the Risk in turn: each gives its own Path.
func TestCompareEveryField(t *testing.T) {
	c := sampleDomestic(t)
	var paths []string
	leaves(paymentTree(t, c.ID), "", nil, func(p string, _ any, _ func(any)) { paths = append(paths, p) })
	if len(paths) < 25 {
		t.Fatalf("only %d leaves", len(paths))
	}
	for _, path := range paths {
		for _, change := range []struct {
			name string
			to   func(old any) any
		}{
			{"changed", func(old any) any {
				if s, ok := old.(string); ok {
					return s + "X"
				}
				return "X"
			}},
			{"retyped", func(old any) any {
				if _, ok := old.(string); ok {
					return json.Number("1")
				}
				return strconvQuote(old)
			}},
		} {
			tree := paymentTree(t, c.ID)
			leaves(tree, "", nil, func(p string, old any, set func(any)) {
				if p == path {
					set(change.to(old))
				}
			})
			body, _ := json.Marshal(tree)
			got, ok := Compare(c, body)
			if ok || got != path {
				t.Errorf("%s %s: Compare = %q, %v", path, change.name, got, ok)
			}
		}
	}
	// Removing or adding a member gives the member's Path.
	for _, tc := range []struct{ obj, member string }{
		{"Data.Initiation", "InstructionIdentification"},
		{"Data.Initiation", "RemittanceInformation"},
		{"Data.Initiation", "Added"},
		{"Data.Initiation.InstructedAmount", "Currency"},
		{"Data.Initiation.CreditorAccount", "SecondaryIdentification"},
		{"Data.Initiation.CreditorAccount", "Extra"},
		{"Risk", "PaymentContextCode"},
		{"Risk", "MerchantCategoryCode"},
		{"Risk.DeliveryAddress", "Country"},
		{"Data", "Authorisation"},
		{"", "Meta"},
	} {
		tree := paymentTree(t, c.ID)
		obj := tree
		if tc.obj != "" {
			for _, n := range strings.Split(tc.obj, ".") {
				obj = obj[n].(map[string]any)
			}
		}
		if _, ok := obj[tc.member]; ok {
			delete(obj, tc.member)
		} else {
			obj[tc.member] = "new"
		}
		body, _ := json.Marshal(tree)
		want := join(tc.obj, tc.member)
		if got, ok := Compare(c, body); ok || got != want {
			t.Errorf("%s: Compare = %q, %v", want, got, ok)
		}
	}
}

func strconvQuote(v any) any {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCompareShapes(t *testing.T) {
	c := sampleDomestic(t)
	valid, _ := json.Marshal(paymentTree(t, c.ID))
	for _, tc := range []struct{ body, path string }{
		{`not json`, ""},
		{`[]`, ""},
		{strings.Replace(string(valid), `{"Data":`, `{"Risk":{},"Data":`, 1), ""}, // repeated Risk
		{`{"Risk":{}}`, "Data"},
		{`{"Data":[],"Risk":{}}`, "Data"},
		{`{"Data":{"ConsentId":"` + c.ID + `"},"Risk":{}}`, "Data.Initiation"},
		{`{"Data":{"ConsentId":"other","Initiation":{}},"Risk":{}}`, "Data.ConsentId"},
		{`{"Data":{"Initiation":{}},"Risk":{}}`, "Data.ConsentId"},
		{`{"Data":{"ConsentId":"` + c.ID + `","Initiation":[]},"Risk":{}}`, "Data.Initiation"},
		{strings.Replace(string(valid), `"Risk":{`, `"Risk2":{`, 1), "Risk2"},
	} {
		if got, ok := Compare(c, []byte(tc.body)); ok || got != tc.path {
			t.Errorf("%.80s: Compare = %q, %v; want %q", tc.body, got, ok, tc.path)
		}
	}
	// Numbers compare as the digits sent.
	if d := firstDifference(json.Number("2.50"), json.Number("2.5"), "n"); d != "n" {
		t.Fatalf("2.50 vs 2.5: %q", d)
	}
	if d := firstDifference([]any{"a"}, []any{"a", "b"}, "l"); d != "l[1]" {
		t.Fatalf("longer array: %q", d)
	}
}
