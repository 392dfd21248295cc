package payment

import (
	"strings"
	"testing"
)

func TestMatchEndpoint(t *testing.T) {
	for _, tc := range []struct {
		path string
		kind EndpointKind
		id   string
	}{
		{"/open-banking/v3.1/pisp/domestic-payments", DomesticPayments, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/dp-1", DomesticPayment, "dp-1"},
		{"/open-banking/v3.1/pisp/domestic-payments/dp-1/payment-details", PaymentDetails, "dp-1"},
		{"/open-banking/v3.1/pisp/domestic-payment-consents/pdc-1/funds-confirmation", ConsentFunds, "pdc-1"},
		{"/open-banking/v3.1/cbpii/funds-confirmations", FundsConfirmations, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/..", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/.", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/...", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/a%2Fb", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/a;b", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/a\\b", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/" + strings.Repeat("a", 41), 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payments/dp-1/payment-details/", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payments//payment-details", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payment-consents/pdc-1", 0, ""},
		{"/open-banking/v3.1/pisp/domestic-payment-consents", 0, ""},
		{"/open-banking/v3.1/cbpii/funds-confirmations/", 0, ""},
		{"/open-banking/v3.1/cbpii/funds-confirmation-consents", 0, ""},
		{"/open-banking/v3.1/aisp/accounts", 0, ""},
	} {
		ep, ok := MatchEndpoint(tc.path)
		if ok != (tc.kind != 0) || ep.Kind != tc.kind && ok || ep.ID != tc.id && ok {
			t.Errorf("%s: %+v %v", tc.path, ep, ok)
		}
	}
}

func TestPaymentIDOf(t *testing.T) {
	for body, want := range map[string]string{
		`{"Data":{"DomesticPaymentId":"dp-1","ConsentId":"pdc-1"}}`:  "dp-1",
		`{"Data":{"DomesticPaymentId":"dp-1"}}`:                      "dp-1",
		`{"Data":{"DomesticPaymentId":"dp-1","ConsentId":"pdc-2"}}`:  "",
		`{"Data":{"DomesticPaymentId":"../x"}}`:                      "",
		`{"Data":{"DomesticPaymentId":1}}`:                           "",
		`{"Data":{"DomesticPaymentId":"a","DomesticPaymentId":"b"}}`: "",
		`{"Data":{}}`: "",
		`[]`:          "",
		`{"Data":{"DomesticPaymentId":"dp-1"}} x`: "",
	} {
		got, ok := PaymentIDOf([]byte(body), "pdc-1")
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v", body, got, ok)
		}
	}
}

// FuzzMatchEndpoint holds the payment endpoint table to its promise: a path it matches is
// exactly the endpoint's template with an OB id in place of the parameter.
func FuzzMatchEndpoint(f *testing.F) {
	for _, s := range []string{
		"/open-banking/v3.1/pisp/domestic-payments/dp-1/payment-details",
		"/open-banking/v3.1/pisp/domestic-payment-consents/pdc-1/funds-confirmation",
		"/open-banking/v3.1/cbpii/funds-confirmations",
		"/open-banking/v3.1/pisp/domestic-payments/%2e%2e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		ep, ok := MatchEndpoint(path)
		if !ok {
			return
		}
		if ep.ID != "" && !IsOBID(ep.ID) {
			t.Fatalf("%q: id %q", path, ep.ID)
		}
		want := strings.NewReplacer("{DomesticPaymentId}", ep.ID, "{ConsentId}", ep.ID).Replace(ep.Name())
		if want != path {
			t.Fatalf("%q matched as %q", path, want)
		}
	})
}
