package op

import (
	"encoding/json"
	"errors"
	"io"
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
	allowed := []string{http.MethodPost}
	if one {
		allowed = []string{http.MethodGet, http.MethodDelete}
	}
	if !slices.Contains(allowed, r.Method) {
		list := strings.Join(allowed, ", ")
		w.Header().Set("Allow", list)
		obie.Write(w, http.StatusMethodNotAllowed, "Method not allowed", obie.Item{ErrorCode: obie.CodeHeaderInvalid, Message: "use " + list})
		return
	}
	if !acceptsJSON(r) {
		obie.Write(w, http.StatusNotAcceptable, "Only application/json is offered", obie.Item{ErrorCode: obie.CodeHeaderInvalid, Message: "Accept must allow application/json", Path: "Accept"})
		return
	}
	clientID, ok := p.consentCaller(w, r)
	if !ok {
		return
	}
	switch r.Method {
	case http.MethodPost:
		p.createConsent(w, r, clientID)
	case http.MethodGet:
		p.readConsent(w, clientID, id)
	case http.MethodDelete:
		p.deleteConsent(w, r, clientID, id)
	}
}

// consentCaller authenticates the TPP by its client-credentials token: 401 without a body
// for a missing or dead token (UK OB), 403 for a token of the wrong kind.
func (p *Provider) consentCaller(w http.ResponseWriter, r *http.Request) (string, bool) {
	tok, ok := BearerToken(r)
	if !ok {
		p.refuseCredentials(w, "")
		return "", false
	}
	rec, err := accesses.Lookup(p.Store, tok, p.Now())
	if err != nil {
		p.refuseCredentials(w, whyUnknown)
		return "", false
	}
	if !rec.PresentedOver(r.TLS) {
		p.refuseCredentials(w, whyCertificate)
		return "", false
	}
	if rec.Grant != token.ClientCredentials || !slices.Contains(strings.Fields(rec.Scope), consentScope) {
		obie.Write(w, http.StatusForbidden, "The token cannot manage consents",
			obie.Item{ErrorCode: obie.CodeHeaderInvalid, Message: "a client-credentials token with scope accounts is required", Path: "Authorization"})
		return "", false
	}
	return rec.ClientID, true
}

func (p *Provider) createConsent(w http.ResponseWriter, r *http.Request, clientID string) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		obie.Write(w, http.StatusUnsupportedMediaType, "The body must be application/json",
			obie.Item{ErrorCode: obie.CodeHeaderInvalid, Message: "Content-Type must be application/json", Path: "Content-Type"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, consent.MaxRequestBytes))
	if err != nil {
		obie.Write(w, http.StatusBadRequest, "The body could not be read",
			obie.Item{ErrorCode: obie.CodeInvalidFormat, Message: "the body is too large or was cut short"})
		return
	}
	req, err := consent.ParseRequest(body, p.Now())
	if err != nil {
		writeInvalid(w, err)
		return
	}
	c, err := p.Consents.Create(clientID, req)
	if err != nil {
		writeUnexpected(w)
		return
	}
	p.logStep(r.Context(), "consent_create", clientID, c.ID, "ok")
	consentTransitions.WithLabelValues(string(consent.AwaitingAuthorisation)).Inc()
	p.writeConsent(w, http.StatusCreated, c)
}

func (p *Provider) readConsent(w http.ResponseWriter, clientID, id string) {
	c, err := p.Consents.GetFor(clientID, id)
	if err != nil {
		writeLookupError(w, err)
		return
	}
	p.writeConsent(w, http.StatusOK, c)
}

func (p *Provider) deleteConsent(w http.ResponseWriter, r *http.Request, clientID, id string) {
	var ended *ciba.Request
	err := p.Store.Update(func(t store.Txn) error {
		if err := consent.DeleteIn(t, clientID, id); err != nil {
			return err
		}
		var err error
		ended, err = withdrawConsent(t, id, p.Now())
		return err
	})
	if err != nil {
		writeLookupError(w, err)
		return
	}
	p.ended(ended)
	p.logStep(r.Context(), "consent_delete", clientID, id, "ok")
	consentTransitions.WithLabelValues("Deleted").Inc()
	w.WriteHeader(http.StatusNoContent)
}

func writeInvalid(w http.ResponseWriter, err error) {
	var inv *consent.InvalidError
	if !errors.As(err, &inv) {
		writeUnexpected(w)
		return
	}
	items := make([]obie.Item, len(inv.Problems))
	for i, pr := range inv.Problems {
		items[i] = obie.Item{ErrorCode: pr.Code, Message: pr.Message, Path: pr.Path}
	}
	obie.Write(w, http.StatusBadRequest, "The consent request is invalid", items...)
}

func writeLookupError(w http.ResponseWriter, err error) {
	if errors.Is(err, consent.ErrNotFound) {
		obie.Write(w, http.StatusBadRequest, "Consent not found",
			obie.Item{ErrorCode: obie.CodeResourceNotFound, Message: "no consent with this ConsentId", Path: "ConsentId"})
		return
	}
	writeUnexpected(w)
}

func writeUnexpected(w http.ResponseWriter) {
	obie.Write(w, http.StatusInternalServerError, "Unexpected error", obie.Item{ErrorCode: obie.CodeUnexpectedError, Message: "the request could not be completed"})
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
