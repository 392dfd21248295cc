package op

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/payment"
)

// ServeFundsConsents answers POST on the funds-confirmation-consents collection and GET
// and DELETE on a consent, for the TPP with a client-credentials token of scope
// fundsconfirmations. An x-idempotency-key on the POST is honoured when sent.
func (p *Provider) ServeFundsConsents(w http.ResponseWriter, r *http.Request) {
	p.serveConsentResource(w, r, PathFundsConsents, p.fundsConsents)
}

// fundsConsents answers the call, or returns the error ServeFundsConsents answers.
func (p *Provider) fundsConsents(w http.ResponseWriter, r *http.Request, id string, one bool) error {
	allowed := []string{http.MethodPost}
	if one {
		allowed = []string{http.MethodGet, http.MethodDelete}
	}
	clientID, err := p.resourceCaller(r, allowed, fundsScope)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		f, err := p.paymentRepo().FundsFor(clientID, id)
		if err != nil {
			return paymentError(err)
		}
		writeJSONBytes(w, http.StatusOK, p.fundsConsentBody(f))
		return nil
	case http.MethodDelete:
		return p.deleteFundsConsent(w, r, clientID, id)
	}
	body, err := readResourceBody(w, r, payment.MaxBodyBytes)
	if err != nil {
		return err
	}
	if err := p.consentSignature(r, clientID, body); err != nil {
		return err
	}
	now := p.Now()
	req, err := payment.ParseFundsConsent(body, now)
	if err != nil {
		return paymentError(err)
	}
	f := payment.NewFunds(clientID, req, now)
	key := payment.IdempotencyKey{Endpoint: PathFundsConsents, ClientID: clientID, Key: r.Header.Get(IdempotencyHeader)}
	return p.createOnce(w, r, key, body, payment.Answer{Status: http.StatusCreated, Body: p.fundsConsentBody(f), Resource: f.ID},
		func(t store.Txn) error { return payment.SaveFundsIn(t, f, now) })
}

// deleteFundsConsent removes the consent and ends its pending backchannel request in one
// transaction, as the account-access DELETE does.
func (p *Provider) deleteFundsConsent(w http.ResponseWriter, r *http.Request, clientID, id string) error {
	return p.deleteWithdrawing(w, r, clientID, id, func(t store.Txn) error { return payment.DeleteFundsIn(t, clientID, id) }, paymentError)
}

// fundsConsentResponse is an OBFundsConfirmationConsentResponse1.
type fundsConsentResponse struct {
	Data struct {
		ConsentID            string          `json:"ConsentId"`
		CreationDateTime     string          `json:"CreationDateTime"`
		Status               payment.Status  `json:"Status"`
		StatusUpdateDateTime string          `json:"StatusUpdateDateTime"`
		ExpirationDateTime   string          `json:"ExpirationDateTime,omitempty"`
		DebtorAccount        payment.Account `json:"DebtorAccount"`
	} `json:"Data"`
	Links struct {
		Self string `json:"Self"`
	} `json:"Links"`
	Meta struct{} `json:"Meta"`
}

func (p *Provider) fundsConsentBody(f *payment.FundsConsent) []byte {
	now := p.Now()
	var resp fundsConsentResponse
	resp.Data.ConsentID = f.ID
	resp.Data.CreationDateTime = f.CreatedAt.UTC().Format(payment.TimeLayout)
	resp.Data.Status = f.StatusAt(now)
	resp.Data.StatusUpdateDateTime = f.StatusChangedAt(now).UTC().Format(payment.TimeLayout)
	if f.Expiration != nil {
		resp.Data.ExpirationDateTime = f.Expiration.Raw
	}
	resp.Data.DebtorAccount = f.DebtorAccount
	resp.Links.Self = p.URL(PathFundsConsents + "/" + f.ID)
	buf, err := json.Marshal(resp)
	if err != nil {
		panic(errors.New("op: a stored funds consent does not render: " + err.Error()))
	}
	return buf
}
