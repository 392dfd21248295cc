package payment

import (
	"encoding/json"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
)

// MaxBodyBytes bounds a payment, consent or funds-confirmation body.
const MaxBodyBytes = 32 << 10

// Account is an OBCashAccount (debtor or creditor).
type Account struct {
	SchemeName              string `json:"SchemeName"`
	Identification          string `json:"Identification"`
	Name                    string `json:"Name,omitempty"`
	SecondaryIdentification string `json:"SecondaryIdentification,omitempty"`
}

// Same tells whether a and b name the same account (scheme and identification; the
// name is what the TPP calls it).
func (a *Account) Same(b *Account) bool {
	return a != nil && b != nil && a.SchemeName == b.SchemeName &&
		strings.EqualFold(strings.ReplaceAll(a.Identification, " ", ""), strings.ReplaceAll(b.Identification, " ", ""))
}

// Amount is an OBActiveOrHistoricCurrencyAndAmount: the digits as sent and the currency.
type Amount struct {
	Amount   string `json:"Amount"`
	Currency string `json:"Currency"`
}

// Remittance is OBRemittanceInformation1.
type Remittance struct {
	Unstructured string `json:"Unstructured,omitempty"`
	Reference    string `json:"Reference,omitempty"`
}

// Initiation is the part of an OBDomestic2 the gateway itself reads (the device view,
// the debtor choice). The consent keeps the whole Initiation as canonical JSON.
type Initiation struct {
	InstructionIdentification string      `json:"InstructionIdentification"`
	EndToEndIdentification    string      `json:"EndToEndIdentification"`
	LocalInstrument           string      `json:"LocalInstrument,omitempty"`
	InstructedAmount          Amount      `json:"InstructedAmount"`
	DebtorAccount             *Account    `json:"DebtorAccount,omitempty"`
	CreditorAccount           Account     `json:"CreditorAccount"`
	RemittanceInformation     *Remittance `json:"RemittanceInformation,omitempty"`
}

// Authorisation is the consent's Data.Authorisation.
type Authorisation struct {
	AuthorisationType string `json:"AuthorisationType"`
	// CompletionDateTime as the TPP wrote it, and parsed; zero when absent.
	CompletionDateTime string    `json:"CompletionDateTime,omitempty"`
	Completion         time.Time `json:"completion,omitzero"`
}

// DomesticConsentRequest is a validated OBWriteDomesticConsent body.
type DomesticConsentRequest struct {
	Initiation Initiation
	// InitiationJSON and RiskJSON are the Initiation and Risk as canonical JSON: what a
	// payment must equal.
	InitiationJSON    json.RawMessage
	RiskJSON          json.RawMessage
	Authorisation     *Authorisation
	SCASupportData    json.RawMessage
	ReadRefundAccount string
}

// Policy is what the bank decides about the payment consents it takes.
type Policy struct {
	// Currencies are the InstructedAmount currencies accepted; empty accepts any code of
	// ISO 4217's shape (the bank refuses what it cannot pay).
	Currencies []string
	// CutOff is how long after its creation a payment consent may be authorised and paid:
	// its CutOffDateTime. Default DefaultCutOff.
	CutOff time.Duration
}

// DefaultCutOff is the default life of a payment consent.
const DefaultCutOff = 24 * time.Hour

func (p Policy) cutOff() time.Duration {
	if p.CutOff <= 0 {
		return DefaultCutOff
	}
	return p.CutOff
}

// LocalInstruments are the OBExternalLocalInstrument1Code values accepted.
var LocalInstruments = []string{
	"UK.OBIE.BACS", "UK.OBIE.BalanceTransfer", "UK.OBIE.CHAPS", "UK.OBIE.Euro1", "UK.OBIE.FPS",
	"UK.OBIE.Link", "UK.OBIE.MoneyTransfer", "UK.OBIE.Paym", "UK.OBIE.SEPACreditTransfer",
	"UK.OBIE.SEPAInstantCreditTransfer", "UK.OBIE.SWIFT", "UK.OBIE.Target2",
}

// Account schemes (OBExternalAccountIdentification4Code) and the format of each.
const (
	SchemeSortCodeAccountNumber = "UK.OBIE.SortCodeAccountNumber"
	SchemeIBAN                  = "UK.OBIE.IBAN"
	SchemeBBAN                  = "UK.OBIE.BBAN"
	SchemePAN                   = "UK.OBIE.PAN"
)

var (
	reAmount   = regexp.MustCompile(`^\d{1,13}$|^\d{1,13}\.\d{1,5}$`)
	reCurrency = regexp.MustCompile(`^[A-Z]{3,3}$`)
	reSortCode = regexp.MustCompile(`^\d{14}$`)
	reIBAN     = regexp.MustCompile(`^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$`)
	reBBAN     = regexp.MustCompile(`^[A-Z0-9]{1,30}$`)
	rePAN      = regexp.MustCompile(`^\d{12,19}$`)
	reCountry  = regexp.MustCompile(`^[A-Z]{2,2}$`)
)

const consentMessage = "The payment consent request is invalid"

// ParseDomesticConsent decodes and validates an OBWriteDomesticConsent body at now under
// the policy. Every problem is reported, each with its code and Path; the error is an
// *obie.Error (400).
func ParseDomesticConsent(body []byte, now time.Time, pol Policy) (*DomesticConsentRequest, error) {
	top, err := topObject(body, consentMessage)
	if err != nil {
		return nil, err
	}
	c := &checker{}
	c.only(top, "", "Data", "Risk")
	req := &DomesticConsentRequest{}
	if risk := c.object(top, "Risk", "", true); risk != nil {
		req.RiskJSON = canonical(risk)
	}
	data := c.object(top, "Data", "", true)
	if data != nil {
		c.only(data, "Data", "Initiation", "Authorisation", "SCASupportData", "ReadRefundAccount")
		req.ReadRefundAccount = c.oneOf(data, "ReadRefundAccount", "Data", false, "Yes", "No")
		if ini := c.object(data, "Initiation", "Data", true); ini != nil {
			req.Initiation = c.initiation(ini, "Data.Initiation", pol)
			req.InitiationJSON = canonical(ini)
		}
		if a := c.object(data, "Authorisation", "Data", false); a != nil {
			req.Authorisation = c.authorisation(a, "Data.Authorisation", now)
		}
		if sca := c.object(data, "SCASupportData", "Data", false); sca != nil {
			c.scaSupport(sca, "Data.SCASupportData")
			req.SCASupportData = canonical(sca)
		}
	}
	if err := c.err(consentMessage); err != nil {
		return nil, err
	}
	return req, nil
}

func (c *checker) initiation(ini map[string]any, path string, pol Policy) Initiation {
	c.only(ini, path, "InstructionIdentification", "EndToEndIdentification", "LocalInstrument",
		"InstructedAmount", "DebtorAccount", "CreditorAccount", "CreditorPostalAddress",
		"RemittanceInformation", "SupplementaryData")
	var out Initiation
	out.InstructionIdentification = c.text(ini, "InstructionIdentification", path, 1, 35, true)
	out.EndToEndIdentification = c.text(ini, "EndToEndIdentification", path, 1, 35, true)
	if li := c.text(ini, "LocalInstrument", path, 1, 50, false); li != "" {
		if !slices.Contains(LocalInstruments, li) {
			c.add(obie.CodeUnsupportedLocalInstrument, join(path, "LocalInstrument"), "the local instrument is not supported")
		} else {
			out.LocalInstrument = li
		}
	}
	if amt := c.object(ini, "InstructedAmount", path, true); amt != nil {
		out.InstructedAmount = c.amount(amt, join(path, "InstructedAmount"), pol)
	}
	if acc := c.object(ini, "DebtorAccount", path, false); acc != nil {
		out.DebtorAccount = c.account(acc, join(path, "DebtorAccount"), false)
	}
	if acc := c.object(ini, "CreditorAccount", path, true); acc != nil {
		if a := c.account(acc, join(path, "CreditorAccount"), true); a != nil {
			out.CreditorAccount = *a
		}
	}
	if addr := c.object(ini, "CreditorPostalAddress", path, false); addr != nil {
		c.postalAddress(addr, join(path, "CreditorPostalAddress"))
	}
	if rem := c.object(ini, "RemittanceInformation", path, false); rem != nil {
		p := join(path, "RemittanceInformation")
		c.only(rem, p, "Unstructured", "Reference")
		out.RemittanceInformation = &Remittance{
			Unstructured: c.text(rem, "Unstructured", p, 1, 140, false),
			Reference:    c.text(rem, "Reference", p, 1, 35, false),
		}
	}
	c.object(ini, "SupplementaryData", path, false) // any object
	return out
}

// amount checks an InstructedAmount: the OB pattern, more than zero, the currency's shape
// and the policy's currencies.
func (c *checker) amount(amt map[string]any, path string, pol Policy) Amount {
	c.only(amt, path, "Amount", "Currency")
	out := Amount{
		Amount:   c.matching(amt, "Amount", path, reAmount, true),
		Currency: c.matching(amt, "Currency", path, reCurrency, true),
	}
	if out.Amount != "" && strings.Trim(out.Amount, "0.") == "" {
		c.add(obie.CodeFieldInvalid, join(path, "Amount"), "Amount must be more than zero")
	}
	if out.Currency != "" && len(pol.Currencies) > 0 && !slices.Contains(pol.Currencies, out.Currency) {
		c.add(obie.CodeUnsupportedCurrency, join(path, "Currency"), "the currency is not supported")
	}
	return out
}

// account checks an OBCashAccount: a supported scheme, the identification's format for
// it, and the lengths. A creditor account must carry a Name.
func (c *checker) account(acc map[string]any, path string, creditor bool) *Account {
	c.only(acc, path, "SchemeName", "Identification", "Name", "SecondaryIdentification")
	out := &Account{
		SchemeName:              c.text(acc, "SchemeName", path, 1, 40, true),
		Identification:          c.text(acc, "Identification", path, 1, 256, true),
		Name:                    c.text(acc, "Name", path, 1, 350, creditor),
		SecondaryIdentification: c.text(acc, "SecondaryIdentification", path, 1, 34, false),
	}
	var format *regexp.Regexp
	switch out.SchemeName {
	case "":
	case SchemeSortCodeAccountNumber:
		format = reSortCode
	case SchemeIBAN:
		format = reIBAN
	case SchemeBBAN:
		format = reBBAN
	case SchemePAN:
		format = rePAN
	default:
		c.add(obie.CodeUnsupportedScheme, join(path, "SchemeName"), "the scheme name is not supported")
	}
	if format != nil && out.Identification != "" {
		ok := format.MatchString(out.Identification)
		if ok && out.SchemeName == SchemeIBAN {
			ok = ibanChecksum(out.Identification)
		}
		if !ok {
			c.add(obie.CodeFieldInvalid, join(path, "Identification"), "Identification is not a valid "+out.SchemeName)
		}
	}
	return out
}

// ibanChecksum is the ISO 13616 mod-97 check.
func ibanChecksum(iban string) bool {
	rearranged := iban[4:] + iban[:4]
	var digits strings.Builder
	for _, r := range rearranged {
		if r >= 'A' && r <= 'Z' {
			digits.WriteString(strconv.Itoa(int(r-'A') + 10))
		} else {
			digits.WriteRune(r)
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// postalAddress checks an OBPostalAddress6.
func (c *checker) postalAddress(addr map[string]any, path string) {
	c.only(addr, path, "AddressType", "Department", "SubDepartment", "StreetName", "BuildingNumber",
		"PostCode", "TownName", "CountrySubDivision", "Country", "AddressLine")
	c.oneOf(addr, "AddressType", path, false, "Business", "Correspondence", "DeliveryTo", "MailTo", "POBox", "Postal", "Residential", "Statement")
	for _, f := range []struct {
		key    string
		maxLen int
	}{{"Department", 70}, {"SubDepartment", 70}, {"StreetName", 70}, {"BuildingNumber", 16},
		{"PostCode", 16}, {"TownName", 35}, {"CountrySubDivision", 35}} {
		c.text(addr, f.key, path, 1, f.maxLen, false)
	}
	c.matching(addr, "Country", path, reCountry, false)
	if v, ok := addr["AddressLine"]; ok {
		lines, isArray := v.([]any)
		if !isArray || len(lines) > 7 {
			c.add(obie.CodeFieldInvalid, join(path, "AddressLine"), "AddressLine must be an array of at most 7 lines")
			return
		}
		for _, l := range lines {
			if s, ok := l.(string); !ok || s == "" || len([]rune(s)) > 70 {
				c.add(obie.CodeFieldInvalid, join(path, "AddressLine"), "each AddressLine must be 1 to 70 characters long")
				return
			}
		}
	}
}

// authorisation checks Data.Authorisation; a CompletionDateTime must be in the future and
// no later than the consent's cut-off.
func (c *checker) authorisation(a map[string]any, path string, now time.Time) *Authorisation {
	c.only(a, path, "AuthorisationType", "CompletionDateTime")
	out := &Authorisation{AuthorisationType: c.oneOf(a, "AuthorisationType", path, true, "Any", "Single")}
	out.CompletionDateTime, out.Completion = c.dateTime(a, "CompletionDateTime", path)
	if !out.Completion.IsZero() && !out.Completion.After(now) {
		c.add(obie.CodeFieldInvalidDate, join(path, "CompletionDateTime"), "CompletionDateTime must be in the future")
	}
	return out
}

// scaSupport checks an OBSCASupportData1.
func (c *checker) scaSupport(s map[string]any, path string) {
	c.only(s, path, "RequestedSCAExemptionType", "AppliedAuthenticationApproach", "ReferencePaymentOrderId")
	c.oneOf(s, "RequestedSCAExemptionType", path, false, "BillPayment", "ContactlessTravel", "EcommerceGoods",
		"EcommerceServices", "Kiosk", "Parking", "PartyToParty")
	c.oneOf(s, "AppliedAuthenticationApproach", path, false, "CA", "SCA")
	c.text(s, "ReferencePaymentOrderId", path, 1, 128, false)
}
