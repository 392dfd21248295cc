package op

import (
	"context"
	"mime"
	"net/http"
	"strings"

	"go.uber.org/zap/zapcore"

	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/payment"
)

// BankAnswer is the bank's answer to a request the payment gate forwarded, read whole
// (up to a bound) before anything of it reaches the TPP.
type BankAnswer struct {
	Status int
	Header http.Header
	Body   []byte
	// Err is set when no whole answer came: the bank unreachable, a timeout, an answer cut
	// short. TooLarge: the body went past the bound.
	Err      error
	TooLarge bool
}

// Forward sends the admitted request on to the bank, once, and returns its answer.
type Forward func() BankAnswer

// accepted tells whether the bank accepted the request: any 2xx, readable or not.
func (b *BankAnswer) accepted() bool { return b.Err == nil && b.Status >= 200 && b.Status < 300 }

// readable is the body when the answer is exactly what the gate passes on: the status
// wanted, application/json (charset UTF-8 at most), no content coding, one JSON object
// without repeated member names, whole.
func (b *BankAnswer) readable(status int) (map[string]any, bool) {
	if b.Err != nil || b.TooLarge || b.Status != status {
		return nil, false
	}
	mt, params, err := mime.ParseMediaType(b.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return nil, false
		}
	}
	if ce := b.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, false
	}
	return payment.StrictObject(b.Body)
}

// The gate's own answers when the bank's is not passed on (each logged with its cause),
// rendered with the request's x-fapi-interaction-id as the error's Id.
func answerUnreadable(w http.ResponseWriter) payment.Answer {
	return obieAnswer(w, "The bank's answer could not be passed on", "the bank answered in a form the gateway does not pass on")
}

func answerNoBank(w http.ResponseWriter) payment.Answer {
	return obieAnswer(w, "The bank did not answer", "the bank could not be reached or did not answer in time; nothing was done, the request may be retried")
}

func answerRefused(w http.ResponseWriter) payment.Answer {
	return obieAnswer(w, "The bank refused the request", "the bank did not accept the request; nothing was done, the request may be retried")
}

func answerUnsure(w http.ResponseWriter) payment.Answer {
	return obieAnswer(w, "The bank's answer could not be read", "the bank accepted the payment but its answer could not be read; the consent is spent")
}

// obieAnswer is a 502 with an OB error body.
func obieAnswer(w http.ResponseWriter, message, detail string) payment.Answer {
	rec := &bodyRecorder{header: http.Header{}}
	rec.header.Set(obie.InteractionHeader, w.Header().Get(obie.InteractionHeader))
	obie.WriteError(rec, obie.New(http.StatusBadGateway, message, obie.Item{ErrorCode: obie.CodeUnexpectedError, Message: detail}))
	return payment.Answer{Status: http.StatusBadGateway, Body: rec.body}
}

type bodyRecorder struct {
	header http.Header
	body   []byte
}

func (b *bodyRecorder) Header() http.Header { return b.header }
func (b *bodyRecorder) WriteHeader(int)     {}
func (b *bodyRecorder) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}

func writePaymentAnswer(w http.ResponseWriter, a payment.Answer) {
	writeJSONBytes(w, a.Status, a.Body)
}

// ServePayment finishes an admitted request of the payment APIs: it forwards it and
// answers the bank's answer when it is what the endpoint returns (201 of a POST, 200 of
// a GET, a JSON object, a GET of a payment about that payment), else a 502 with an OB
// error body. A payment goes through ServeDomesticPayment.
func (p *Provider) ServePayment(w http.ResponseWriter, r *http.Request, adm *PaymentAdmission, forward Forward) {
	if adm.Endpoint.Kind == payment.DomesticPayments {
		p.ServeDomesticPayment(w, r, adm, forward)
		return
	}
	want := http.StatusOK
	if adm.Endpoint.Method() == http.MethodPost {
		want = http.StatusCreated
	}
	bank := forward()
	obj, ok := bank.readable(want)
	if ok && adm.Endpoint.Kind == payment.DomesticPayment {
		id, _ := payment.DataString(obj, "DomesticPaymentId")
		ok = id == adm.Endpoint.ID
	}
	_, consentID, _ := adm.Identity()
	if !ok {
		p.logBank(r.Context(), adm, consentID, &bank)
		switch {
		case bank.Err != nil:
			writePaymentAnswer(w, answerNoBank(w))
		case !bank.accepted():
			writePaymentAnswer(w, answerRefused(w))
		default:
			writePaymentAnswer(w, answerUnreadable(w))
		}
		return
	}
	p.logStep(r.Context(), "payment_gate", adm.Token.ClientID, consentID, nil)
	writeJSONBytes(w, want, bank.Body)
}

func (p *Provider) logBank(ctx context.Context, adm *PaymentAdmission, consentID string, bank *BankAnswer) {
	cause := "status " + http.StatusText(bank.Status) + ", content type " + bank.Header.Get("Content-Type")
	switch {
	case bank.Err != nil:
		cause = bank.Err.Error()
	case bank.TooLarge:
		cause = "the answer is too large"
	}
	p.logOutcome(ctx, zapcore.WarnLevel, "payment_gate_bank", adm.Token.ClientID, consentID, "refused: "+adm.Endpoint.Name()+": "+cause)
}

// ServeDomesticPayment makes a payment once. The x-idempotency-key is required: a repeat
// with the same body answers the first answer without a second forward — racing repeats
// wait for it —, one with another body is refused. The consent is reserved before the
// forward (one payment per consent across instances: a second is refused with
// InvalidConsentStatus). On the bank's 2xx it is Consumed, in one transaction with the
// payment's record (which client made it) and the idempotency answer; on no answer or a
// refusal (non-2xx) it is released and the key let go, so the TPP can retry. A 2xx the
// gate cannot read is never released — the bank may have paid — and is answered 502.
func (p *Provider) ServeDomesticPayment(w http.ResponseWriter, r *http.Request, adm *PaymentAdmission, forward Forward) {
	clientID, c := adm.Token.ClientID, adm.Domestic
	key := payment.IdempotencyKey{Endpoint: adm.Endpoint.Name(), ClientID: clientID, Key: r.Header.Get(IdempotencyHeader)}
	if key.Key == "" {
		obie.WriteError(w, obie.New(http.StatusBadRequest, "x-idempotency-key is required",
			obie.Item{ErrorCode: obie.CodeHeaderMissing, Message: "a payment is made with an x-idempotency-key", Path: "x-idempotency-key"}))
		return
	}
	repo := p.paymentRepo()
	ctx, cancel := context.WithTimeout(r.Context(), repeatWait)
	first, err := repo.ClaimOrWait(ctx, key, adm.Body, p.Now)
	cancel()
	if err != nil {
		obie.WriteError(w, paymentError(err))
		return
	}
	if first != nil {
		p.logOutcome(r.Context(), zapcore.InfoLevel, "payment", clientID, c.ID, "repeat")
		writePaymentAnswer(w, *first)
		return
	}
	res, _, err := repo.Reserve(clientID, c.ID, p.Now())
	if err != nil {
		_ = repo.Abandon(key)
		p.logStep(r.Context(), "payment", clientID, c.ID, paymentError(err))
		obie.WriteError(w, paymentError(err))
		return
	}
	bank := forward()
	if !bank.accepted() {
		// Nothing was paid: the consent and the key go back for a retry.
		p.logBank(r.Context(), adm, c.ID, &bank)
		releaseErr := repo.Release(res, p.Now())
		_ = repo.Abandon(key)
		if releaseErr != nil {
			p.logStep(r.Context(), "payment", clientID, c.ID, obie.Unexpected("the reservation could not be released", releaseErr))
		}
		if bank.Err != nil {
			writePaymentAnswer(w, answerNoBank(w))
		} else {
			writePaymentAnswer(w, answerRefused(w))
		}
		return
	}
	answer := answerUnsure(w)
	paymentID := ""
	if _, ok := bank.readable(http.StatusCreated); ok {
		if id, ok := payment.PaymentIDOf(bank.Body, c.ID); ok {
			paymentID = id
			answer = payment.Answer{Status: http.StatusCreated, Body: bank.Body, Resource: id}
		}
	}
	if paymentID == "" {
		p.logBank(r.Context(), adm, c.ID, &bank)
	}
	now := p.Now()
	err = p.Store.Update(func(t store.Txn) error {
		if _, err := payment.ConsumeIn(t, res, paymentID, now); err != nil {
			return err
		}
		if paymentID != "" {
			saved, err := payment.SavePaymentIn(t, &payment.PaymentRecord{ID: paymentID, ClientID: clientID, ConsentID: c.ID, CreatedAt: now})
			if err != nil {
				return err
			}
			if !saved {
				p.logOutcome(r.Context(), zapcore.WarnLevel, "payment", clientID, c.ID, "the bank repeated DomesticPaymentId "+paymentID+"; its first owner keeps it")
			}
		}
		return payment.CompleteIn(t, key, answer, now)
	})
	if err != nil {
		// The bank paid; the consent stays reserved (never paid twice) and the TPP gets the
		// bank's answer all the same.
		p.logStep(r.Context(), "payment", clientID, c.ID, obie.Unexpected("the payment could not be recorded", err))
	} else {
		consentTransitions.WithLabelValues(string(payment.Consumed)).Inc()
	}
	p.logStep(r.Context(), "payment", clientID, c.ID, nil)
	writePaymentAnswer(w, answer)
}
