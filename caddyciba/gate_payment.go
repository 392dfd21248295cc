package caddyciba

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/op"
)

// paymentForwardTimeout bounds a forward of the payment gate. The forward does not end
// when the TPP hangs up (the bank may be paying); it ends here, well inside the
// idempotency key's lease (payment.DefaultLease), so no repeat takes the key over while
// the first is still waiting on the bank.
const paymentForwardTimeout = 60 * time.Second

// servePayment is the gate for the payment APIs (UK OB v3.1 PISP and CBPII): Admit has
// found the path to be no account information endpoint and it lies under their prefix.
// op.AdmitPayment decides the request, op.ServePayment forwards it and judges the bank's
// answer; every answer goes out here, signed with the gateway's x-jws-signature. The
// bank sees the TPP's body as sent, with the gate's identity headers, and none of what
// scrub removes.
func (g *Gate) servePayment(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// The answer's headers are held apart: of them, only those the gate sets go out.
	out := op.NewHeldAnswer(http.Header{})
	out.Header().Set(interactionHeader, w.Header().Get(interactionHeader))
	adm, refusal := g.provider.AdmitPayment(r)
	if refusal != nil {
		countRefusal(refusal.Status)
		obie.WriteError(out, refusal)
		return g.sendSigned(w, r, out)
	}
	op.GateAllowed.Inc()
	subject, consentID, accounts := adm.Identity()
	r.URL.RawQuery, r.URL.ForceQuery, r.URL.Fragment, r.URL.RawFragment = "", false, "", ""
	h := r.Header
	g.scrub(h)
	h.Set(interactionHeader, out.Header().Get(interactionHeader))
	setIf(h, g.SubjectHeader, subject)
	setIf(h, g.ConsentHeader, consentID)
	h.Set(g.ClientHeader, adm.Token.ClientID)
	setIf(h, g.AccountsHeader, accounts)
	h.Set("Accept", "application/json")
	r.Body, r.ContentLength, r.TransferEncoding = http.NoBody, 0, nil
	if adm.Body != nil {
		body := adm.Body
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		h.Set("Content-Type", "application/json")
	}
	caddyhttp.SetVar(r.Context(), "ciba.consent_id", consentID)
	caddyhttp.SetVar(r.Context(), "ciba.subject", subject)
	caddyhttp.SetVar(r.Context(), "ciba.client_id", adm.Token.ClientID)
	forward := func() op.BankAnswer {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), paymentForwardTimeout)
		defer cancel()
		bank := &bankCapture{header: http.Header{}, limit: g.MaxItemSize}
		return bank.answer(bank.serve(next, r.WithContext(ctx)))
	}
	g.provider.ServePayment(out, r, adm, forward)
	return g.sendSigned(w, r, out)
}

func setIf(h http.Header, name, value string) {
	if value != "" {
		h.Set(name, value)
	}
}

// sendSigned writes an answer of the payment gate signed, and of its headers only those
// the gate itself set (the Bearer challenge, Allow).
func (g *Gate) sendSigned(w http.ResponseWriter, r *http.Request, a *op.HeldAnswer) error {
	for _, name := range []string{"WWW-Authenticate", "Allow"} {
		if v := a.Header().Get(name); v != "" {
			w.Header().Set(name, v)
		}
	}
	g.provider.SendSigned(w, r, a)
	return nil
}

// bankCapture reads the bank's answer to a forward of the payment gate whole, up to
// limit bytes, before any of it is judged.
type bankCapture struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	limit    int64
	tooLarge bool
}

func (b *bankCapture) Header() http.Header { return b.header }

func (b *bankCapture) WriteHeader(status int) {
	// 1xx answers (103 Early Hints) are not the answer.
	if b.status == 0 && status >= 200 {
		b.status = status
	}
}

var errBankAnswerTooLarge = errors.New("the bank's answer is larger than the gate reads")

func (b *bankCapture) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if int64(b.body.Len()+len(p)) > b.limit {
		b.tooLarge = true
		return 0, errBankAnswerTooLarge
	}
	return b.body.Write(p)
}

// Flush does nothing: the answer is judged whole.
func (b *bankCapture) Flush() {}

// serve runs the handlers after the gate into the capture. reverse_proxy aborts an answer
// it cannot copy whole (here: one past the limit, or cut short by the bank) by panicking
// with http.ErrAbortHandler; that, and any other panic on the way, is an answer the gate
// cannot read, never a reason to skip consuming or releasing the consent.
func (b *bankCapture) serve(next caddyhttp.Handler, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("the forward was aborted: %v", v)
		}
	}()
	return next.ServeHTTP(b, r)
}

// answer is what the forward came back with: no status means no answer (unreachable,
// timed out); a status with an error means an answer cut short or too large, which the
// gate cannot read but which still says whether the bank accepted.
func (b *bankCapture) answer(err error) op.BankAnswer {
	if b.status == 0 {
		if err == nil {
			err = errors.New("the bank's answer had no status")
		}
		return op.BankAnswer{Err: err}
	}
	return op.BankAnswer{Status: b.status, Header: b.header, Body: b.body.Bytes(), TooLarge: b.tooLarge || err != nil}
}
