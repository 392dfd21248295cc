package op

import (
	"bytes"
	"net/http"

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

// signedAnswer holds an answer of the payment and funds consent endpoints until it is
// whole, so that it goes out with the gateway's x-jws-signature over its body, as the
// gate's answers on the payment APIs do.
type signedAnswer struct {
	w      http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (s *signedAnswer) Header() http.Header { return s.w.Header() }

func (s *signedAnswer) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}

func (s *signedAnswer) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return s.body.Write(b)
}

// serveSigned runs serve with its answer held, then sends it signed. Without message
// signing set up (a provider built without the payment APIs' key) it sends it unsigned.
func (p *Provider) serveSigned(w http.ResponseWriter, r *http.Request, serve http.HandlerFunc) {
	held := &signedAnswer{w: w}
	serve(held, r)
	if held.status == 0 {
		held.status = http.StatusOK
	}
	if held.body.Len() > 0 && p.MessageSigning.Keys != nil {
		if err := p.SignAnswer(w.Header(), held.body.Bytes()); err != nil {
			w.Header().Del(obsig.HeaderName)
			err := obie.Unexpected("the answer could not be signed", err)
			p.logFailure(r.Context(), r.URL.Path, err)
			obie.WriteError(w, err)
			return
		}
	}
	w.WriteHeader(held.status)
	_, _ = w.Write(held.body.Bytes())
}
