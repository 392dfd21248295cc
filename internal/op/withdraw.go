package op

import (
	"time"

	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/store"
)

// A consent revoked, rejected or deleted, or a user disabled, ends the backchannel
// request still waiting for the user, in the transaction that makes the change: the next
// poll hears access_denied, the device link 410, and a ping or push client is told the
// way a denial tells it (see ended). The user's pending slot frees itself: the caps count
// only live requests.

// withdrawConsent ends the consent's live request inside t; nil when there was none.
func withdrawConsent(t store.Txn, consentID string, now time.Time) (*ciba.Request, error) {
	r, key, err := requests.WithdrawConsent(t, consentID, now)
	if err != nil || r == nil {
		return nil, err
	}
	return r, markPing(t, key, r, now)
}

// markPing lets a ping client's first poll after the ping through unthrottled, as after a
// decision.
func markPing(t store.Txn, key string, r *ciba.Request, now time.Time) error {
	if r.Mode != clients.Ping {
		return nil
	}
	r.Pinged = true
	return requests.Save(t, key, r, now)
}

// ended tells the client of each withdrawn request, after its transaction committed.
func (p *Provider) ended(reqs ...*ciba.Request) {
	for _, r := range reqs {
		if r == nil {
			continue
		}
		pending.add(r.ExpiresAt, -1)
		if r.Mode != clients.Poll {
			p.deliverResult(r, nil)
		}
	}
}

// WithdrawUser ends every request still waiting for the user with subject sub: the users
// file now disables or drops them. It returns how many ended.
func (p *Provider) WithdrawUser(sub string) (int, error) {
	var ended []*ciba.Request
	err := p.Store.Update(func(t store.Txn) error {
		ended = ended[:0]
		list, err := userPending.read(t, sub)
		if err != nil {
			return err
		}
		now := p.Now()
		for _, e := range list {
			r, err := requests.Withdraw(t, e.Key, now)
			if err != nil {
				return err
			}
			if r == nil {
				continue
			}
			if err := markPing(t, e.Key, r, now); err != nil {
				return err
			}
			ended = append(ended, r)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	p.ended(ended...)
	return len(ended), nil
}
