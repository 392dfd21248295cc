package op

import (
	"io"
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
	allow   string // the Allow header of a 405
}

// Write answers the refusal: 401 with the Bearer challenge and no body for a token that
// does not count, the Open Banking error body otherwise.
func (f *Refusal) Write(w http.ResponseWriter) {
	if f.status == http.StatusUnauthorized {
		RefuseToken(w)
		return
	}
	if f.allow != "" {
		w.Header().Set("Allow", f.allow)
	}
	obie.Write(w, f.status, f.message, f.item)
}

// Status is the HTTP status of the refusal.
func (f *Refusal) Status() int { return f.status }

var refuseToken = &Refusal{status: http.StatusUnauthorized}

func forbidden(message, code, detail, path string) *Refusal {
	return &Refusal{status: http.StatusForbidden, message: message, item: obie.Item{ErrorCode: code, Message: detail, Path: path}}
}

// Admit decides a request to the account APIs: an endpoint of the table and one of its
// methods, without a body; a live CIBA token from the Authorization header, over its bound
// certificate; its whole grant holding (checkGrant: client, user, refresh token, consent
// Authorised and unexpired); the endpoint covered by the consent's permissions; an
// AccountId in the path one the user selected.
func (p *Provider) Admit(r *http.Request) (*Admission, *Refusal) {
	ep, refusal := endpointOf(r)
	if refusal != nil {
		return nil, refusal
	}
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

// The refusals of a request the endpoint table rules out, whoever sends it.
var (
	refuseNotFound = &Refusal{status: http.StatusNotFound, message: "No such account information endpoint",
		item: obie.Item{ErrorCode: obie.CodeResourceNotFound, Message: "the path is not a v3.1 account information endpoint"}}
	refuseMethod = &Refusal{status: http.StatusMethodNotAllowed, message: "Method not allowed", allow: consent.AllowedMethods,
		item: obie.Item{ErrorCode: obie.CodeFieldUnexpected, Message: "the account information endpoints answer " + consent.AllowedMethods + " only"}}
	refuseBody = &Refusal{status: http.StatusBadRequest, message: "Unexpected request body",
		item: obie.Item{ErrorCode: obie.CodeFieldUnexpected, Message: "a request to an account information endpoint has no body"}}
	// RefuseQuery answers a query string the endpoint does not take (consent.Endpoint.Query).
	RefuseQuery = &Refusal{status: http.StatusBadRequest, message: "Unexpected query parameter",
		item: obie.Item{ErrorCode: obie.CodeFieldUnexpected, Message: "the endpoint takes only the query parameters UK OB v3.1 defines for it, each once"}}
)

// endpointOf is the endpoint a request names and may call, decided before the token is
// looked at, as the answer tells nothing the endpoint table does not: a path the table does
// not name exactly is 404, a method the endpoint does not have 405, a body 400. The path
// matched is the one the upstream is sent (escaped); Match refuses any percent sign in it,
// so it is also the path the gate read.
func endpointOf(r *http.Request) (consent.Endpoint, *Refusal) {
	path := r.URL.EscapedPath()
	ep, ok := consent.Match(path)
	switch {
	case !ok || path != r.URL.Path || r.URL.Opaque != "":
		return ep, refuseNotFound
	case !ep.Allows(r.Method):
		return ep, refuseMethod
	case hasBody(r):
		// A body on a read could reach the bank; none is expected, so none is forwarded.
		return ep, refuseBody
	}
	return ep, nil
}

// hasBody tells whether the request carries a body. HTTP/2 and HTTP/3 may not say before
// the stream ends, so a body of unknown length is read up to its first byte.
func hasBody(r *http.Request) bool {
	switch {
	case r.ContentLength > 0 || len(r.TransferEncoding) != 0:
		return true
	case r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody:
		return false
	}
	var b [1]byte
	n, _ := io.ReadFull(r.Body, b[:])
	return n > 0
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
