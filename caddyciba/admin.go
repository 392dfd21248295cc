package caddyciba

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/op"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI serves the gateway's operator routes under Caddy's admin endpoint:
//
//	GET  /ciba/consents[?client_id=&subject=&status=]  list consents
//	GET  /ciba/consents/{id}                           one consent
//	POST /ciba/consents/{id}/revoke                    end a consent; its tokens die at once
//	GET  /ciba/requests[?client_id=&subject=]          backchannel requests awaiting the user
//	GET  /ciba/keys                                    the signing key ring
//	POST /ciba/keys/rotate                             publish a new signing key
type AdminAPI struct {
	app *App
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.ciba",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision finds the ciba app, if the config has one.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	if app, err := ctx.AppIfConfigured("ciba"); err == nil {
		a.app = app.(*App)
	}
	return nil
}

// Routes implements caddy.AdminRouter.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/ciba/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	if a.app == nil {
		return apiError(http.StatusNotFound, errors.New("the ciba app is not configured"))
	}
	p := a.app.provider
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/ciba/"), "/"), "/")
	route := r.Method + " " + parts[0]
	q := r.URL.Query()
	filter := op.Filter{ClientID: q.Get("client_id"), Subject: q.Get("subject"), Status: q.Get("status")}
	switch {
	case route == "GET consents" && len(parts) == 1:
		list, err := p.ListConsents(filter)
		return answer(w, list, err)
	case route == "GET consents" && len(parts) == 2:
		c, err := p.Consents.Get(parts[1])
		if err == nil {
			c.Status = c.StatusAt(p.Now())
		}
		return answer(w, c, err)
	case route == "POST consents" && len(parts) == 3 && parts[2] == "revoke":
		c, err := p.RevokeConsent(parts[1])
		if err == nil {
			a.app.logger.Info("consent revoked by the bank", zap.String("consent_id", c.ID))
		}
		return answer(w, c, err)
	case route == "GET requests" && len(parts) == 1:
		list, err := p.ListPending(filter)
		return answer(w, list, err)
	case route == "GET keys" && len(parts) == 1:
		return answer(w, p.Keys.Keys(), nil)
	case route == "POST keys" && len(parts) == 2 && parts[1] == "rotate":
		kid, err := a.app.rotateKeys(nil)
		return answer(w, map[string]any{"kid": kid, "keys": p.Keys.Keys()}, err)
	}
	return apiError(http.StatusNotFound, fmt.Errorf("no route %s %s", r.Method, r.URL.Path))
}

func answer(w http.ResponseWriter, v any, err error) error {
	switch {
	case errors.Is(err, consent.ErrNotFound):
		return apiError(http.StatusNotFound, err)
	case errors.Is(err, op.ErrNotRevocable):
		return apiError(http.StatusConflict, err)
	case err != nil:
		return apiError(http.StatusInternalServerError, err)
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func apiError(status int, err error) error {
	return caddy.APIError{HTTPStatus: status, Err: err, Message: err.Error()}
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
