package op

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/oauth"
)

// ServeDevice answers /ciba/device/{id}: POST is the decision API a bank's app calls with
// the device token as its Bearer token.
func (p *Provider) ServeDevice(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, PathDevice)
	if id == "" || strings.Contains(id, "/") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauth.WriteError(w, &oauth.Error{Code: "invalid_request", Description: "use POST", Status: http.StatusMethodNotAllowed})
		return
	}
	if err := p.decision(r, id); err != nil {
		oauth.WriteError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// decisionBody is the decision API's JSON body.
type decisionBody struct {
	Decision string   `json:"decision"`
	Accounts []string `json:"accounts"`
}

const maxDecisionBody = 64 << 10

func (p *Provider) decision(r *http.Request, id string) error {
	tok, ok := BearerToken(r)
	if !ok {
		return deviceTokenRefused()
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &oauth.Error{Code: "invalid_request", Description: "the body must be application/json", Status: http.StatusUnsupportedMediaType}
	}
	var body decisionBody
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxDecisionBody))
	if err := dec.Decode(&body); err != nil {
		return oauth.InvalidRequest("the body is not a decision object")
	}
	if body.Decision != "approve" && body.Decision != "deny" {
		return oauth.InvalidRequest(`decision must be "approve" or "deny"`)
	}
	return decisionError(p.Decide(id, tok, Decision{Approve: body.Decision == "approve", Accounts: body.Accounts}))
}

// decisionError maps a decision's outcome to the decision API's answer: 401 for a bad
// link or token, 409 once decided, 410 after expiry.
func decisionError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ciba.ErrBadDeviceToken):
		return deviceTokenRefused()
	case errors.Is(err, ciba.ErrDecided):
		return &oauth.Error{Code: "request_decided", Description: "the request was already decided", Status: http.StatusConflict}
	case errors.Is(err, ciba.ErrExpired):
		return &oauth.Error{Code: "request_expired", Description: "the request has expired", Status: http.StatusGone}
	case errors.Is(err, ErrConsentUnusable):
		return &oauth.Error{Code: "consent_unusable", Description: err.Error(), Status: http.StatusConflict}
	case errors.Is(err, ErrUserDisabled):
		return oauth.AccessDenied(err.Error())
	case errors.Is(err, consent.ErrNoAccounts), errors.Is(err, consent.ErrDuplicateAccount), errors.Is(err, ErrForeignAccount):
		return oauth.InvalidRequest(err.Error())
	}
	return oauth.ServerError("the decision could not be stored")
}

func deviceTokenRefused() *oauth.Error {
	e := &oauth.Error{Code: "invalid_token", Description: "unknown device link or wrong device token", Status: http.StatusUnauthorized}
	e.Challenge = `Bearer error="invalid_token"`
	return e
}
