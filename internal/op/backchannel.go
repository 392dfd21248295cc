package op

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
	"github.com/caddyciba/gateway/internal/users"
)

// BackchannelResponse is the acknowledgement of CIBA Core §7.3; expires_in and interval
// are JSON numbers, as clients require.
type BackchannelResponse struct {
	AuthReqID string `json:"auth_req_id"`
	ExpiresIn int64  `json:"expires_in"`
	Interval  int64  `json:"interval,omitempty"`

	consentID string
}

// ServeBackchannel answers POST /bc-authorize.
func (p *Provider) ServeBackchannel(w http.ResponseWriter, r *http.Request) {
	resp, clientID, err := p.backchannel(w, r)
	outcome := outcomeOf(err)
	if clientID == "" {
		clientID = "unauthenticated"
	}
	backchannelRequests.WithLabelValues(clientID, outcome).Inc()
	consentID := ""
	if resp != nil {
		consentID = resp.consentID
	}
	p.logStep(r.Context(), "backchannel", clientID, consentID, err)
	writeAnswer(w, resp, err)
}

// authRequest is a backchannel request that passed every check, ready to be stored.
type authRequest struct {
	client  *clients.Authenticated
	user    *users.User
	consent *intent
	params  *ciba.Params
	scope   string
	acr     string
	ttl     time.Duration
	// interaction is the x-fapi-interaction-id of the call, for the device step's log line.
	interaction string
}

func (p *Provider) backchannel(w http.ResponseWriter, r *http.Request) (*BackchannelResponse, string, error) {
	form, client, err := p.clientForm(w, r)
	if err != nil {
		return nil, "", err
	}
	id := client.Client.ID
	if err := p.rateLimit(client.Client); err != nil {
		return nil, id, err
	}
	if !client.Client.AllowsScope([]string{"openid"}) || (p.FAPI && client.Client.DeliveryMode == clients.Push) {
		return nil, id, oauth.UnauthorizedClient("the client is not registered for CIBA")
	}
	params, err := p.authParams(form, client.Client)
	if err != nil {
		return nil, id, err
	}
	ar, err := p.checkAuthRequest(client, params)
	if err != nil {
		return nil, id, err
	}
	ar.interaction = interactionOf(r.Context())
	resp, err := p.start(ar)
	return resp, id, err
}

// start stores the request, its device link, the consent's claim, the user's pending
// slot and the delivery to the user's device in one transaction, then hands the delivery
// to a worker: the request is acknowledged only once its notification is sure to be
// attempted.
func (p *Provider) start(ar *authRequest) (*BackchannelResponse, error) {
	authReqID, err := token.New()
	if err != nil {
		return nil, oauth.ServerError("the request could not be created", err)
	}
	now := p.Now()
	c := ar.client.Client
	req := &ciba.Request{
		ClientID:       c.ID,
		Subject:        ar.user.Subject,
		Scope:          ar.scope,
		ACR:            ar.acr,
		BindingMessage: ar.params.BindingMessage,
		ConsentID:      ar.consent.id(),
		Mode:           c.DeliveryMode,
		CertThumbprint: ar.client.CertThumbprint,
		CreatedAt:      now,
		ExpiresAt:      now.Add(ar.ttl),
		Interval:       p.PollInterval,
		State:          ciba.Pending,
	}
	if c.DeliveryMode != clients.Poll {
		req.NotificationToken, req.AuthReqID = ar.params.ClientNotificationToken, authReqID
	}
	key := requests.Key(authReqID)
	aead, err := p.deliveryAEAD()
	if err != nil {
		return nil, oauth.ServerError("the request could not be created", err)
	}
	var notice claimed
	err = p.Store.Update(func(t store.Txn) error {
		if err := requests.ClaimConsent(t, req.ConsentID, key, now, req.ExpiresAt); err != nil {
			return err
		}
		if err := p.holdPendingSlot(t, req, key, now); err != nil {
			return err
		}
		if err := requests.Save(t, key, req, now); err != nil {
			return err
		}
		link, err := devices.New(t, key, req.ExpiresAt, now)
		if err != nil {
			return err
		}
		d, n := p.deviceDelivery(ar, req, link)
		notice, err = queueLeased(t, aead, d, n, now)
		return err
	})
	if errors.Is(err, ciba.ErrConsentBusy) {
		return nil, oauth.InvalidRequest("the consent already has a pending backchannel request")
	}
	if errors.Is(err, errTooManyPending) {
		return nil, oauth.InvalidRequest("too many pending backchannel requests for this user; try again after one is decided or expires")
	}
	if err != nil {
		return nil, oauth.ServerError("the request could not be stored", err)
	}
	pending.add(req.ExpiresAt, 1)
	p.handOff(notice)
	resp := &BackchannelResponse{AuthReqID: authReqID, ExpiresIn: int64(ar.ttl / time.Second), consentID: req.ConsentID}
	if c.DeliveryMode != clients.Push {
		resp.Interval = max(int64(p.PollInterval/time.Second), 1)
	}
	return resp, nil
}
