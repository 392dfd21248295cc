package op

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/users"
	"github.com/caddyciba/gateway/notifier"
	"github.com/caddyciba/gateway/payment"
)

// What the device shows and the user picks for a payment or funds-confirmation consent:
// the payment (payee, amount, reference) and the account it is paid from, or the account
// a funds confirmation checks.

// Errors of a decision on a payment or funds consent.
var (
	// ErrDebtorNotHeld: the consent fixes an account the user does not hold; the request
	// can only be denied.
	ErrDebtorNotHeld = errors.New("the consent names an account that is not one of the user's, so it cannot be approved")
	// ErrDebtorChoice: the choice is not one account, or not the account the consent fixes.
	ErrDebtorChoice = errors.New("choose exactly one account: the one to pay from (or, when the consent names one, that account)")
)

// accountIdentifications are the OB identifications the users file gives an account (its
// OBAccount6 "Account" array, or a single object).
func accountIdentifications(a users.Account) []payment.Account {
	var list []any
	switch acc := a.Fields["Account"].(type) {
	case []any:
		list = acc
	case map[string]any:
		list = []any{acc}
	}
	var out []payment.Account
	for _, item := range list {
		obj, _ := item.(map[string]any)
		str := func(k string) string { s, _ := obj[k].(string); return s }
		if id := str("Identification"); id != "" {
			out = append(out, payment.Account{SchemeName: str("SchemeName"), Identification: id,
				Name: str("Name"), SecondaryIdentification: str("SecondaryIdentification")})
		}
	}
	return out
}

// maskIdentification shows an account number's last four characters behind dots,
// "••••5698"; "" when it has fewer.
func maskIdentification(id string) string {
	r := []rune(strings.ReplaceAll(id, " ", ""))
	if len(r) < 4 {
		return ""
	}
	return "••••" + string(r[len(r)-4:])
}

// heldAccounts are the user's accounts that are the account a consent fixes.
func heldAccounts(u *users.User, fixed *payment.Account) []users.Account {
	var held []users.Account
	for _, a := range u.Accounts {
		if slices.ContainsFunc(accountIdentifications(a), func(id payment.Account) bool { return id.Same(fixed) }) {
			held = append(held, a)
		}
	}
	return held
}

// fixedAccount is the account the consent fixes: a payment's DebtorAccount when its
// Initiation names one, a funds consent's DebtorAccount; nil for account access and a
// payment whose payer chooses.
func (in *intent) fixedAccount() (*payment.Account, error) {
	switch in.kind {
	case domesticPayment:
		ini, err := in.payment.ReadInitiation()
		if err != nil {
			return nil, err
		}
		return ini.DebtorAccount, nil
	case fundsConfirmation:
		return &in.funds.DebtorAccount, nil
	}
	return nil, nil
}

// choosable are the accounts the user may pick: all theirs, or those that are the
// account the consent fixes.
func (in *intent) choosable(u *users.User) ([]users.Account, error) {
	fixed, err := in.fixedAccount()
	if err != nil || fixed == nil {
		return u.Accounts, err
	}
	return heldAccounts(u, fixed), nil
}

// paymentSummary is what the device shows of a payment or funds consent; nil for account
// access.
func (in *intent) paymentSummary(u *users.User) (*notifier.PaymentSummary, error) {
	var v payment.View
	switch in.kind {
	case domesticPayment:
		var err error
		if v, err = in.payment.View(); err != nil {
			return nil, err
		}
	case fundsConfirmation:
		v = in.funds.View()
	default:
		return nil, nil
	}
	s := &notifier.PaymentSummary{
		Kind: notifier.KindPayment, PayeeName: v.PayeeName, PayeeAccount: maskIdentification(v.PayeeAccount),
		Amount: v.Amount, Currency: v.Currency, Reference: v.Reference, Until: v.Until,
	}
	if in.kind == fundsConfirmation {
		s.Kind = notifier.KindFunds
	}
	if s.Reference == "" {
		s.Reference = v.Unstructured
	}
	if fixed := v.DebtorAccount; fixed != nil {
		s.DebtorAccount = maskIdentification(fixed.Identification)
		s.DebtorNotHeld = len(heldAccounts(u, fixed)) == 0
	}
	return s, nil
}

// chooseDebtor is the account the user pays from (or lets a funds confirmation check):
// the one the consent fixes, which the user must hold (chosen may name it or be empty),
// else the one account the user chose of theirs, with its identification from the users
// file when it has one.
func chooseDebtor(u *users.User, fixed *payment.Account, chosen []string) (payment.Debtor, error) {
	if fixed != nil {
		held := heldAccounts(u, fixed)
		switch {
		case len(held) == 0:
			return payment.Debtor{}, ErrDebtorNotHeld
		case len(chosen) == 0:
			return payment.Debtor{AccountID: held[0].AccountID, Account: fixed}, nil
		case len(chosen) == 1:
			for _, a := range held {
				if a.AccountID == chosen[0] {
					return payment.Debtor{AccountID: a.AccountID, Account: fixed}, nil
				}
			}
		}
		return payment.Debtor{}, ErrDebtorChoice
	}
	if len(chosen) != 1 {
		return payment.Debtor{}, ErrDebtorChoice
	}
	for _, a := range u.Accounts {
		if a.AccountID == chosen[0] {
			d := payment.Debtor{AccountID: a.AccountID}
			if ids := accountIdentifications(a); len(ids) > 0 {
				d.Account = &ids[0]
			}
			return d, nil
		}
	}
	return payment.Debtor{}, ErrForeignAccount
}

// decideIntent writes the user's decision on the request's consent inside t, the
// request's own transaction: approval authorises it with what the user chose, denial
// rejects it. A consent that can no longer change is ErrConsentUnusable.
func (p *Provider) decideIntent(t store.Txn, r *ciba.Request, d Decision, now time.Time) (*intent, error) {
	u := p.Users.BySubject(r.Subject)
	if d.Approve && (u == nil || u.Disabled) {
		return nil, ErrUserDisabled
	}
	in := &intent{kind: kindOf(r.ConsentID)}
	var err error
	switch in.kind {
	case domesticPayment:
		in.payment, err = payment.ChangeDomestic(t, r.ConsentID, now, func(c *payment.Consent) error {
			if !d.Approve {
				return c.Reject(now)
			}
			ini, err := c.ReadInitiation()
			if err != nil {
				return err
			}
			debtor, err := chooseDebtor(u, ini.DebtorAccount, d.Accounts)
			if err != nil {
				return err
			}
			return c.Authorise(r.Subject, debtor, now)
		})
	case fundsConfirmation:
		in.funds, err = payment.ChangeFunds(t, r.ConsentID, now, func(f *payment.FundsConsent) error {
			if !d.Approve {
				return f.Reject(now)
			}
			debtor, err := chooseDebtor(u, &f.DebtorAccount, d.Accounts)
			if err != nil {
				return err
			}
			return f.Authorise(r.Subject, debtor.AccountID, now)
		})
	default:
		in.account, err = consent.Change(t, r.ConsentID, now, func(c *consent.Consent) error {
			if !d.Approve {
				return c.Reject(now)
			}
			for _, a := range d.Accounts {
				if !u.HasAccount(a) {
					return ErrForeignAccount
				}
			}
			return c.Authorise(r.Subject, d.Accounts, now)
		})
	}
	for _, gone := range []error{consent.ErrNotFound, consent.ErrNotAwaiting, consent.ErrExpired,
		payment.ErrNotFound, payment.ErrNotAwaiting, payment.ErrAfterCutOff, payment.ErrExpired} {
		if errors.Is(err, gone) {
			return nil, ErrConsentUnusable
		}
	}
	if err != nil {
		return nil, err
	}
	return in, nil
}
