package op

import (
	"strings"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/users"
	"github.com/caddyciba/gateway/notifier"
)

// DeviceView is what the user decides on, as the approval page and a bank's app read it.
type DeviceView struct {
	ClientName     string           `json:"client_name"`
	BindingMessage string           `json:"binding_message,omitempty"`
	Permissions    []PermissionView `json:"permissions"`
	// TransactionWindow says in words which transactions the consent reaches, if bounded.
	TransactionWindow string `json:"transaction_window,omitempty"`
	ConsentExpires    string `json:"consent_expires,omitempty"`
	// AccessLasts says in words how long the access lasts: "until <date>" or "until you
	// withdraw it".
	AccessLasts string        `json:"access_lasts"`
	ExpiresAt   time.Time     `json:"expires_at"`
	Accounts    []AccountView `json:"accounts"`
	// PasswordRequired: an approval with this token must carry the user's password.
	PasswordRequired bool `json:"password_required"`
	// Payment is what a payment or funds-confirmation consent asks (payee, masked
	// accounts, amount, reference); absent for account access. Accounts then lists the
	// accounts the user may pay from: one is picked; a consent that fixes its account lists
	// only the user's account that is it (none: Payment.DebtorNotHeld).
	Payment *notifier.PaymentSummary `json:"payment,omitempty"`
}

// PermissionView is one permission, with its plain words.
type PermissionView struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

// AccountView is one account the user may pick.
type AccountView struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Masked is the account number's last four digits behind dots, "••••5698".
	Masked string `json:"masked,omitempty"`
}

// DeviceView opens the link with either token and describes the pending request.
func (p *Provider) DeviceView(deviceID, deviceToken string) (*DeviceView, error) {
	o, u, err := p.openForUser(deviceID, deviceToken, p.Now())
	if err != nil {
		return nil, err
	}
	r := o.Request
	in, err := readIntent(p.Store, r.ConsentID)
	if err != nil {
		return nil, ErrConsentUnusable
	}
	choosable, err := in.choosable(u)
	if err != nil {
		return nil, ErrConsentUnusable
	}
	v := &DeviceView{
		ClientName:       p.clientName(r.ClientID),
		BindingMessage:   r.BindingMessage,
		Permissions:      []PermissionView{},
		ExpiresAt:        r.ExpiresAt,
		Accounts:         make([]AccountView, len(choosable)),
		PasswordRequired: o.Holder == ciba.Page && u.PasswordHash != "",
	}
	if v.Payment, err = in.paymentSummary(u); err != nil {
		return nil, ErrConsentUnusable
	}
	switch in.kind {
	case accountAccess:
		c := in.account
		v.TransactionWindow, v.AccessLasts = transactionWindow(c), accessLasts(c)
		for _, perm := range c.Permissions {
			v.Permissions = append(v.Permissions, PermissionView{Code: string(perm), Text: perm.Describe()})
		}
	case domesticPayment:
		v.AccessLasts = "for this one payment"
	case fundsConfirmation:
		v.AccessLasts = "until you withdraw it"
	}
	if until := in.until(); !until.IsZero() {
		v.ConsentExpires = until.UTC().Format(time.RFC3339)
		if in.kind == fundsConfirmation {
			v.AccessLasts = "until " + inWords(until)
		}
	}
	for i, a := range choosable {
		v.Accounts[i] = accountView(a)
	}
	return v, nil
}

// openForUser opens a device link whose request still awaits its decision, with the user
// it asks; a user who is gone or disabled is ErrUserDisabled.
func (p *Provider) openForUser(deviceID, deviceToken string, now time.Time) (*ciba.Opened, *users.User, error) {
	o, err := devices.Open(p.Store, deviceID, deviceToken)
	if err != nil {
		return nil, nil, err
	}
	if err := o.Request.Answerable(now); err != nil {
		return nil, nil, err
	}
	u := p.Users.BySubject(o.Request.Subject)
	if u == nil || u.Disabled {
		return nil, nil, ErrUserDisabled
	}
	return o, u, nil
}

// accountView names an account by its nickname and describes it by its type and currency.
func accountView(a users.Account) AccountView {
	var detail []string
	for _, field := range []string{"AccountSubType", "Currency"} {
		if s, ok := a.Fields[field].(string); ok && s != "" {
			detail = append(detail, s)
		}
	}
	return AccountView{ID: a.AccountID, Name: a.Nickname, Detail: strings.Join(detail, " · "), Masked: maskedNumber(a)}
}

// maskedNumber shows the last four characters of the account's first identification (the
// OBAccount6 "Account" array, or a single object), or "" when the users file has none.
func maskedNumber(a users.Account) string {
	var first any
	switch acc := a.Fields["Account"].(type) {
	case []any:
		if len(acc) > 0 {
			first = acc[0]
		}
	case map[string]any:
		first = acc
	}
	obj, _ := first.(map[string]any)
	id, _ := obj["Identification"].(string)
	return maskIdentification(id)
}

func transactionWindow(c *consent.Consent) string {
	const day = "2 January 2006"
	from, to := c.TransactionFrom, c.TransactionTo
	switch {
	case from != nil && to != nil:
		return "Transactions from " + from.Time.Format(day) + " to " + to.Time.Format(day) + "."
	case from != nil:
		return "Transactions from " + from.Time.Format(day) + " on."
	case to != nil:
		return "Transactions up to " + to.Time.Format(day) + "."
	}
	return ""
}
