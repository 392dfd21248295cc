package payment

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
)

var now = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// sampleConsent is the v3.1.10 specification's sample, with every optional part added.
const sampleConsent = `{
  "Data": {
    "ReadRefundAccount": "Yes",
    "Initiation": {
      "InstructionIdentification": "ACME412",
      "EndToEndIdentification": "FRESCO.21302.GFX.20",
      "LocalInstrument": "UK.OBIE.FPS",
      "InstructedAmount": { "Amount": "165.88", "Currency": "GBP" },
      "DebtorAccount": { "SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "11280001234567", "Name": "Andrea Smith" },
      "CreditorAccount": { "SchemeName": "UK.OBIE.SortCodeAccountNumber",
        "Identification": "08080021325698", "Name": "ACME Inc", "SecondaryIdentification": "0002" },
      "CreditorPostalAddress": { "AddressType": "Business", "StreetName": "Acacia Avenue", "BuildingNumber": "27",
        "PostCode": "GU31 2ZZ", "TownName": "Sparsholt", "Country": "GB", "AddressLine": ["Flat 7", "Acacia Lodge"] },
      "RemittanceInformation": { "Reference": "FRESCO-101", "Unstructured": "Internal ops code 5120101" },
      "SupplementaryData": { "anything": [1, 2.50, {"x": null}] }
    },
    "Authorisation": { "AuthorisationType": "Single", "CompletionDateTime": "2026-12-02T12:00:00+00:00" },
    "SCASupportData": { "RequestedSCAExemptionType": "EcommerceGoods", "AppliedAuthenticationApproach": "SCA", "ReferencePaymentOrderId": "p-1" }
  },
  "Risk": { "PaymentContextCode": "EcommerceMerchantInitiatedPayment", "MerchantCustomerIdentification": "053598653254",
            "DeliveryAddress": { "AddressLine": ["Flat 7","Acacia Lodge"], "StreetName": "Acacia Avenue",
            "BuildingNumber": "27", "PostCode": "GU31 2ZZ", "TownName": "Sparsholt",
            "CountrySubDivision": "Wessex", "Country": "UK" } }
}`

// del marks a member to remove in mutate.
type del struct{}

// mutate returns body with the member at the dotted path set to value (or removed).
func mutate(t testing.TB, body, path string, value any) []byte {
	t.Helper()
	var root map[string]any
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	names := strings.Split(path, ".")
	obj := root
	for _, n := range names[:len(names)-1] {
		next, ok := obj[n].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[n] = next
		}
		obj = next
	}
	last := names[len(names)-1]
	if _, ok := value.(del); ok {
		delete(obj, last)
	} else {
		obj[last] = value
	}
	out, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func problems(err error) []obie.Item {
	var oe *obie.Error
	if !errors.As(err, &oe) {
		return nil
	}
	return oe.Items
}

func TestParseDomesticConsentSample(t *testing.T) {
	req, err := ParseDomesticConsent([]byte(sampleConsent), now, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	ini := req.Initiation
	if ini.InstructedAmount != (Amount{"165.88", "GBP"}) || ini.CreditorAccount.Name != "ACME Inc" ||
		ini.RemittanceInformation.Reference != "FRESCO-101" || ini.DebtorAccount.Identification != "11280001234567" {
		t.Fatalf("parsed %+v", ini)
	}
	if req.Authorisation.AuthorisationType != "Single" || !req.Authorisation.Completion.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("authorisation %+v", req.Authorisation)
	}
	// Canonical: members in name order, numbers as sent.
	if !strings.Contains(string(req.InitiationJSON), `"SupplementaryData":{"anything":[1,2.50,{"x":null}]}`) ||
		!strings.HasPrefix(string(req.InitiationJSON), `{"CreditorAccount":`) {
		t.Fatalf("canonical initiation %s", req.InitiationJSON)
	}
	// Only what is required.
	minimal := `{"Data":{"Initiation":{"InstructionIdentification":"i","EndToEndIdentification":"e",
		"InstructedAmount":{"Amount":"1","Currency":"EUR"},"CreditorAccount":{"SchemeName":"UK.OBIE.IBAN","Identification":"GB29NWBK60161331926819","Name":"n"}}},"Risk":{}}`
	if _, err := ParseDomesticConsent([]byte(minimal), now, Policy{}); err != nil {
		t.Fatalf("minimal: %v", err)
	}
}

func TestParseDomesticConsentRules(t *testing.T) {
	const ini = "Data.Initiation."
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name  string
		path  string // member changed
		value any
		code  string
		at    string // Path reported; path when empty
		pol   Policy
	}{
		{"Data missing", "Data", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"Data not an object", "Data", "x", obie.CodeFieldInvalid, "", Policy{}},
		{"Risk missing", "Risk", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"Risk not an object", "Risk", []any{}, obie.CodeFieldInvalid, "", Policy{}},
		{"unknown top member", "Extra", 1, obie.CodeFieldUnexpected, "", Policy{}},
		{"unknown Data member", "Data.Permissions", 1, obie.CodeFieldUnexpected, "", Policy{}},
		{"ReadRefundAccount other", "Data.ReadRefundAccount", "Maybe", obie.CodeFieldInvalid, "", Policy{}},
		{"Initiation missing", "Data.Initiation", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"unknown Initiation member", ini + "Foo", "x", obie.CodeFieldUnexpected, "", Policy{}},
		{"InstructionIdentification missing", ini + "InstructionIdentification", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"InstructionIdentification empty", ini + "InstructionIdentification", "", obie.CodeFieldInvalid, "", Policy{}},
		{"InstructionIdentification 36", ini + "InstructionIdentification", long(36), obie.CodeFieldInvalid, "", Policy{}},
		{"InstructionIdentification number", ini + "InstructionIdentification", 12, obie.CodeFieldInvalid, "", Policy{}},
		{"EndToEndIdentification missing", ini + "EndToEndIdentification", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"EndToEndIdentification 36", ini + "EndToEndIdentification", long(36), obie.CodeFieldInvalid, "", Policy{}},
		{"LocalInstrument unknown", ini + "LocalInstrument", "UK.OBIE.Carrier.Pigeon", obie.CodeUnsupportedLocalInstrument, "", Policy{}},
		{"InstructedAmount missing", ini + "InstructedAmount", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"Amount missing", ini + "InstructedAmount.Amount", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"Amount as a number", ini + "InstructedAmount.Amount", 165.88, obie.CodeFieldInvalid, "", Policy{}},
		{"Amount 14 digits", ini + "InstructedAmount.Amount", "12345678901234", obie.CodeFieldInvalid, "", Policy{}},
		{"Amount 6 decimals", ini + "InstructedAmount.Amount", "1.123456", obie.CodeFieldInvalid, "", Policy{}},
		{"Amount negative", ini + "InstructedAmount.Amount", "-1.00", obie.CodeFieldInvalid, "", Policy{}},
		{"Amount trailing dot", ini + "InstructedAmount.Amount", "1.", obie.CodeFieldInvalid, "", Policy{}},
		{"Amount zero", ini + "InstructedAmount.Amount", "0.00", obie.CodeFieldInvalid, "", Policy{}},
		{"Amount exponent", ini + "InstructedAmount.Amount", "1e3", obie.CodeFieldInvalid, "", Policy{}},
		{"Currency lower case", ini + "InstructedAmount.Currency", "gbp", obie.CodeFieldInvalid, "", Policy{}},
		{"Currency 4 letters", ini + "InstructedAmount.Currency", "GBPX", obie.CodeFieldInvalid, "", Policy{}},
		{"Currency missing", ini + "InstructedAmount.Currency", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"Currency restricted", ini + "InstructedAmount.Currency", "USD", obie.CodeUnsupportedCurrency, "", Policy{Currencies: []string{"GBP"}}},
		{"unknown amount member", ini + "InstructedAmount.Rate", "1", obie.CodeFieldUnexpected, "", Policy{}},
		{"CreditorAccount missing", ini + "CreditorAccount", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"creditor scheme unknown", ini + "CreditorAccount.SchemeName", "UK.OBIE.Bitcoin", obie.CodeUnsupportedScheme, "", Policy{}},
		{"creditor scheme missing", ini + "CreditorAccount.SchemeName", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"sort code 13 digits", ini + "CreditorAccount.Identification", "0808002132569", obie.CodeFieldInvalid, "", Policy{}},
		{"sort code 15 digits", ini + "CreditorAccount.Identification", "080800213256981", obie.CodeFieldInvalid, "", Policy{}},
		{"sort code letters", ini + "CreditorAccount.Identification", "08080021325A98", obie.CodeFieldInvalid, "", Policy{}},
		{"creditor Identification missing", ini + "CreditorAccount.Identification", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"creditor Identification 257", ini + "CreditorAccount.Identification", long(257), obie.CodeFieldInvalid, "", Policy{}},
		{"creditor Name missing", ini + "CreditorAccount.Name", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"creditor Name 351", ini + "CreditorAccount.Name", long(351), obie.CodeFieldInvalid, "", Policy{}},
		{"SecondaryIdentification 35", ini + "CreditorAccount.SecondaryIdentification", long(35), obie.CodeFieldInvalid, "", Policy{}},
		{"unknown creditor member", ini + "CreditorAccount.BIC", "x", obie.CodeFieldUnexpected, "", Policy{}},
		{"debtor scheme unknown", ini + "DebtorAccount.SchemeName", "X", obie.CodeUnsupportedScheme, "", Policy{}},
		{"debtor sort code short", ini + "DebtorAccount.Identification", "1", obie.CodeFieldInvalid, "", Policy{}},
		{"CreditorPostalAddress Country", ini + "CreditorPostalAddress.Country", "GBR", obie.CodeFieldInvalid, "", Policy{}},
		{"CreditorPostalAddress AddressType", ini + "CreditorPostalAddress.AddressType", "Home", obie.CodeFieldInvalid, "", Policy{}},
		{"CreditorPostalAddress 8 lines", ini + "CreditorPostalAddress.AddressLine", []any{"1", "2", "3", "4", "5", "6", "7", "8"}, obie.CodeFieldInvalid, "", Policy{}},
		{"CreditorPostalAddress PostCode 17", ini + "CreditorPostalAddress.PostCode", long(17), obie.CodeFieldInvalid, "", Policy{}},
		{"unknown postal member", ini + "CreditorPostalAddress.Planet", "Earth", obie.CodeFieldUnexpected, "", Policy{}},
		{"Unstructured 141", ini + "RemittanceInformation.Unstructured", long(141), obie.CodeFieldInvalid, "", Policy{}},
		{"Reference 36", ini + "RemittanceInformation.Reference", long(36), obie.CodeFieldInvalid, "", Policy{}},
		{"Reference empty", ini + "RemittanceInformation.Reference", "", obie.CodeFieldInvalid, "", Policy{}},
		{"unknown remittance member", ini + "RemittanceInformation.Ref", "x", obie.CodeFieldUnexpected, "", Policy{}},
		{"SupplementaryData not an object", ini + "SupplementaryData", "x", obie.CodeFieldInvalid, "", Policy{}},
		{"AuthorisationType other", "Data.Authorisation.AuthorisationType", "Many", obie.CodeFieldInvalid, "", Policy{}},
		{"AuthorisationType missing", "Data.Authorisation.AuthorisationType", del{}, obie.CodeFieldMissing, "", Policy{}},
		{"CompletionDateTime past", "Data.Authorisation.CompletionDateTime", "2026-12-02T09:59:59Z", obie.CodeFieldInvalidDate, "", Policy{}},
		{"CompletionDateTime no zone", "Data.Authorisation.CompletionDateTime", "2026-12-03T10:00:00", obie.CodeFieldInvalid, "", Policy{}},
		{"unknown Authorisation member", "Data.Authorisation.By", "x", obie.CodeFieldUnexpected, "", Policy{}},
		{"SCA exemption other", "Data.SCASupportData.RequestedSCAExemptionType", "Whim", obie.CodeFieldInvalid, "", Policy{}},
		{"SCA approach other", "Data.SCASupportData.AppliedAuthenticationApproach", "None", obie.CodeFieldInvalid, "", Policy{}},
		{"unknown SCA member", "Data.SCASupportData.X", "x", obie.CodeFieldUnexpected, "", Policy{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := mutate(t, sampleConsent, tc.path, tc.value)
			_, err := ParseDomesticConsent(body, now, tc.pol)
			items := problems(err)
			want := tc.at
			if want == "" {
				want = tc.path
			}
			if len(items) != 1 || items[0].ErrorCode != tc.code || items[0].Path != want {
				t.Fatalf("got %+v (%v), want one %s at %s", items, err, tc.code, want)
			}
			var oe *obie.Error
			if errors.As(err, &oe); oe.Status != http.StatusBadRequest {
				t.Fatalf("status %d", oe.Status)
			}
		})
	}
}

func TestAccountSchemes(t *testing.T) {
	for _, tc := range []struct {
		scheme, id string
		ok         bool
	}{
		{SchemeSortCodeAccountNumber, "08080021325698", true},
		{SchemeIBAN, "GB29NWBK60161331926819", true},
		{SchemeIBAN, "DE89370400440532013000", true},
		{SchemeIBAN, "GB28NWBK60161331926819", false}, // checksum
		{SchemeIBAN, "gb29nwbk60161331926819", false},
		{SchemeIBAN, "GB29NWBK6016", false},
		{SchemeBBAN, "NWBK60161331926819", true},
		{SchemeBBAN, "NWBK-6016", false},
		{SchemeBBAN, strings.Repeat("1", 31), false},
		{SchemePAN, "5409050000000000", true},
		{SchemePAN, "5409 0500 0000 0000", false},
		{SchemePAN, "12345678901", false},
	} {
		body := mutate(t, sampleConsent, "Data.Initiation.CreditorAccount", map[string]any{"SchemeName": tc.scheme, "Identification": tc.id, "Name": "n"})
		_, err := ParseDomesticConsent(body, now, Policy{})
		items := problems(err)
		if tc.ok != (err == nil) {
			t.Errorf("%s %q: %v", tc.scheme, tc.id, err)
		} else if !tc.ok && (len(items) != 1 || items[0].Path != "Data.Initiation.CreditorAccount.Identification" || items[0].ErrorCode != obie.CodeFieldInvalid) {
			t.Errorf("%s %q: %+v", tc.scheme, tc.id, items)
		}
	}
}

func TestParseDomesticConsentFormat(t *testing.T) {
	for _, body := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"Data":{}} {}`, `{"Data":{},"Data":{}}`,
		`{"Data":{"Initiation":{"InstructionIdentification":"a","InstructionIdentification":"b"}},"Risk":{}}`,
		`{"Risk":{"a":1,"\u0061":2},"Data":{}}`,
		strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40),
	} {
		_, err := ParseDomesticConsent([]byte(body), now, Policy{})
		items := problems(err)
		if len(items) != 1 || items[0].ErrorCode != obie.CodeInvalidFormat {
			t.Errorf("%.60q: %+v", body, items)
		}
	}
	// Every problem is reported, in a stable order.
	body := `{"Data":{"Initiation":{"InstructedAmount":{"Amount":"x","Currency":"GBP"},"CreditorAccount":{"SchemeName":"UK.OBIE.PAN","Identification":"1","Name":"n"}}},"Zed":1}`
	_, err := ParseDomesticConsent([]byte(body), now, Policy{})
	var got []string
	for _, it := range problems(err) {
		got = append(got, it.ErrorCode+"@"+it.Path)
	}
	want := []string{
		"UK.OBIE.Field.Unexpected@Zed",
		"UK.OBIE.Field.Missing@Risk",
		"UK.OBIE.Field.Missing@Data.Initiation.InstructionIdentification",
		"UK.OBIE.Field.Missing@Data.Initiation.EndToEndIdentification",
		"UK.OBIE.Field.Invalid@Data.Initiation.InstructedAmount.Amount",
		"UK.OBIE.Field.Invalid@Data.Initiation.CreditorAccount.Identification",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
