package op

import (
	"net/http"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/token"
)

// Admission is what a gated account request may do: the token's grant, its consent and
// the endpoint asked for.
type Admission struct {
	Token    *token.Access
	Consent  *consent.Consent
	Endpoint consent.Endpoint
}

// Refusal is why a gated request is turned away; Write answers it.
type Refusal struct {
	status  int
	message string
	item    obie.Item
}

// Write answers the refusal: 401 with the Bearer challenge and no body for a token that
// does not count, the Open Banking error body otherwise.
func (f *Refusal) Write(w http.ResponseWriter) {
	if f.status == http.StatusUnauthorized {
		RefuseToken(w)
		return
	}
	obie.Write(w, f.status, f.message, f.item)
}

// Status is the HTTP status of the refusal.
func (f *Refusal) Status() int { return f.status }

var refuseToken = &Refusal{status: http.StatusUnauthorized}

func forbidden(message, code, detail, path string) *Refusal {
	return &Refusal{status: http.StatusForbidden, message: message, item: obie.Item{ErrorCode: code, Message: detail, Path: path}}
}

// Admit decides a request to the account APIs: a live CIBA token from the Authorization
// header, over its bound certificate; its whole grant holding (checkGrant); the endpoint
// covered by the consent's permissions; an AccountId in the path one the user selected.
func (p *Provider) Admit(r *http.Request) (*Admission, *Refusal) {
	tok, ok := BearerToken(r)
	if !ok {
		return nil, refuseToken
	}
	now := p.Now()
	rec, err := p.accessRecords.Get(p.Store, token.AccessKey(tok))
	if err != nil || !rec.Live(now) || !rec.PresentedOver(r.TLS) {
		return nil, refuseToken
	}
	if rec.Grant != token.CIBA || rec.ConsentID == "" {
		return nil, forbidden("The token cannot read accounts", obie.CodeHeaderInvalid,
			"a token issued by the CIBA grant is required", "Authorization")
	}
	c, verdict := p.checkGrant(p.Store, accessGrant(rec), now)
	switch verdict {
	case grantOver:
		return nil, refuseToken
	case grantUnreadable:
		return nil, &Refusal{status: http.StatusInternalServerError, message: "Unexpected error",
			item: obie.Item{ErrorCode: obie.CodeUnexpectedError, Message: "the grant could not be read"}}
	case grantNotAuthorised:
		return nil, forbidden("The consent is not authorised", obie.CodeInvalidConsent,
			"consent status is "+string(c.StatusAt(now)), "ConsentId")
	}
	ep, ok := consent.Match(r.URL.Path)
	if !ok {
		return nil, &Refusal{status: http.StatusNotFound, message: "No such account information endpoint",
			item: obie.Item{ErrorCode: obie.CodeResourceNotFound, Message: "the path is not a v3.1 account information endpoint"}}
	}
	if !c.Permits(ep.Resource) {
		return nil, forbidden("Consent does not permit this resource", obie.CodeFieldInvalid,
			"the consent holds none of the permissions "+permissionList(ep.Resource)+" needs", "Data.Permissions")
	}
	if ep.AccountID != "" && !c.HasAccount(ep.AccountID) {
		return nil, forbidden("The account is not part of the consent", obie.CodeFieldInvalid,
			"the user did not select this account", "AccountId")
	}
	return &Admission{Token: rec, Consent: c, Endpoint: ep}, nil
}

func permissionList(r consent.Resource) string {
	out := ""
	for i, p := range consent.NeededPermissions(r) {
		if i > 0 {
			out += " or "
		}
		out += string(p)
	}
	return out
}
