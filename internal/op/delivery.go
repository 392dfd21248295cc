package op

import (
	"cmp"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/notifier"
)

// deviceDelivery is the delivery of the request to the user's authentication device and
// what it tells the device: the workers try the channels, in order, until one delivers,
// bounded by the request's expiry.
func (p *Provider) deviceDelivery(ar *authRequest, req *ciba.Request, link ciba.DeviceLink) (*delivery, *notifier.Notification) {
	perms := make([]string, len(ar.consent.permissions()))
	for i, perm := range ar.consent.permissions() {
		perms[i] = string(perm)
	}
	// The accounts the user may pick (a consent that fixes its account offers only that)
	// and, for a payment or funds consent, what it asks.
	choosable, err := ar.consent.choosable(ar.user)
	pay, payErr := ar.consent.paymentSummary(ar.user)
	if err := cmp.Or(err, payErr); err != nil {
		p.deliveryLog.Error("a stored payment consent does not read", zap.String("consent_id", req.ConsentID), zap.Error(err))
	}
	accounts := make([]any, len(choosable))
	for i, a := range choosable {
		accounts[i] = a
	}
	hint := ar.params.LoginHint
	if hint == "" {
		hint = ar.user.LoginHints[0]
	}
	n := &notifier.Notification{
		ID:             link.ID,
		Subject:        ar.user.Subject,
		LoginHint:      hint,
		Email:          ar.user.MailAddress(),
		ClientID:       req.ClientID,
		ClientName:     ar.client.Client.Name,
		BindingMessage: req.BindingMessage,
		Scope:          req.Scope,
		Consent:        notifier.ConsentSummary{ConsentID: req.ConsentID, Permissions: perms, ExpirationDateTime: ar.consent.expirationDateTime()},
		Payment:        pay,
		Accounts:       accounts,
		DeviceURL:      p.URL(PathDevice+link.ID) + "#t=" + link.PageToken,
		DecisionURL:    p.URL(PathDevice + link.ID),
		DeviceToken:    link.Token,
		ExpiresAt:      req.ExpiresAt,
	}
	return &delivery{
		Kind: kindDevice, Expires: req.ExpiresAt, ClientID: req.ClientID, ConsentID: req.ConsentID,
		Interaction: ar.interaction,
	}, n
}

// callbackDeadline bounds a ping or push that outlives the request's own expiry.
const callbackDeadline = 30 * time.Second

// deliverResult tells a ping or push client that the user decided: a ping carries only
// the auth_req_id (CIBA Core §10.2), a push the tokens or the error (§10.3, §12). The
// flow does not depend on the client's answer.
func (p *Provider) deliverResult(req *ciba.Request, tokens *TokenResponse) {
	c := p.Clients.Lookup(req.ClientID)
	if c == nil || c.NotificationEndpoint == "" || req.AuthReqID == "" {
		return
	}
	var body any = map[string]string{"auth_req_id": req.AuthReqID}
	if req.Mode == clients.Push {
		body = pushBody(req, tokens)
	}
	buf, err := json.Marshal(body)
	if err != nil {
		return
	}
	deadline := req.ExpiresAt
	if soonest := p.Now().Add(callbackDeadline); deadline.Before(soonest) {
		deadline = soonest
	}
	p.enqueue(&delivery{
		Kind: kindCallback, Expires: deadline, ClientID: req.ClientID, ConsentID: req.ConsentID, Mode: req.Mode,
	}, callbackPayload{Bearer: req.NotificationToken, Body: buf})
}

// pushBody is the pushed token response, or the pushed error when the user denied.
func pushBody(req *ciba.Request, tokens *TokenResponse) any {
	if tokens == nil {
		why := "the user denied the request"
		if req.State == ciba.Withdrawn {
			why = "the request was withdrawn before the user decided"
		}
		return map[string]string{"error": "access_denied", "error_description": why, "auth_req_id": req.AuthReqID}
	}
	return struct {
		AuthReqID string `json:"auth_req_id"`
		*TokenResponse
	}{req.AuthReqID, tokens}
}
