package op

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/obsig"
	"github.com/caddyciba/gateway/internal/token"
	"github.com/caddyciba/gateway/payment"
)

// The gate of the payment APIs (UK OB v3.1 PISP and CBPII), beside Admit, which keeps the
// account APIs' fast path to itself: a request the account table does not know
// (PathUnknown) comes here when its path is under the PISP or CBPII prefix.
//
// What it admits: POST /pisp/domestic-payments and POST /cbpii/funds-confirmations with a
// CIBA token of the consent (x-jws-signature verified for a client that signs, the body
// checked against the consent), GET …/domestic-payment-consents/{ConsentId}/funds-confirmation
// with a CIBA token of that consent, GET /pisp/domestic-payments/{id}[/payment-details] with
// a client-credentials token of the client that made the payment. Every answer of these
// endpoints — the bank's and the gate's own — is signed with SignAnswer.

// MessageSigning is the x-jws-signature setup of the payment APIs (UK OB message signing).
type MessageSigning struct {
	// Issuer is the http://openbanking.org.uk/iss of the gateway's signatures.
	Issuer string
	// TrustAnchor is the tan of the gateway's signatures and the one the clients' must
	// carry; "" is obsig.DefaultTrustAnchor.
	TrustAnchor string
	// Form is the serialisation of the API version served.
	Form obsig.Form
	// Keys is a PS256 ring; its current signing key signs.
	Keys *keys.Keyring
}

// SignAnswer sets the x-jws-signature of an answer of the payment APIs over its body, as
// it will be written. Without a PS256 ring it signs nothing and says so.
func (p *Provider) SignAnswer(h http.Header, body []byte) error {
	ms := p.MessageSigning
	if ms.Keys == nil {
		return errors.New("op: no PS256 key to sign the payment APIs' answers")
	}
	return obsig.SignResponse(h, body, ms.Keys.SigningKey(), obsig.Claims{Issuer: ms.Issuer, TrustAnchor: ms.TrustAnchor, Form: ms.Form, IssuedAt: p.Now()})
}

// PathUnknown tells whether the refusal is Admit's 404 of a path that is no account
// information endpoint: the payment gate's turn when the path is one of its prefixes.
func PathUnknown(refusal *obie.Error) bool { return refusal == refuseNotFound }

// PaymentAdmission is what an admitted request of the payment APIs may do.
type PaymentAdmission struct {
	Endpoint payment.Endpoint
	Token    *token.Access
	Client   *clients.Client
	// Domestic is the payment consent of a CIBA token of the PISP endpoints; Funds the
	// funds consent of one of POST /funds-confirmations. Payment is the record of the
	// payment a client-credentials token reads.
	Domestic *payment.Consent
	Funds    *payment.FundsConsent
	Payment  *payment.PaymentRecord
	// Body is a POST's body exactly as sent (the signature covers these bytes).
	Body []byte
}

// Identity is what the bank is told of the request: the user, the consent and the
// accounts it may touch (the debtor account), comma-separated.
func (a *PaymentAdmission) Identity() (subject, consentID, accounts string) {
	switch {
	case a.Domestic != nil:
		return a.Domestic.Subject, a.Domestic.ID, a.Domestic.DebtorAccountID
	case a.Funds != nil:
		return a.Funds.Subject, a.Funds.ID, a.Funds.AccountID
	case a.Payment != nil:
		return "", a.Payment.ConsentID, ""
	}
	return "", "", ""
}

var (
	refusePaymentPath = obie.New(http.StatusNotFound, "No such payment endpoint", obie.Item{ErrorCode: obie.CodeResourceNotFound, Message: "the path is not a v3.1 payment or funds confirmation endpoint the gateway guards"})
	refuseMediaType   = obie.New(http.StatusUnsupportedMediaType, "The body must be application/json", obie.Item{ErrorCode: obie.CodeHeaderInvalid, Message: "Content-Type must be application/json", Path: "Content-Type"})
	refuseBodySize    = obie.New(http.StatusBadRequest, "The body could not be read", obie.Item{ErrorCode: obie.CodeInvalidFormat, Message: "the body is too large or was cut short"})
	refuseStore       = obie.New(http.StatusInternalServerError, "Unexpected error", obie.Item{ErrorCode: obie.CodeUnexpectedError, Message: "the grant could not be read"})
	refuseNotTheirs   = forbidden("The payment is not this client's", obie.CodeResourceNotFound,
		"no payment made by this client has this DomesticPaymentId", "DomesticPaymentId")
)

func refusePaymentMethod(allow string) *obie.Error {
	return obie.MethodNotAllowed(allow, obie.Item{ErrorCode: obie.CodeFieldUnexpected, Message: "the endpoint answers " + allow + " only"})
}

// AdmitPayment decides a request to the payment APIs, in this order: the endpoint and its
// method (404, 405; a body on a GET 400); the token (401 as at the account APIs; 403 for
// one of another grant or without the endpoint's scope); its grant (the client registered,
// the user not disabled, the consent this client's and in a status that allows the
// endpoint); the body (application/json, at most payment.MaxBodyBytes); the
// x-jws-signature of a client that signs (every client in fapi mode); the body against
// the consent (payment.Compare: 400 ConsentMismatch with the Path;
// payment.CheckFundsConfirmation). Nothing refused reaches the bank.
func (p *Provider) AdmitPayment(r *http.Request) (*PaymentAdmission, *obie.Error) {
	path := r.URL.EscapedPath()
	ep, ok := payment.MatchEndpoint(path)
	switch {
	case !ok || path != r.URL.Path || r.URL.Opaque != "":
		return nil, refusePaymentPath
	case r.Method != ep.Method():
		return nil, refusePaymentMethod(ep.Method())
	case ep.Method() == http.MethodGet && hasBody(r):
		return nil, refuseBody
	}
	adm := &PaymentAdmission{Endpoint: ep}
	rec, refusal := p.paymentToken(r, ep)
	if refusal != nil {
		return nil, refusal
	}
	adm.Token = rec
	now := p.Now()
	if adm.Client, refusal = p.paymentParties(rec); refusal != nil {
		return nil, refusal
	}
	if refusal = p.paymentGrant(adm, now); refusal != nil {
		return nil, refusal
	}
	if ep.Method() == http.MethodGet {
		if signs(adm.Client, p.FAPI) {
			// A GET is never signed (UK OB message signing).
			if refusal = p.verifySignature(r, nil, adm.Client, obsig.Refused, now); refusal != nil {
				return nil, refusal
			}
		}
		return adm, nil
	}
	if adm.Body, refusal = readPaymentBody(r); refusal != nil {
		return nil, refusal
	}
	expect := obsig.Unchecked
	if signs(adm.Client, p.FAPI) {
		expect = obsig.Required
	}
	if refusal = p.verifySignature(r, adm.Body, adm.Client, expect, now); refusal != nil {
		return nil, refusal
	}
	switch ep.Kind {
	case payment.DomesticPayments:
		if at, same := payment.Compare(adm.Domestic, adm.Body); !same {
			return nil, payment.Mismatch(at)
		}
	case payment.FundsConfirmations:
		if _, err := payment.CheckFundsConfirmation(adm.Funds, adm.Body, now); err != nil {
			if e := payment.Problem(err); e != nil {
				return nil, e
			}
			return nil, refuseStore
		}
	}
	return adm, nil
}

// signs tells whether the client's payment POSTs carry an x-jws-signature to verify.
func signs(c *clients.Client, fapi bool) bool { return fapi || c.JWSSignature }

// paymentToken reads the Authorization header's token and holds it to the endpoint: live,
// over its bound certificate, of the grant the endpoint needs (CIBA of a consent of the
// right kind, or client credentials for reading a payment) with its scope.
func (p *Provider) paymentToken(r *http.Request, ep payment.Endpoint) (*token.Access, *obie.Error) {
	tok, ok := BearerToken(r)
	if !ok {
		return nil, p.refuseToken("")
	}
	held, err := p.accessRecords.Get(p.Store, token.AccessKey(tok))
	if err != nil {
		return nil, p.refuseToken(whyUnknown)
	}
	rec := &held.Access
	switch {
	case !rec.Live(p.Now()):
		return nil, p.refuseToken(whyExpired)
	case !rec.PresentedOver(r.TLS):
		return nil, p.refuseToken(whyCertificate)
	}
	var fits bool
	var need string
	switch ep.Kind {
	case payment.DomesticPayment, payment.PaymentDetails:
		fits, need = rec.Grant == token.ClientCredentials, "a client-credentials token of scope payments"
	case payment.FundsConfirmations:
		fits, need = rec.Grant == token.CIBA && payment.IsFundsID(rec.ConsentID), "a token of the CIBA grant for an authorised funds confirmation consent"
	default:
		fits, need = rec.Grant == token.CIBA && payment.IsDomesticID(rec.ConsentID), "a token of the CIBA grant for an authorised domestic payment consent"
	}
	if !fits || !slices.Contains(strings.Fields(rec.Scope), ep.Scope()) {
		f := forbidden("The token cannot be used here", obie.CodeHeaderInvalid, need+" is required", "Authorization")
		f.Challenge = challenge(p.Issuer, "insufficient_scope", "the endpoint needs "+need)
		return nil, f
	}
	return rec, nil
}

// paymentParties is the first half of judgeGrant for the payment tokens: the client is
// still registered and, for a user's token, the user is known and not disabled.
func (p *Provider) paymentParties(rec *token.Access) (*clients.Client, *obie.Error) {
	c := p.Clients.Lookup(rec.ClientID)
	if c == nil {
		return nil, p.refuseToken(whyClient)
	}
	if rec.Grant == token.CIBA {
		if u := p.Users.BySubject(rec.Subject); u == nil || u.Disabled {
			return nil, p.refuseToken(whyUser)
		}
	}
	return c, nil
}

// paymentGrant is the second half: the consent (or the payment) the token stands for,
// read afresh, is this client's and in a status that allows the endpoint. A deleted
// consent ends its tokens (401), as does an expired funds consent; one in another status
// is 403. A payment consent already Consumed still admits POST /domestic-payments, so
// that a repeat of the payment answers the first answer (idempotency) and any other
// payment is refused by the reservation with InvalidConsentStatus.
func (p *Provider) paymentGrant(adm *PaymentAdmission, now time.Time) *obie.Error {
	rec, ep := adm.Token, adm.Endpoint
	repo := p.paymentRepo()
	switch ep.Kind {
	case payment.DomesticPayment, payment.PaymentDetails:
		pay, err := payment.ReadPayment(p.Store, ep.ID)
		switch {
		case errors.Is(err, payment.ErrNotFound):
			return refuseNotTheirs
		case err != nil:
			return refuseStore
		case pay.ClientID != rec.ClientID:
			return refuseNotTheirs
		}
		adm.Payment = pay
		return nil
	case payment.FundsConfirmations:
		f, err := repo.Funds(rec.ConsentID)
		switch {
		case errors.Is(err, payment.ErrNotFound):
			return p.refuseToken(whyConsentGone)
		case err != nil:
			return refuseStore
		case f.Expired(now):
			return p.refuseToken(whyConsentOver)
		case f.ClientID != rec.ClientID || f.Status != payment.Authorised:
			return paymentNotAuthorised(string(f.StatusAt(now)), f.ClientID == rec.ClientID)
		case f.Subject != rec.Subject:
			return forbidden("The consent is not authorised", obie.CodeInvalidConsent,
				"the consent was authorised by another user", "ConsentId")
		}
		adm.Funds = f
		return nil
	}
	c, err := repo.Domestic(rec.ConsentID)
	switch {
	case errors.Is(err, payment.ErrNotFound):
		return p.refuseToken(whyConsentGone)
	case err != nil:
		return refuseStore
	case c.ClientID != rec.ClientID:
		return paymentNotAuthorised(string(c.StatusAt(now)), false)
	case ep.Kind == payment.ConsentFunds && ep.ID != c.ID:
		return forbidden("The token is not for this consent", obie.CodeInvalidConsent,
			"the access token was issued for another consent", "ConsentId")
	case ep.Kind == payment.ConsentFunds && !c.Usable(now):
		return paymentNotAuthorised(string(c.StatusAt(now)), true)
	case c.Status != payment.Authorised && c.Status != payment.Consumed:
		return paymentNotAuthorised(string(c.StatusAt(now)), true)
	case c.Subject != rec.Subject:
		return forbidden("The consent is not authorised", obie.CodeInvalidConsent,
			"the consent was authorised by another user", "ConsentId")
	}
	adm.Domestic = c
	return nil
}

func paymentNotAuthorised(status string, clientsOwn bool) *obie.Error {
	detail := "consent status is " + status
	if !clientsOwn {
		detail = "the consent was not granted to this client"
	}
	return forbidden("The consent is not authorised", obie.CodeInvalidConsent, detail, "ConsentId")
}

// readPaymentBody reads a POST's JSON body, at most payment.MaxBodyBytes, as sent.
func readPaymentBody(r *http.Request) ([]byte, *obie.Error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, refuseMediaType
	}
	if r.Body == nil {
		return []byte{}, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, payment.MaxBodyBytes+1))
	if err != nil || len(body) > payment.MaxBodyBytes {
		return nil, refuseBodySize
	}
	return body, nil
}

// verifySignature applies expect to the request's x-jws-signature, against the client's
// JWKS, iss and the trust anchor.
func (p *Provider) verifySignature(r *http.Request, body []byte, c *clients.Client, expect obsig.Expect, now time.Time) *obie.Error {
	iss := c.JWSIssuer
	if iss == "" {
		iss = c.ID
	}
	err := obsig.VerifyRequest(r.Header, body, c.JWKS, expect,
		obsig.Options{Issuer: iss, TrustAnchor: p.MessageSigning.TrustAnchor, Form: p.MessageSigning.Form, Now: now})
	if err == nil {
		return nil
	}
	var e *obsig.Error
	if !errors.As(err, &e) {
		return refuseStore
	}
	return obie.New(http.StatusBadRequest, "The request's x-jws-signature is refused.", e.Item())
}
