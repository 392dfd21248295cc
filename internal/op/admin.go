package op

import (
	"errors"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/store"
)

// Filter narrows an operator's listing; empty fields match everything.
type Filter struct {
	ClientID, Subject, Status string
}

func (f Filter) matches(clientID, subject, status string) bool {
	return (f.ClientID == "" || f.ClientID == clientID) && (f.Subject == "" || f.Subject == subject) &&
		(f.Status == "" || f.Status == status)
}

// ListConsents lists the stored consents the filter matches, with their status as of now.
func (p *Provider) ListConsents(f Filter) ([]*consent.Consent, error) {
	out := []*consent.Consent{}
	err := consent.Each(p.Store, p.Now(), func(c *consent.Consent) error {
		if f.matches(c.ClientID, c.Subject, string(c.Status)) {
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// PendingRequest is a backchannel request awaiting its user, as operators see it: never
// its auth_req_id, only the hash the store keys it by.
type PendingRequest struct {
	ID             string    `json:"id"`
	ClientID       string    `json:"client_id"`
	Subject        string    `json:"subject"`
	ConsentID      string    `json:"consent_id"`
	Mode           string    `json:"delivery_mode"`
	BindingMessage string    `json:"binding_message,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// ListPending lists the live requests awaiting a decision that the filter matches.
func (p *Provider) ListPending(f Filter) ([]PendingRequest, error) {
	now := p.Now()
	out := []PendingRequest{}
	err := requests.Each(p.Store, func(id string, r *ciba.Request) error {
		if r.State != ciba.Pending || !r.Live(now) || !f.matches(r.ClientID, r.Subject, "") {
			return nil
		}
		out = append(out, PendingRequest{ID: id, ClientID: r.ClientID, Subject: r.Subject,
			ConsentID: r.ConsentID, Mode: r.Mode, BindingMessage: r.BindingMessage, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt})
		return nil
	})
	return out, err
}

// ErrNotRevocable is a consent that is neither awaiting authorisation nor authorised.
var ErrNotRevocable = errors.New("the consent is neither awaiting authorisation nor authorised")

// RevokeConsent ends a consent at the bank's request: an authorised one is Revoked, one
// still awaiting authorisation Rejected. Its tokens stop at once: the gate and the
// refresh grant read the consent on every use.
func (p *Provider) RevokeConsent(id string) (*consent.Consent, error) {
	now := p.Now()
	var out *consent.Consent
	var ended *ciba.Request
	err := p.Store.Update(func(t store.Txn) error {
		c, err := consent.Change(t, id, now, func(c *consent.Consent) error {
			switch c.StatusAt(now) {
			case consent.Authorised:
				return c.Revoke(now)
			case consent.AwaitingAuthorisation:
				return c.Reject(now)
			}
			return ErrNotRevocable
		})
		out = c
		if err != nil {
			return err
		}
		ended, err = withdrawConsent(t, id, now)
		return err
	})
	if err == nil {
		consentTransitions.WithLabelValues(string(out.Status)).Inc()
		p.ended(ended)
	}
	return out, err
}
