package op

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/oauth"
)

// ServeDevice answers /ciba/device/{id}. A plain GET is the approval page; with a Bearer
// device token, GET is the request the user decides on and POST the decision.
func (p *Provider) ServeDevice(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, PathDevice)
	if id == "" || strings.Contains(id, "/") {
		http.NotFound(w, r)
		return
	}
	tok, hasToken := BearerToken(r)
	switch {
	case r.Method == http.MethodPost:
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && !hasToken && r.Header.Get("Authorization") == "":
		p.servePage(w)
		return
	case r.Method == http.MethodGet:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		oauth.WriteError(w, oauth.NewError("invalid_request", http.StatusMethodNotAllowed, "use GET or POST"))
		return
	}
	// The page calls with a header no other site can set without a preflight we never
	// answer; a browser that says the call is cross-site is refused outright.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		oauth.WriteError(w, oauth.AccessDenied("cross-site calls are refused"))
		return
	}
	if !hasToken {
		oauth.WriteError(w, deviceTokenRefused())
		return
	}
	if r.Method == http.MethodGet {
		view, err := p.DeviceView(id, tok)
		err = decisionError(err)
		p.logFailure(r.Context(), "device", err)
		writeAnswer(w, view, err)
		return
	}
	if err := p.decision(r, id, tok); err != nil {
		oauth.WriteError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// servePage writes the approval page with headers that keep it from being framed, cached
// or leaking its address.
func (p *Provider) servePage(w http.ResponseWriter) {
	pg := p.pages()
	setPageHeaders(w.Header(), pg.deviceCSP)
	_, _ = w.Write(pg.devicePage)
}

// decisionBody is the decision API's JSON body.
type decisionBody struct {
	Decision string   `json:"decision"`
	Accounts []string `json:"accounts"`
	Password string   `json:"password"`
}

const maxDecisionBody = 64 << 10

func (p *Provider) decision(r *http.Request, id, tok string) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return oauth.NewError("invalid_request", http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	var body decisionBody
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxDecisionBody))
	if err := dec.Decode(&body); err != nil {
		return oauth.InvalidRequest("the body is not a decision object")
	}
	if body.Decision != "approve" && body.Decision != "deny" {
		return oauth.InvalidRequest(`decision must be "approve" or "deny"`)
	}
	d := Decision{Approve: body.Decision == "approve", Accounts: body.Accounts, Password: body.Password}
	req, err := p.Decide(id, tok, d)
	var clientID, consentID string
	if req != nil {
		clientID, consentID = req.ClientID, req.ConsentID
	}
	err = decisionError(err)
	p.logStep(r.Context(), "decision", clientID, consentID, err, zap.String("decision", body.Decision))
	return err
}

// decisionError maps a device-side outcome to its answer: 401 for a bad link or token,
// 409 once decided, 410 after expiry or withdrawal, 500 (with err as its cause) for a
// failure of the gateway.
func decisionError(err error) error {
	var wrong *WrongPasswordError
	var locked *PasswordLockedError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ciba.ErrBadDeviceToken):
		return deviceTokenRefused()
	case errors.Is(err, ciba.ErrDecided):
		return oauth.NewError("request_decided", http.StatusConflict, "the request was already decided")
	case errors.Is(err, ciba.ErrWithdrawn):
		return oauth.NewError("request_withdrawn", http.StatusGone, "the request was withdrawn: the access it asked for was cancelled")
	case errors.Is(err, ciba.ErrExpired):
		return oauth.NewError("request_expired", http.StatusGone, "the request has expired")
	case errors.Is(err, ErrConsentUnusable):
		return oauth.NewError("consent_unusable", http.StatusConflict, err.Error())
	case errors.Is(err, ErrUserDisabled):
		return oauth.AccessDenied(err.Error())
	case errors.Is(err, ErrPasswordNeeded):
		return oauth.NewError("password_required", http.StatusBadRequest, err.Error())
	case errors.As(err, &wrong):
		return oauth.NewError("wrong_password", http.StatusForbidden, err.Error())
	case errors.As(err, &locked):
		return oauth.NewError("password_locked", http.StatusTooManyRequests, err.Error())
	case errors.Is(err, ErrDebtorNotHeld):
		return oauth.NewError("account_not_held", http.StatusForbidden, err.Error())
	case errors.Is(err, consent.ErrNoAccounts), errors.Is(err, consent.ErrDuplicateAccount), errors.Is(err, ErrForeignAccount),
		errors.Is(err, ErrDebtorChoice):
		return oauth.InvalidRequest(err.Error())
	}
	return oauth.ServerError("the decision could not be stored", err)
}

func deviceTokenRefused() *oauth.Error {
	return oauth.InvalidToken("unknown device link or wrong device token")
}
