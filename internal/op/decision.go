package op

import (
	"errors"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/store"
)

// Decision is the user's answer on the authentication device.
type Decision struct {
	Approve bool
	// Accounts are the AccountIds the user chose; at least one, all their own, to approve.
	Accounts []string
}

// Errors of a decision besides ciba's ErrBadDeviceToken, ErrDecided and ErrExpired, and
// consent's ErrNoAccounts and ErrDuplicateAccount.
var (
	ErrForeignAccount  = errors.New("an account is not one of the user's")
	ErrUserDisabled    = errors.New("the user may not authenticate")
	ErrConsentUnusable = errors.New("the consent can no longer be authorised")
)

// Decide applies the user's decision to the request behind a device link, in one
// transaction with the consent: approval authorises it with the chosen accounts, denial
// rejects it. A push client's tokens are minted in the same transaction; ping and push
// clients are told afterwards.
func (p *Provider) Decide(deviceID, deviceToken string, d Decision) error {
	now := p.Now()
	var req *ciba.Request
	var tokens *TokenResponse
	err := p.Store.Update(func(t store.Txn) error {
		r, key, err := ciba.OpenDevice(t, deviceID, deviceToken)
		if err != nil {
			return err
		}
		if d.Approve {
			if err := p.checkChoice(r.Subject, d.Accounts); err != nil {
				return err
			}
		}
		if err := ciba.Decide(t, key, r, d.Approve, now); err != nil {
			return err
		}
		cons, err := consent.Change(t, r.ConsentID, now, func(c *consent.Consent) error {
			if d.Approve {
				return c.Authorise(r.Subject, d.Accounts, now)
			}
			return c.Reject(now)
		})
		switch {
		case errors.Is(err, consent.ErrNotFound), errors.Is(err, consent.ErrNotAwaiting), errors.Is(err, consent.ErrExpired):
			return ErrConsentUnusable
		case err != nil:
			return err
		}
		req, tokens = r, nil
		switch {
		case r.Mode == clients.Push && d.Approve:
			r.State = ciba.Redeemed
			g := grantOf(r, r.CertThumbprint, cons)
			if tokens, r.Minted, err = p.issue(t, g, now, true, &idTokenExtras{authReqID: r.AuthReqID}); err != nil {
				return err
			}
		case r.Mode == clients.Ping:
			r.Pinged = true
		}
		return ciba.Save(t, key, r)
	})
	if err != nil {
		return err
	}
	if req.Mode != clients.Poll {
		p.deliverResult(req, tokens)
	}
	return nil
}

// checkChoice: the user is still enabled and the accounts are theirs (how many, and
// duplicates, are the consent's rules: consent.Authorise).
func (p *Provider) checkChoice(subject string, accounts []string) error {
	u := p.Users.BySubject(subject)
	if u == nil || u.Disabled {
		return ErrUserDisabled
	}
	for _, a := range accounts {
		if !u.HasAccount(a) {
			return ErrForeignAccount
		}
	}
	return nil
}

// grantOf is the grant an approved request stands for.
func grantOf(r *ciba.Request, thumbprint string, c *consent.Consent) *userGrant {
	g := &userGrant{
		clientID: r.ClientID, subject: r.Subject, consentID: r.ConsentID, scope: r.Scope, acr: r.ACR,
		thumbprint: thumbprint, authTime: r.DecidedAt,
	}
	if c.Expiration != nil {
		g.until = c.Expiration.Time
	}
	return g
}
