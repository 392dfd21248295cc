package op

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
	"github.com/caddyciba/gateway/internal/users"
)

// Decision is the user's answer on the authentication device.
type Decision struct {
	Approve bool
	// Accounts are the AccountIds the user chose; at least one, all their own, to approve.
	Accounts []string
	// Password is what the user typed on the approval page; an approval through the page
	// token needs it when the user has one.
	Password string
}

// Errors of a decision besides ciba's ErrBadDeviceToken, ErrDecided and ErrExpired, and
// consent's ErrNoAccounts and ErrDuplicateAccount.
var (
	ErrForeignAccount  = errors.New("an account is not one of the user's")
	ErrUserDisabled    = errors.New("the user may not authenticate")
	ErrConsentUnusable = errors.New("the consent can no longer be authorised")
	ErrPasswordNeeded  = errors.New("the user's password is required")
)

// WrongPasswordError is a wrong password on the approval page.
type WrongPasswordError struct{ Left int }

func (e *WrongPasswordError) Error() string {
	if e.Left == 0 {
		return "wrong password; the password is now locked for a while"
	}
	return fmt.Sprintf("wrong password; %d tries left", e.Left)
}

// PasswordLockedError refuses any password until Until.
type PasswordLockedError struct{ Until time.Time }

func (e *PasswordLockedError) Error() string {
	return "too many wrong passwords; try again after " + e.Until.UTC().Format("15:04 UTC")
}

// Decide applies the user's decision to the request behind a device link, in one
// transaction with the consent of whichever kind (decideIntent): approval authorises it
// with the chosen accounts (a payment's debtor account), denial rejects it. A push
// client's tokens are minted in the same transaction; ping and push clients are told
// afterwards.
func (p *Provider) Decide(deviceID, deviceToken string, d Decision) (*ciba.Request, error) {
	now := p.Now()
	if d.Approve {
		if err := p.checkPassword(deviceID, deviceToken, d.Password, now); err != nil {
			return nil, err
		}
	}
	var req *ciba.Request
	var tokens *TokenResponse
	err := p.Store.Update(func(t store.Txn) error {
		o, err := devices.Open(t, deviceID, deviceToken)
		if err != nil {
			return err
		}
		r, key := o.Request, o.Key
		if err := requests.Decide(t, key, r, d.Approve, now); err != nil {
			return err
		}
		in, err := p.decideIntent(t, r, d, now)
		if err != nil {
			return err
		}
		req, tokens = r, nil
		switch {
		case r.Mode == clients.Push && d.Approve:
			r.State = ciba.Redeemed
			g := grantOf(r, r.CertThumbprint, in)
			if tokens, r.Minted, err = p.issue(t, g, now, in.kind.mintsRefresh(), &idTokenExtras{authReqID: r.AuthReqID}); err != nil {
				return err
			}
		case r.Mode == clients.Ping:
			r.Pinged = true
		}
		return requests.Save(t, key, r, now)
	})
	if err != nil {
		return req, err
	}
	countDecision(req, d.Approve, tokens != nil)
	if req.Mode != clients.Poll {
		p.deliverResult(req, tokens)
	}
	return req, nil
}

func countDecision(req *ciba.Request, approved, minted bool) {
	decision, status := "deny", consent.Rejected
	if approved {
		decision, status = "approve", consent.Authorised
	}
	decisions.WithLabelValues(decision).Inc()
	consentTransitions.WithLabelValues(string(status)).Inc()
	decisionSeconds.Observe(req.DecidedAt.Sub(req.CreatedAt).Seconds())
	pending.add(req.ExpiresAt, -1)
	if minted {
		tokensIssued.WithLabelValues(string(token.CIBA)).Inc()
	}
}

// checkPassword asks an approval through the page token for the user's password, when
// the user has one, under the user's lockout; bcrypt runs outside any transaction. The
// bank's app (the app token) authenticates the user itself.
func (p *Provider) checkPassword(deviceID, deviceToken, password string, now time.Time) error {
	o, u, err := p.openForUser(deviceID, deviceToken, now)
	if err != nil || o.Holder == ciba.App || u.PasswordHash == "" {
		return err
	}
	if password == "" {
		until, err := p.Lockout.LockedUntil(p.Store, u.Subject, now)
		if err == nil && !until.IsZero() {
			return &PasswordLockedError{Until: until}
		}
		return cmp.Or(err, ErrPasswordNeeded)
	}
	v, err := p.Lockout.Check(p.Store, u, password, now)
	var locked *users.LockedError
	switch {
	case errors.As(err, &locked):
		return &PasswordLockedError{Until: locked.Until}
	case err != nil:
		return err
	case !v.OK:
		return &WrongPasswordError{Left: v.Left}
	}
	return nil
}

// grantOf is the grant an approved request stands for.
func grantOf(r *ciba.Request, thumbprint string, in *intent) *userGrant {
	return &userGrant{
		clientID: r.ClientID, subject: r.Subject, consentID: r.ConsentID, scope: r.Scope, acr: r.ACR,
		thumbprint: thumbprint, authTime: r.DecidedAt, until: in.until(),
	}
}
