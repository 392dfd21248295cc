package op

import (
	"io"
	"net/http"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/token"
)

// Admission is what a gated account request may do: the token's grant, its consent, the
// endpoint asked for and its query string, canonical (consent.Endpoint.Query).
type Admission struct {
	Token    *token.Access
	Consent  *consent.Consent
	Endpoint consent.Endpoint
	Query    string
}

// refuseToken is the 401 of a request without a usable token (the Bearer challenge, no
// body); why is empty when it sent none. Built only on the refusal path: admitting
// allocates nothing for it.
func (p *Provider) refuseToken(why string) *obie.Error {
	code := ""
	if why != "" {
		code = "invalid_token"
	}
	return obie.Unauthorized(challenge(p.Issuer, code, why))
}

func forbidden(message, code, detail, path string) *obie.Error {
	return obie.New(http.StatusForbidden, message, obie.Item{ErrorCode: code, Message: detail, Path: path})
}

// Admit decides a request to the account APIs: an endpoint of the table and one of its
// methods, without a body; a live CIBA token from the Authorization header, over its bound
// certificate; its whole grant holding (checkGrant: client, user, refresh token, consent
// Authorised and unexpired); the endpoint covered by the consent's permissions; an
// AccountId in the path one the user selected; only the query parameters the endpoint
// defines, each once. Each refusal says which of these failed,
// and nothing about data the token does not already reach: an account outside the consent
// is refused in the same words whether or not it exists. The refusal is answered with
// obie.WriteError; a 500 carries the store's failure as its cause.
func (p *Provider) Admit(r *http.Request) (*Admission, *obie.Error) {
	ep, refusal := endpointOf(r)
	if refusal != nil {
		return nil, refusal
	}
	tok, ok := BearerToken(r)
	if !ok {
		return nil, p.refuseToken("")
	}
	now := p.Now()
	if token.IsSelfContained(tok) {
		return nil, p.refuseAtGate(r, tok, now)
	}
	key := token.AccessKey(tok)
	held, c, consentErr, err := p.readAccess(key)
	if err != nil {
		return nil, p.refuseToken(whyUnknown)
	}
	rec := &held.Access
	switch {
	case !rec.Live(now):
		return nil, p.refuseToken(whyExpired)
	case !rec.PresentedOver(r.TLS):
		return nil, p.refuseToken(whyCertificate)
	}
	if rec.Grant != token.CIBA || rec.ConsentID == "" {
		return nil, p.refuseNotCIBA()
	}
	if c == nil && consentErr == nil {
		c, consentErr = p.consentRecords.Get(p.Store, held.consentKey)
	}
	c, verdict, why, err := p.judgeGrant(accessGrant(rec), c, consentErr, now)
	switch verdict {
	case grantOver:
		return nil, p.refuseToken(why)
	case grantUnreadable:
		return nil, obie.Unexpected("the grant could not be read", err)
	case grantNotAuthorised:
		return nil, notAuthorised(c, rec.ClientID, now)
	}
	if !c.Permits(ep.Resource) {
		return nil, forbidden("Consent does not permit this resource", obie.CodeFieldInvalid,
			"the consent holds none of the permissions "+permissionList(ep.Resource)+" needs", "Data.Permissions")
	}
	if ep.AccountID != "" && !c.HasAccount(ep.AccountID) {
		return nil, forbidden("The account is not part of the consent", obie.CodeFieldInvalid,
			"AccountId "+ep.AccountID+" is not one the user selected for the consent", "AccountId")
	}
	// After the token, so that a token sent as a query parameter is still a 401.
	query, err := ep.Query(r.URL.RawQuery)
	if err != nil {
		return nil, refuseQuery
	}
	return &Admission{Token: rec, Consent: c, Endpoint: ep, Query: query}, nil
}

// refuseNotCIBA is the 403 of a good token of another grant than CIBA (a client's own).
func (p *Provider) refuseNotCIBA() *obie.Error {
	f := forbidden("The token cannot read accounts", obie.CodeHeaderInvalid,
		"a token issued by the CIBA grant is required", "Authorization")
	f.Challenge = challenge(p.Issuer, "insufficient_scope",
		"the account APIs need a token of the CIBA grant, issued for an authorised consent")
	return f
}

// heldAccess is an access token's record as the gate keeps its decoding, with the store
// key of its consent, which the gate reads with it.
type heldAccess struct {
	token.Access
	consentKey string
}

func decodeHeldAccess(buf []byte) (*heldAccess, error) {
	a, err := token.DecodeAccess(buf)
	if err != nil {
		return nil, err
	}
	h := &heldAccess{Access: *a}
	if a.ConsentID != "" {
		h.consentKey = consent.StoreKey(a.ConsentID)
	}
	return h, nil
}

// readAccess reads the access token at key. A token's consent never changes, so once a
// request has shown which consent it stands for, the next ones read that consent in the
// same snapshot — one round trip to a database — and return it (or consentErr, the
// error reading it). Otherwise c and consentErr are nil and the caller reads the consent.
// Both records are read afresh every time: a revocation or deletion is seen at once.
func (p *Provider) readAccess(key string) (held *heldAccess, c *consent.Consent, consentErr error, err error) {
	seen, ok := p.accessRecords.Seen(key)
	if !ok || seen.consentKey == "" {
		held, err = p.accessRecords.Get(p.Store, key)
		return held, nil, nil, err
	}
	keys := [2]string{key, seen.consentKey}
	var vals [2][]byte
	if err := p.Store.GetMany(keys[:], vals[:]); err != nil {
		return nil, nil, nil, err
	}
	if held, err = p.accessRecords.Of(key, vals[0]); err != nil || held.consentKey != seen.consentKey {
		return held, nil, nil, err
	}
	c, consentErr = p.consentRecords.Of(seen.consentKey, vals[1])
	return held, c, consentErr, nil
}

// notAuthorised is the 403 of a consent that exists but does not stand authorised for the
// token's client, naming its status and what that means.
func notAuthorised(c *consent.Consent, clientID string, now time.Time) *obie.Error {
	status := c.StatusAt(now)
	detail := "consent status is " + string(status)
	switch {
	case c.ClientID != clientID:
		detail = "the consent was not granted to this client"
	case status == consent.Revoked:
		detail += ": the customer or the bank withdrew access"
	case status == consent.Rejected:
		detail += ": the customer declined, or did not authorise it in time"
	case status == consent.AwaitingAuthorisation:
		detail += ": the customer has not authorised it yet"
	}
	return forbidden("The consent is not authorised", obie.CodeInvalidConsent, detail, "ConsentId")
}

// The refusals of a request the endpoint table rules out, whoever sends it.
var (
	refuseNotFound = obie.New(http.StatusNotFound, "No such account information endpoint",
		obie.Item{ErrorCode: obie.CodeResourceNotFound, Message: "the path is not a v3.1 account information endpoint"})
	refuseMethod = obie.MethodNotAllowed(consent.AllowedMethods,
		obie.Item{ErrorCode: obie.CodeFieldUnexpected, Message: "the account information endpoints answer " + consent.AllowedMethods + " only"})
	refuseBody = obie.New(http.StatusBadRequest, "Unexpected request body",
		obie.Item{ErrorCode: obie.CodeFieldUnexpected, Message: "a request to an account information endpoint has no body"})
	refuseQuery = obie.New(http.StatusBadRequest, "Unexpected query parameter",
		obie.Item{ErrorCode: obie.CodeFieldUnexpected, Message: "the endpoint takes only the query parameters UK OB v3.1 defines for it, each once"})
)

// endpointOf is the endpoint a request names and may call, decided before the token is
// looked at, as the answer tells nothing the endpoint table does not: a path the table does
// not name exactly is 404, a method the endpoint does not have 405, a body 400. The path
// matched is the one the upstream is sent (escaped); Match refuses any percent sign in it,
// so it is also the path the gate read.
func endpointOf(r *http.Request) (consent.Endpoint, *obie.Error) {
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
