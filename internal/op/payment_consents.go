package op

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/payment"
)

// Paths of the payment-side consent resources the gateway serves itself.
const (
	PathPISP            = "/open-banking/v3.1/pisp"
	PathCBPII           = "/open-banking/v3.1/cbpii"
	PathPaymentConsents = PathPISP + "/domestic-payment-consents"
	PathFundsConsents   = PathCBPII + "/funds-confirmation-consents"
)

// Scopes a client-credentials token needs for them.
const (
	paymentsScope = "payments"
	fundsScope    = "fundsconfirmations"
)

// repeatWait bounds how long a repeat waits for the first request with its key.
const repeatWait = 10 * time.Second

// IdempotencyHeader is the UK OB x-idempotency-key.
const IdempotencyHeader = "X-Idempotency-Key"

// ConsentResource tells whether path is the collection or one consent of it (not a
// sub-resource such as …/{ConsentId}/funds-confirmation, which the gate serves), and
// the ConsentId.
func ConsentResource(path, collection string) (id string, one, ok bool) {
	if path == collection {
		return "", false, true
	}
	id, found := strings.CutPrefix(path, collection+"/")
	if !found || strings.Contains(id, "/") {
		return "", false, false
	}
	return id, true, true
}

func (p *Provider) paymentRepo() *payment.Repo { return &payment.Repo{Store: p.Store} }

// ServePaymentConsents answers POST on the domestic-payment-consents collection and GET
// on a consent, for the TPP with a client-credentials token of scope payments.
func (p *Provider) ServePaymentConsents(w http.ResponseWriter, r *http.Request) {
	p.serveConsentResource(w, r, PathPaymentConsents, p.paymentConsents)
}

// serveConsentResource answers a call on a payment-side consent collection (or one
// consent in it) with serve, its answer signed and a failure written once.
func (p *Provider) serveConsentResource(w http.ResponseWriter, r *http.Request, collection string,
	serve func(w http.ResponseWriter, r *http.Request, id string, one bool) error) {
	id, one, ok := ConsentResource(r.URL.Path, collection)
	if !ok {
		http.NotFound(w, r)
		return
	}
	p.serveSigned(w, r, func(w http.ResponseWriter, r *http.Request) {
		if err := serve(w, r, id, one); err != nil {
			p.logFailure(r.Context(), collection, err)
			obie.WriteError(w, err)
		}
	})
}

// paymentConsents answers the call, or returns the error ServePaymentConsents answers.
func (p *Provider) paymentConsents(w http.ResponseWriter, r *http.Request, id string, one bool) error {
	allowed := []string{http.MethodPost}
	if one {
		allowed = []string{http.MethodGet}
	}
	clientID, err := p.resourceCaller(r, allowed, paymentsScope)
	if err != nil {
		return err
	}
	if r.Method == http.MethodGet {
		c, err := p.paymentRepo().DomesticFor(clientID, id)
		if err != nil {
			return paymentError(err)
		}
		writeJSONBytes(w, http.StatusOK, p.paymentConsentBody(c))
		return nil
	}
	body, err := readResourceBody(w, r, payment.MaxBodyBytes)
	if err != nil {
		return err
	}
	if err := p.consentSignature(r, clientID, body); err != nil {
		return err
	}
	now := p.Now()
	req, err := payment.ParseDomesticConsent(body, now, p.Payments)
	if err != nil {
		return paymentError(err)
	}
	key := payment.IdempotencyKey{Endpoint: PathPaymentConsents, ClientID: clientID, Key: r.Header.Get(IdempotencyHeader)}
	if key.Key == "" {
		return obie.New(http.StatusBadRequest, "x-idempotency-key is required",
			obie.Item{ErrorCode: obie.CodeHeaderMissing, Message: "a payment consent is created with an x-idempotency-key", Path: "x-idempotency-key"})
	}
	c := payment.NewDomestic(clientID, req, now, p.Payments)
	return p.createOnce(w, r, key, body, payment.Answer{Status: http.StatusCreated, Body: p.paymentConsentBody(c), Resource: c.ID},
		func(t store.Txn) error { return payment.SaveDomesticIn(t, c, now) })
}

// resourceCaller checks the method and Accept header and authenticates the TPP's
// client-credentials token of the scope.
func (p *Provider) resourceCaller(r *http.Request, allowed []string, scope string) (string, error) {
	if !slices.Contains(allowed, r.Method) {
		list := strings.Join(allowed, ", ")
		return "", obie.MethodNotAllowed(list, obie.Item{ErrorCode: obie.CodeHeaderInvalid, Message: "use " + list})
	}
	if !acceptsJSON(r) {
		return "", obie.New(http.StatusNotAcceptable, "Only application/json is offered",
			obie.Item{ErrorCode: obie.CodeHeaderInvalid, Message: "Accept must allow application/json", Path: "Accept"})
	}
	return p.clientCaller(r, scope)
}

// readResourceBody reads a JSON request body of at most limit bytes.
func readResourceBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, obie.New(http.StatusUnsupportedMediaType, "The body must be application/json",
			obie.Item{ErrorCode: obie.CodeHeaderInvalid, Message: "Content-Type must be application/json", Path: "Content-Type"})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, obie.New(http.StatusBadRequest, "The body could not be read",
			obie.Item{ErrorCode: obie.CodeInvalidFormat, Message: "the body is too large or was cut short"})
	}
	return body, nil
}

// createOnce makes a resource under an idempotency key: the first request with the key
// stores the resource (save) and its answer in one transaction and answers it; a repeat
// with the same body answers the first answer and makes nothing; racing repeats wait
// for it and get the first answer too (409 only past repeatWait). An empty key (allowed
// by the endpoint) creates without a record.
func (p *Provider) createOnce(w http.ResponseWriter, r *http.Request, key payment.IdempotencyKey, body []byte, answer payment.Answer, save func(store.Txn) error) error {
	repo := p.paymentRepo()
	now := p.Now()
	if key.Key != "" {
		ctx, cancel := context.WithTimeout(r.Context(), repeatWait)
		first, err := repo.ClaimOrWait(ctx, key, body, p.Now)
		cancel()
		if err != nil {
			return paymentError(err)
		}
		if first != nil {
			p.logOutcome(r.Context(), zapcore.InfoLevel, "consent_create", key.ClientID, first.Resource, "repeat")
			writeJSONBytes(w, first.Status, first.Body)
			return nil
		}
	}
	err := p.Store.Update(func(t store.Txn) error {
		if err := save(t); err != nil {
			return err
		}
		if key.Key == "" {
			return nil
		}
		return payment.CompleteIn(t, key, answer, now)
	})
	if err != nil {
		if key.Key != "" {
			_ = repo.Abandon(key)
		}
		err = obie.Unexpected("the consent could not be stored", err)
		p.logStep(r.Context(), "consent_create", key.ClientID, answer.Resource, err)
		return err
	}
	p.logStep(r.Context(), "consent_create", key.ClientID, answer.Resource, nil)
	consentTransitions.WithLabelValues(string(payment.AwaitingAuthorisation)).Inc()
	writeJSONBytes(w, answer.Status, answer.Body)
	return nil
}

// paymentError is the answer to an error of the payment package: its own, or a 500 that
// keeps it as the cause.
func paymentError(err error) error {
	if pe := payment.Problem(err); pe != nil {
		return pe
	}
	return obie.Unexpected("the request could not be completed", err)
}

func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// paymentConsentResponse is an OBWriteDomesticConsentResponse5.
type paymentConsentResponse struct {
	Data  paymentConsentData `json:"Data"`
	Risk  json.RawMessage    `json:"Risk"`
	Links struct {
		Self string `json:"Self"`
	} `json:"Links"`
	Meta struct{} `json:"Meta"`
}

type paymentConsentData struct {
	ConsentID            string                 `json:"ConsentId"`
	CreationDateTime     string                 `json:"CreationDateTime"`
	Status               payment.Status         `json:"Status"`
	StatusUpdateDateTime string                 `json:"StatusUpdateDateTime"`
	CutOffDateTime       string                 `json:"CutOffDateTime"`
	ReadRefundAccount    string                 `json:"ReadRefundAccount,omitempty"`
	Initiation           json.RawMessage        `json:"Initiation"`
	Authorisation        *authorisationResponse `json:"Authorisation,omitempty"`
	SCASupportData       json.RawMessage        `json:"SCASupportData,omitempty"`
	Debtor               *payment.Account       `json:"Debtor,omitempty"`
}

type authorisationResponse struct {
	AuthorisationType  string `json:"AuthorisationType"`
	CompletionDateTime string `json:"CompletionDateTime,omitempty"`
}

// paymentConsentBody renders the consent as the API answers it.
func (p *Provider) paymentConsentBody(c *payment.Consent) []byte {
	now := p.Now()
	var resp paymentConsentResponse
	resp.Data = paymentConsentData{
		ConsentID:            c.ID,
		CreationDateTime:     c.CreatedAt.UTC().Format(payment.TimeLayout),
		Status:               c.StatusAt(now),
		StatusUpdateDateTime: c.StatusChangedAt(now).UTC().Format(payment.TimeLayout),
		CutOffDateTime:       c.CutOff.UTC().Format(payment.TimeLayout),
		ReadRefundAccount:    c.ReadRefundAccount,
		Initiation:           c.Initiation,
		SCASupportData:       c.SCASupportData,
		Debtor:               c.Debtor,
	}
	if a := c.Authorisation; a != nil {
		resp.Data.Authorisation = &authorisationResponse{a.AuthorisationType, a.CompletionDateTime}
	}
	resp.Risk = c.Risk
	resp.Links.Self = p.URL(PathPaymentConsents + "/" + c.ID)
	buf, err := json.Marshal(resp)
	if err != nil {
		panic(errors.New("op: a stored payment consent does not render: " + err.Error()))
	}
	return buf
}
