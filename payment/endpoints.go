package payment

import "strings"

// The payment-side API prefixes (UK OB v3.1).
const (
	PISPPrefix  = "/open-banking/v3.1/pisp"
	CBPIIPrefix = "/open-banking/v3.1/cbpii"
)

// EndpointKind is one payment-side endpoint the gate guards (the consent resources the
// gateway serves itself are not among them).
type EndpointKind uint8

const (
	// DomesticPayments is POST /pisp/domestic-payments, with a CIBA token of the consent.
	DomesticPayments EndpointKind = iota + 1
	// DomesticPayment is GET /pisp/domestic-payments/{DomesticPaymentId}, with the
	// client-credentials token of the client that made it.
	DomesticPayment
	// PaymentDetails is GET /pisp/domestic-payments/{DomesticPaymentId}/payment-details.
	PaymentDetails
	// ConsentFunds is GET /pisp/domestic-payment-consents/{ConsentId}/funds-confirmation,
	// with a CIBA token of that consent.
	ConsentFunds
	// FundsConfirmations is POST /cbpii/funds-confirmations, with a CIBA token of a funds
	// consent.
	FundsConfirmations
)

// Endpoint is a payment-side endpoint a request path names, with its path parameter.
type Endpoint struct {
	Kind EndpointKind
	// ID is the DomesticPaymentId or ConsentId of the path; "" for the collections.
	ID string
}

// Method is the one method the endpoint has.
func (e Endpoint) Method() string {
	if e.Kind == DomesticPayments || e.Kind == FundsConfirmations {
		return "POST"
	}
	return "GET"
}

// Scope is the scope the endpoint's token needs.
func (e Endpoint) Scope() string {
	if e.Kind == FundsConfirmations {
		return "fundsconfirmations"
	}
	return "payments"
}

// Name is the endpoint's template, for logs and idempotency records.
func (e Endpoint) Name() string {
	switch e.Kind {
	case DomesticPayments:
		return PISPPrefix + "/domestic-payments"
	case DomesticPayment:
		return PISPPrefix + "/domestic-payments/{DomesticPaymentId}"
	case PaymentDetails:
		return PISPPrefix + "/domestic-payments/{DomesticPaymentId}/payment-details"
	case ConsentFunds:
		return PISPPrefix + "/domestic-payment-consents/{ConsentId}/funds-confirmation"
	case FundsConfirmations:
		return CBPIIPrefix + "/funds-confirmations"
	}
	return ""
}

// IsPaymentPath tells whether path is under the PISP or CBPII prefix, where MatchEndpoint
// decides (a path there it does not match is no endpoint of the gate).
func IsPaymentPath(path string) bool {
	return strings.HasPrefix(path, PISPPrefix+"/") || strings.HasPrefix(path, CBPIIPrefix+"/")
}

// MatchEndpoint finds the payment-side endpoint of a request path as it travels (escaped);
// ok is false for any other path. As for the account endpoints, a path parameter is an
// OB id (1 to 40 of A-Z a-z 0-9 - . _ ~, not dots only) and nothing in the path can be
// decoded or resolved by the bank into another resource: no percent sign, backslash,
// semicolon, empty or dot segment, no trailing slash.
func MatchEndpoint(path string) (Endpoint, bool) {
	if rest, ok := strings.CutPrefix(path, CBPIIPrefix+"/"); ok {
		return Endpoint{Kind: FundsConfirmations}, rest == "funds-confirmations"
	}
	rest, ok := strings.CutPrefix(path, PISPPrefix+"/")
	if !ok {
		return Endpoint{}, false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1 && parts[0] == "domestic-payments":
		return Endpoint{Kind: DomesticPayments}, true
	case len(parts) == 2 && parts[0] == "domestic-payments" && IsOBID(parts[1]):
		return Endpoint{Kind: DomesticPayment, ID: parts[1]}, true
	case len(parts) == 3 && parts[0] == "domestic-payments" && IsOBID(parts[1]) && parts[2] == "payment-details":
		return Endpoint{Kind: PaymentDetails, ID: parts[1]}, true
	case len(parts) == 3 && parts[0] == "domestic-payment-consents" && IsOBID(parts[1]) && parts[2] == "funds-confirmation":
		return Endpoint{Kind: ConsentFunds, ID: parts[1]}, true
	}
	return Endpoint{}, false
}

// IsOBID tells whether s is an OB id that is safe in a path: 1 to 40 unreserved
// characters (RFC 3986), not dots only (a dot segment to some servers).
func IsOBID(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '~':
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return dots != len(s)
}
