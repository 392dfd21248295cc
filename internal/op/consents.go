package op

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// PathConsents is the account-access-consents collection.
const PathConsents = consent.APIPrefix + "/account-access-consents"

// consentScope is the scope a client-credentials token needs for the consent endpoints.
const consentScope = "accounts"

// ServeConsents answers POST on the collection and GET and DELETE on a consent, for the
// TPP that holds a client-credentials token with scope accounts.
func (p *Provider) ServeConsents(w http.ResponseWriter, r *http.Request) {
	id, one := strings.CutPrefix(r.URL.Path, PathConsents+"/")
	if !one && r.URL.Path != PathConsents {
		http.NotFound(w, r)
		return
	}
	if err := p.consents(w, r, id, one); err != nil {
		obie.WriteError(w, err)
	}
}

// consents answers the call, or returns the error ServeConsents answers; each step logs
// its own outcome.
func (p *Provider) consents(w http.ResponseWriter, r *http.Request, id string, one bool) error {
	allowed := []string{http.MethodPost}
	if one {
		allowed = []string{http.MethodGet, http.MethodDelete}
	}
	clientID, err := p.resourceCaller(r, allowed, consentScope)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodPost:
		return p.createConsent(w, r, clientID)
	case http.MethodGet:
		return p.readConsent(w, r, clientID, id)
	default:
		return p.deleteConsent(w, r, clientID, id)
	}
}

// clientCaller authenticates the TPP by its client-credentials token of scope (accounts,
// payments, fundsconfirmations): 401 without a body for a missing or dead token (UK OB),
// 403 for a token of the wrong kind or scope.
func (p *Provider) clientCaller(r *http.Request, scope string) (string, error) {
	tok, ok := BearerToken(r)
	if !ok {
		return "", p.refuseToken("")
	}
	rec, err := p.LookupAccess(tok, p.Now())
	if errors.Is(err, token.ErrInvalid) {
		return "", p.refuseToken(whyUnknown)
	}
	if err != nil {
		return "", obie.Unexpected("the token could not be read", err)
	}
	if !rec.PresentedOver(r.TLS) {
		return "", p.refuseToken(whyCertificate)
	}
	if rec.Grant != token.ClientCredentials || !slices.Contains(strings.Fields(rec.Scope), scope) {
		return "", obie.New(http.StatusForbidden, "The token cannot manage consents",
			obie.Item{ErrorCode: obie.CodeHeaderInvalid, Message: "a client-credentials token with scope " + scope + " is required", Path: "Authorization"})
	}
	return rec.ClientID, nil
}

// createConsent answers a new consent, or returns why not; the step is logged either way.
func (p *Provider) createConsent(w http.ResponseWriter, r *http.Request, clientID string) error {
	c, err := p.newConsent(w, r, clientID)
	consentID := ""
	if c != nil {
		consentID = c.ID
	}
	p.logStep(r.Context(), "consent_create", clientID, consentID, err)
	if err != nil {
		return err
	}
	consentTransitions.WithLabelValues(string(consent.AwaitingAuthorisation)).Inc()
	p.writeConsent(w, http.StatusCreated, c)
	return nil
}

func (p *Provider) newConsent(w http.ResponseWriter, r *http.Request, clientID string) (*consent.Consent, error) {
	body, err := readResourceBody(w, r, consent.MaxRequestBytes)
	if err != nil {
		return nil, err
	}
	req, err := consent.ParseRequest(body, p.Now())
	if err != nil {
		return nil, invalidConsent(err)
	}
	c, err := p.Consents.Create(clientID, req)
	if err != nil {
		return nil, unexpected(err)
	}
	return c, nil
}

func (p *Provider) readConsent(w http.ResponseWriter, r *http.Request, clientID, id string) error {
	c, err := p.Consents.GetFor(clientID, id)
	if err != nil {
		err = lookupError(err)
		p.logFailure(r.Context(), "consent_read", err)
		return err
	}
	p.writeConsent(w, http.StatusOK, c)
	return nil
}

func (p *Provider) deleteConsent(w http.ResponseWriter, r *http.Request, clientID, id string) error {
	return p.deleteWithdrawing(w, r, clientID, id, func(t store.Txn) error { return consent.DeleteIn(t, clientID, id) }, lookupError)
}

// deleteWithdrawing deletes a consent of any kind (del) and ends its pending backchannel
// request in the same transaction; answer turns a failure into the TPP's answer.
func (p *Provider) deleteWithdrawing(w http.ResponseWriter, r *http.Request, clientID, id string, del func(store.Txn) error, answer func(error) error) error {
	var ended *ciba.Request
	err := p.Store.Update(func(t store.Txn) error {
		if err := del(t); err != nil {
			return err
		}
		var err error
		ended, err = withdrawConsent(t, id, p.Now())
		return err
	})
	if err != nil {
		err = answer(err)
		p.logStep(r.Context(), "consent_delete", clientID, id, err)
		return err
	}
	p.ended(ended)
	p.logStep(r.Context(), "consent_delete", clientID, id, nil)
	consentTransitions.WithLabelValues("Deleted").Inc()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// invalidConsent is the 400 that lists a consent request's problems.
func invalidConsent(err error) error {
	inv, ok := errors.AsType[*consent.InvalidError](err)
	if !ok {
		return unexpected(err)
	}
	items := make([]obie.Item, len(inv.Problems))
	for i, pr := range inv.Problems {
		items[i] = obie.Item{ErrorCode: pr.Code, Message: pr.Message, Path: pr.Path}
	}
	return obie.New(http.StatusBadRequest, "The consent request is invalid", items...)
}

// lookupError is the answer for a consent that could not be found or read.
func lookupError(err error) error {
	if errors.Is(err, consent.ErrNotFound) {
		return obie.New(http.StatusBadRequest, "Consent not found",
			obie.Item{ErrorCode: obie.CodeResourceNotFound, Message: "no consent with this ConsentId", Path: "ConsentId"})
	}
	return unexpected(err)
}

// unexpected is the consent API's 500, keeping the cause for the log.
func unexpected(cause error) error {
	return obie.Unexpected("the request could not be completed", cause)
}

// consentResponse is an OBReadConsentResponse1.
type consentResponse struct {
	Data  consentData `json:"Data"`
	Risk  struct{}    `json:"Risk"`
	Links struct {
		Self string `json:"Self"`
	} `json:"Links"`
	Meta struct {
		TotalPages int `json:"TotalPages"`
	} `json:"Meta"`
}

type consentData struct {
	ConsentID               string               `json:"ConsentId"`
	CreationDateTime        string               `json:"CreationDateTime"`
	Status                  consent.Status       `json:"Status"`
	StatusUpdateDateTime    string               `json:"StatusUpdateDateTime"`
	Permissions             []consent.Permission `json:"Permissions"`
	ExpirationDateTime      string               `json:"ExpirationDateTime,omitempty"`
	TransactionFromDateTime string               `json:"TransactionFromDateTime,omitempty"`
	TransactionToDateTime   string               `json:"TransactionToDateTime,omitempty"`
}

func (p *Provider) writeConsent(w http.ResponseWriter, status int, c *consent.Consent) {
	now := p.Now()
	var resp consentResponse
	resp.Data = consentData{
		ConsentID:               c.ID,
		CreationDateTime:        c.CreatedAt.UTC().Format(consent.TimeLayout),
		Status:                  c.StatusAt(now),
		StatusUpdateDateTime:    c.StatusChangedAt(now).UTC().Format(consent.TimeLayout),
		Permissions:             c.Permissions,
		ExpirationDateTime:      rawDate(c.Expiration),
		TransactionFromDateTime: rawDate(c.TransactionFrom),
		TransactionToDateTime:   rawDate(c.TransactionTo),
	}
	resp.Links.Self = p.URL(PathConsents + "/" + c.ID)
	resp.Meta.TotalPages = 1
	writeResourceJSON(w, status, resp)
}

func rawDate(d *consent.Date) string {
	if d == nil {
		return ""
	}
	return d.Raw
}

// acceptsJSON tells whether the Accept header (absent means anything) allows JSON.
func acceptsJSON(r *http.Request) bool {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return true
	}
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && (mt == "application/json" || mt == "application/*" || mt == "*/*") {
				return true
			}
		}
	}
	return false
}

// writeResourceJSON writes a resource API body.
func writeResourceJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
