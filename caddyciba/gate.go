package caddyciba

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/dustin/go-humanize"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/op"
	"github.com/caddyciba/gateway/payment"
)

func init() {
	caddy.RegisterModule(Gate{})
	httpcaddyfile.RegisterHandlerDirective("ciba_gate", parseGate)
	httpcaddyfile.RegisterDirectiveOrder("ciba_gate", httpcaddyfile.Before, "reverse_proxy")
}

// Gate lets a request through to the routes after it only with a live access token that
// the CIBA grant issued, presented in the Authorization header over the certificate it is
// bound to, whose consent is Authorised and covers the endpoint and the account. What it
// admits reaches the upstream with the user, consent, client and accounts in headers.
//
// It fails closed on the shape of the request too, before it looks at the token: a path
// that is not exactly an endpoint of UK OB v3.1 account information (a parameter that is
// not an OB id, a dot or empty segment, a trailing slash, any percent-encoding, a
// backslash or semicolon) is 404; a method the endpoint does not have is 405 with Allow
// (the endpoints answer GET and HEAD); a request body is 400; all with an OB error body.
// After the token, a query parameter the endpoint does not define (the booking window on
// transactions, the statement window on statement lists, page on lists), or one given
// twice, is 400; the others go on re-encoded canonically. Headers that could change the
// bank's answer (ranges, conditions, encodings, method and path overrides, cookies, the
// names the client lists in Connection) and the client's own X-Ciba-* headers are
// removed, and Accept is application/json.
//
// Under /open-banking/v3.1/pisp and /cbpii the same gate guards the payment and funds
// confirmation endpoints (gate_payment.go): a path the account table does not know goes
// there, so the account path carries no extra work.
type Gate struct {
	// SubjectHeader carries the user's subject to the upstream. Default X-Ciba-Subject.
	SubjectHeader string `json:"subject_header,omitempty"`
	// ConsentHeader carries the ConsentId. Default X-Ciba-Consent-Id.
	ConsentHeader string `json:"consent_header,omitempty"`
	// ClientHeader carries the TPP's client_id. Default X-Ciba-Client-Id.
	ClientHeader string `json:"client_header,omitempty"`
	// AccountsHeader carries the selected AccountIds, comma-separated. Default X-Ciba-Accounts.
	AccountsHeader string `json:"accounts_header,omitempty"`
	// PassAuthorization keeps the TPP's Authorization header on the upstream request.
	PassAuthorization bool `json:"pass_authorization,omitempty"`
	// MaxItemSize is the largest JSON value of a bank answer the filter reads whole: one
	// list item, or Links, or Meta. An answer holding a larger one is refused with a 502.
	// Default 1 MiB.
	MaxItemSize int64 `json:"max_item_size,omitempty"`
	// MaxBodySize is the largest bank answer the gate filters; a larger one is refused
	// with a 502, or cut short if it was already streaming. Default 64 MiB.
	MaxBodySize int64 `json:"max_body_size,omitempty"`

	provider *op.Provider
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Gate) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.ciba_gate",
		New: func() caddy.Module { return new(Gate) },
	}
}

// Provision finds the ciba app's store.
func (g *Gate) Provision(ctx caddy.Context) error {
	app, err := ctx.App("ciba")
	if err != nil {
		return fmt.Errorf("ciba_gate needs the ciba app: %w", err)
	}
	g.provider = app.(*App).provider
	g.logger = app.(*App).logger.Named("gate")
	if g.MaxItemSize <= 0 {
		g.MaxItemSize = consent.DefaultMaxValue
	}
	if g.MaxBodySize <= 0 {
		g.MaxBodySize = consent.DefaultMaxBody
	}
	if g.MaxItemSize > g.MaxBodySize {
		return fmt.Errorf("ciba_gate: max_item_size %d is larger than max_body_size %d", g.MaxItemSize, g.MaxBodySize)
	}
	setDefaultString(&g.SubjectHeader, "X-Ciba-Subject")
	setDefaultString(&g.ConsentHeader, "X-Ciba-Consent-Id")
	setDefaultString(&g.ClientHeader, "X-Ciba-Client-Id")
	setDefaultString(&g.AccountsHeader, "X-Ciba-Accounts")
	return nil
}

func countRefusal(status int) {
	switch status {
	case http.StatusUnauthorized:
		op.GateInvalidToken.Inc()
	case http.StatusForbidden:
		op.GateForbidden.Inc()
	case http.StatusNotFound:
		op.GateNotFound.Inc()
	default:
		op.GateError.Inc()
	}
}

func setDefaultString(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// ServeHTTP admits the request or answers the refusal; a refused request never reaches
// the handlers after the gate. What it admits goes on stripped of whatever could change
// the bank's answer, with the gate's identity headers and a canonical query string; a
// HEAD goes on as a GET, so the filter reads the whole answer, and only its headers are
// sent back.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	id := interactionID(r)
	w.Header().Set(interactionHeader, id)
	adm, refusal := g.provider.Admit(r)
	if refusal != nil {
		if op.PathUnknown(refusal) && payment.IsPaymentPath(r.URL.Path) {
			return g.servePayment(w, r, next)
		}
		countRefusal(refusal.Status)
		if refusal.Status >= http.StatusInternalServerError {
			g.logger.Error("request refused", zap.String("interaction_id", id), zap.Error(refusal))
		}
		obie.WriteError(w, refusal)
		return nil
	}
	op.GateAllowed.Inc()
	g.provider.NoteUse(adm.Consent.ID)
	r.URL.RawQuery, r.URL.ForceQuery, r.URL.Fragment, r.URL.RawFragment = adm.Query, false, "", ""
	// Admit found no body; none goes on, whatever the protocol left open.
	r.Body, r.ContentLength, r.TransferEncoding = http.NoBody, 0, nil
	h := r.Header
	g.scrub(h)
	h.Set(interactionHeader, id)
	h.Set(g.SubjectHeader, adm.Consent.Subject)
	h.Set(g.ConsentHeader, adm.Consent.ID)
	h.Set(g.ClientHeader, adm.Token.ClientID)
	h.Set(g.AccountsHeader, strings.Join(adm.Consent.AccountIDs, ","))
	// The filter reads JSON only.
	h.Set("Accept", "application/json")
	caddyhttp.SetVar(r.Context(), "ciba.consent_id", adm.Consent.ID)
	caddyhttp.SetVar(r.Context(), "ciba.subject", adm.Consent.Subject)
	caddyhttp.SetVar(r.Context(), "ciba.client_id", adm.Token.ClientID)
	if r.Method == http.MethodHead {
		// A copy: the server answers the HEAD from the original request.
		get := r.WithContext(r.Context())
		get.Method = http.MethodGet
		return g.serveFiltered(&headWriter{caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}, get, next, adm)
	}
	return g.serveFiltered(w, r, next, adm)
}

// strippedHeaders could make the bank answer something else than the whole JSON
// representation of the resource the gate admitted (a range, a 304, another encoding or
// media type, another method or path on some servers), or pass for what the gate or
// Caddy's reverse_proxy says (identity, forwarding). X-Forwarded-For, -Proto and -Host are
// left to reverse_proxy, which replaces them unless the client is one of the server's
// trusted_proxies.
var strippedHeaders = []string{
	"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
	"Accept-Encoding", "Accept-Charset", "Accept-Datetime", "A-Im", "Prefer", "Cache-Control", "Pragma",
	"Te", "Expect", "Connection", "Keep-Alive", "Proxy-Connection", "Upgrade", "Trailer", "Max-Forwards",
	"Transfer-Encoding", "Content-Length", "Content-Type", "Content-Encoding",
	"X-Http-Method-Override", "X-Method-Override", "X-Http-Method",
	"X-Original-Url", "X-Rewrite-Url", "X-Override-Url",
	"Forwarded", "X-Real-Ip", "X-Forwarded-Prefix", "X-Forwarded-Path", "X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Ssl",
	"Cookie", "Proxy-Authorization",
}

// scrub removes from the request headers what only the gate may say or what could change
// the bank's answer; the identity headers the gate sets after it replace the client's own.
// The names the client lists in Connection go first: reverse_proxy would drop them on the
// way to the bank, and with them the gate's identity headers if they were listed.
func (g *Gate) scrub(h http.Header) {
	for _, v := range h["Connection"] {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range strippedHeaders {
		delete(h, name)
	}
	for name := range h {
		if len(name) >= len("X-Ciba-") && strings.EqualFold(name[:len("X-Ciba-")], "X-Ciba-") {
			delete(h, name)
		}
	}
	if !g.PassAuthorization {
		delete(h, "Authorization")
	}
}

// headWriter sends the headers of the answer to a HEAD that went on as a GET, and none of
// its body.
type headWriter struct {
	caddyhttp.ResponseWriterWrapper
}

func (hw *headWriter) Write(p []byte) (int, error) { return len(p), nil }

func (hw *headWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

// serveFiltered runs the routes after the gate through the consent's filter.
func (g *Gate) serveFiltered(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, adm *op.Admission) error {
	return newFilterWriter(w, g, adm).serve(r, next)
}

// UnmarshalCaddyfile sets up the gate from Caddyfile tokens. Syntax:
//
//	ciba_gate [<matcher>] {
//		subject_header  <name>
//		consent_header  <name>
//		client_header   <name>
//		accounts_header <name>
//		pass_authorization
//		max_item_size   <size>
//		max_body_size   <size>
//	}
//
// Sizes are bytes or with a unit (1MiB, 500KB). The defaults are on the fields.
func (g *Gate) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "subject_header":
			err = oneArg(d, &g.SubjectHeader)
		case "consent_header":
			err = oneArg(d, &g.ConsentHeader)
		case "client_header":
			err = oneArg(d, &g.ClientHeader)
		case "accounts_header":
			err = oneArg(d, &g.AccountsHeader)
		case "pass_authorization":
			if d.NextArg() {
				err = d.ArgErr()
			}
			g.PassAuthorization = true
		case "max_item_size":
			err = sizeArg(d, &g.MaxItemSize)
		case "max_body_size":
			err = sizeArg(d, &g.MaxBodySize)
		default:
			err = d.Errf("unrecognized ciba_gate option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sizeArg reads one size, as 1MiB or 500KB, the way Caddy reads request_body's max_size.
func sizeArg(d *caddyfile.Dispenser, n *int64) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	size, err := humanize.ParseBytes(s)
	if err != nil || size == 0 || size > math.MaxInt64 {
		return d.Errf("invalid size %q", s)
	}
	*n = int64(size)
	return nil
}

func parseGate(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var g Gate
	err := g.UnmarshalCaddyfile(h.Dispenser)
	return &g, err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Gate)(nil)
	_ caddyhttp.MiddlewareHandler = (*Gate)(nil)
	_ caddyfile.Unmarshaler       = (*Gate)(nil)
)
