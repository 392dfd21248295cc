package op

import (
	"errors"
	"slices"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/payment"
)

// One CIBA flow authorises three kinds of consent: account access, a domestic payment,
// a funds confirmation. The request, the device link, the pending caps and the one live
// request per consent are the same for all; what differs — where the consent is kept,
// what the user is shown and picks, what approval writes, how long the tokens last — is
// here, chosen by the consent id's prefix.

// consentKind is the kind of consent a backchannel request names.
type consentKind int

const (
	accountAccess consentKind = iota
	domesticPayment
	fundsConfirmation
)

// kindOf tells the kind from the ConsentId's prefix (payment.IsDomesticID, IsFundsID);
// any other id is looked up as an account-access consent.
func kindOf(id string) consentKind {
	switch {
	case payment.IsDomesticID(id):
		return domesticPayment
	case payment.IsFundsID(id):
		return fundsConfirmation
	}
	return accountAccess
}

// resourceScopes are the scopes that name a kind of consent, in consentKind order.
var resourceScopes = [...]string{"accounts", paymentsScope, fundsScope}

// scopeMatches: a request for a payment or funds consent carries that kind's scope, and
// no request carries another kind's scope (an account-access request may carry none, as
// it always could).
func (k consentKind) scopeMatches(scopes []string) bool {
	for kind, s := range resourceScopes {
		if consentKind(kind) != k && slices.Contains(scopes, s) {
			return false
		}
	}
	return k == accountAccess || slices.Contains(scopes, resourceScopes[k])
}

// mintsRefresh tells whether an approval of this kind gets a refresh token. A payment
// consent is single use: its token is spent on one payment before the cut-off, so a
// refresh token would only outlive its purpose and widen what a leaked credential could
// do; the TPP that needs another payment asks for another consent. Account access and
// funds confirmation are standing consents, used again and again until they expire or
// are withdrawn, so their tokens are refreshed as long as the consent is Authorised.
func (k consentKind) mintsRefresh() bool { return k != domesticPayment }

// intent is the consent a backchannel request asks the user to authorise: one of
// account, payment and funds is set, as kind says.
type intent struct {
	kind    consentKind
	account *consent.Consent
	payment *payment.Consent
	funds   *payment.FundsConsent
}

// Why a consent cannot be asked for (the wording of /bc-authorize's invalid_request).
var (
	errIntentUnknown     = errors.New("the consent is unknown")
	errIntentNotAwaiting = errors.New("the consent is not awaiting authorisation")
	errIntentCutOff      = errors.New("the consent's cut-off time has passed")
)

// readIntent reads the consent with id of whichever kind; errIntentUnknown when there is
// none.
func readIntent(rd store.Reader, id string) (*intent, error) {
	in := &intent{kind: kindOf(id)}
	var err error
	switch in.kind {
	case domesticPayment:
		in.payment, err = payment.ReadDomestic(rd, id)
	case fundsConfirmation:
		in.funds, err = payment.ReadFunds(rd, id)
	default:
		in.account, err = consent.Read(rd, id)
	}
	if errors.Is(err, payment.ErrNotFound) || errors.Is(err, consent.ErrNotFound) {
		return nil, errIntentUnknown
	}
	return in, err
}

func (in *intent) id() string {
	switch in.kind {
	case domesticPayment:
		return in.payment.ID
	case fundsConfirmation:
		return in.funds.ID
	}
	return in.account.ID
}

func (in *intent) clientID() string {
	switch in.kind {
	case domesticPayment:
		return in.payment.ClientID
	case fundsConfirmation:
		return in.funds.ClientID
	}
	return in.account.ClientID
}

// awaiting is nil when the user may still be asked: AwaitingAuthorisation and, for a
// payment, before its cut-off.
func (in *intent) awaiting(now time.Time) error {
	switch in.kind {
	case domesticPayment:
		c := in.payment
		if c.Status == payment.AwaitingAuthorisation && c.AfterCutOff(now) {
			return errIntentCutOff
		}
		if c.StatusAt(now) != payment.AwaitingAuthorisation {
			return errIntentNotAwaiting
		}
	case fundsConfirmation:
		if in.funds.StatusAt(now) != payment.AwaitingAuthorisation {
			return errIntentNotAwaiting
		}
	default:
		if in.account.StatusAt(now) != consent.AwaitingAuthorisation || in.account.Expired(now) {
			return errIntentNotAwaiting
		}
	}
	return nil
}

// awaitingUntil is when a payment or funds consent stops awaiting authorisation (the
// cut-off; the end of the authorisation window or the expiry), so that the backchannel
// request does not outlive it; zero for account access, whose requests keep their own
// expiry.
func (in *intent) awaitingUntil() time.Time {
	switch in.kind {
	case domesticPayment:
		return in.payment.CutOff
	case fundsConfirmation:
		end := in.funds.CreatedAt.Add(payment.FundsAuthorisationWindow)
		if e := in.funds.Expiration; e != nil && e.Time.Before(end) {
			end = e.Time
		}
		return end
	}
	return time.Time{}
}

// usable tells whether tokens may be minted for the approved consent at now.
func (in *intent) usable(now time.Time) bool {
	switch in.kind {
	case domesticPayment:
		return in.payment.Usable(now)
	case fundsConfirmation:
		return in.funds.Usable(now)
	}
	return in.account.Usable(now)
}

// until is when the grant ends, zero for never: no token outlives the consent's expiry
// or a payment's cut-off.
func (in *intent) until() time.Time {
	switch in.kind {
	case domesticPayment:
		return in.payment.CutOff
	case fundsConfirmation:
		if e := in.funds.Expiration; e != nil {
			return e.Time
		}
	default:
		if e := in.account.Expiration; e != nil {
			return e.Time
		}
	}
	return time.Time{}
}

// expirationDateTime is the consent's ExpirationDateTime as written, for the
// notification; "" for none.
func (in *intent) expirationDateTime() string {
	switch {
	case in.kind == fundsConfirmation && in.funds.Expiration != nil:
		return in.funds.Expiration.Raw
	case in.kind == accountAccess && in.account.Expiration != nil:
		return in.account.Expiration.Raw
	}
	return ""
}

// permissions are an account-access consent's permissions; none (an empty list, never
// null) for the other kinds.
func (in *intent) permissions() []consent.Permission {
	if in.kind != accountAccess {
		return []consent.Permission{}
	}
	return in.account.Permissions
}
