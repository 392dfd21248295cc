package payment

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/caddyciba/gateway/internal/obie"
)

// checkParse: a parser answers a request or an *obie.Error of 400 whose every item has a
// known code, never a panic; a request it accepts, its stored Initiation and Risk compare
// equal to a payment made from them.
func checkParse(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var oe *obie.Error
	if !errors.As(err, &oe) || oe.Status != 400 || len(oe.Items) == 0 {
		t.Fatalf("error %v is not an OB 400", err)
	}
	for _, it := range oe.Items {
		switch it.ErrorCode {
		case obie.CodeInvalidFormat, obie.CodeFieldInvalid, obie.CodeFieldMissing, obie.CodeFieldUnexpected,
			obie.CodeFieldInvalidDate, obie.CodeUnsupportedScheme, obie.CodeUnsupportedLocalInstrument, obie.CodeUnsupportedCurrency:
		default:
			t.Fatalf("unexpected code %s", it.ErrorCode)
		}
	}
}

func FuzzDomesticConsent(f *testing.F) {
	f.Add([]byte(sampleConsent))
	f.Add([]byte(`{"Data":{"Initiation":{}},"Risk":{}}`))
	f.Add([]byte(`{"Data":{"Initiation":{"InstructedAmount":{"Amount":"1.5","Currency":"GBP"}},"Data":1}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseDomesticConsent(body, now, Policy{Currencies: []string{"GBP", "EUR"}})
		checkParse(t, err)
		if err != nil {
			return
		}
		c := NewDomestic("tpp", req, now, Policy{})
		if _, err := c.View(); err != nil {
			t.Fatalf("accepted consent has no view: %v", err)
		}
		payment, _ := json.Marshal(map[string]any{
			"Data": map[string]any{"ConsentId": c.ID, "Initiation": json.RawMessage(c.Initiation)},
			"Risk": json.RawMessage(c.Risk),
		})
		if path, ok := Compare(c, payment); !ok {
			t.Fatalf("the consent's own payment differs at %q", path)
		}
	})
}

func FuzzFundsConsent(f *testing.F) {
	f.Add([]byte(sampleFundsConsent))
	f.Add([]byte(sampleFundsConfirmation))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := ParseFundsConsent(body, now)
		checkParse(t, err)
		_, err = ParseFundsConfirmation(body)
		checkParse(t, err)
	})
}

// FuzzCompare: Compare never panics and a body equal to the consent's is accepted.
func FuzzCompare(f *testing.F) {
	f.Add([]byte(`{"Data":{"ConsentId":"x","Initiation":{}},"Risk":{}}`))
	f.Add([]byte(`{"Data":{"ConsentId":"x","Initiation":{"a":[1,{"b":null}]}},"Risk":{"c":true}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := sampleDomestic(t)
		_, _ = Compare(c, body)
	})
}
