package op

import (
	"bytes"
	"cmp"
	"net/http"
	"strconv"

	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/obsig"
)

// consentSignature verifies the x-jws-signature of a consent POST from a client that signs
// (jws_signature, and every client in fapi mode), as the payment gate does for payments.
func (p *Provider) consentSignature(r *http.Request, clientID string, body []byte) error {
	c := p.Clients.Lookup(clientID)
	if c == nil || !signs(c, p.FAPI) {
		return nil
	}
	if refusal := p.verifySignature(r, body, c, obsig.Required, p.Now()); refusal != nil {
		return refusal
	}
	return nil
}

// HeldAnswer holds an answer of the payment APIs (the gate's and the consent endpoints')
// until it is whole, so that it goes out with the gateway's x-jws-signature over its body.
type HeldAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// NewHeldAnswer holds an answer whose headers are written to header: the response's own,
// or a map of their own when only some of them may go out.
func NewHeldAnswer(header http.Header) *HeldAnswer { return &HeldAnswer{header: header} }

func (a *HeldAnswer) Header() http.Header { return a.header }

func (a *HeldAnswer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *HeldAnswer) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.body.Write(b)
}

// SendSigned writes the held answer to w: its status and JSON body, with the gateway's
// x-jws-signature over the body. A body that cannot be signed is not sent: 500.
func (p *Provider) SendSigned(w http.ResponseWriter, r *http.Request, a *HeldAnswer) {
	status, body := cmp.Or(a.status, http.StatusOK), a.body.Bytes()
	h := w.Header()
	if len(body) > 0 {
		if err := p.SignAnswer(h, body); err != nil {
			h.Del(obsig.HeaderName)
			err := obie.Unexpected("the answer could not be signed", err)
			p.logFailure(r.Context(), r.URL.Path, err)
			obie.WriteError(w, err)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// serveSigned runs serve with its answer held, then sends it signed. Without message
// signing set up (a provider built without the payment APIs' key, as in this package's
// tests) it sends it unsigned.
func (p *Provider) serveSigned(w http.ResponseWriter, r *http.Request, serve http.HandlerFunc) {
	held := NewHeldAnswer(w.Header())
	serve(held, r)
	if p.MessageSigning.Keys == nil {
		w.WriteHeader(cmp.Or(held.status, http.StatusOK))
		_, _ = w.Write(held.body.Bytes())
		return
	}
	p.SendSigned(w, r, held)
}
