package payment

import (
	"errors"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// PaymentRecord is what the gateway keeps of a domestic payment the bank accepted: who
// made it, so that only that client reads it back (GET /domestic-payments/{id}).
type PaymentRecord struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	ConsentID string    `json:"consent_id"`
	CreatedAt time.Time `json:"created_at"`
}

const paymentPrefix = "paydp/"

// PaymentRetention is how long a payment's record is kept: a TPP reads a payment's status
// for a while after it, not forever.
const PaymentRetention = 400 * 24 * time.Hour

// ConsumeIn is Consume inside t, so the consent's end commits with the payment's record
// and the idempotency answer.
func ConsumeIn(t store.Txn, res Reservation, paymentID string, now time.Time) (*Consent, error) {
	return ChangeDomestic(t, res.ConsentID, now, func(c *Consent) error { return c.consume(res.Token, paymentID, now) })
}

// SavePaymentIn records a payment the bank accepted. A DomesticPaymentId already recorded
// keeps its first owner (a bank that repeats an id never hands one client's payment to
// another); saved is false then.
func SavePaymentIn(t store.Txn, rec *PaymentRecord) (saved bool, err error) {
	err = putNew(t, paymentPrefix+rec.ID, rec, PaymentRetention)
	if errors.Is(err, store.ErrExists) {
		return false, nil
	}
	return err == nil, err
}

// ReadPayment reads a payment's record; ErrNotFound when the gateway holds none.
func ReadPayment(rd store.Reader, id string) (*PaymentRecord, error) {
	var rec PaymentRecord
	if err := read(rd, paymentPrefix, id, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// StrictObject decodes body as one JSON object without repeated member names (what the
// gate passes on of a bank's answer); ok is false for anything else.
func StrictObject(body []byte) (map[string]any, bool) {
	v, err := decodeStrict(body)
	obj, ok := v.(map[string]any)
	return obj, err == nil && ok
}

// DataString is the string member name of the object at Data in an answer decoded by
// StrictObject; ok is false when it is absent or not a string.
func DataString(obj map[string]any, name string) (string, bool) {
	data, _ := obj["Data"].(map[string]any)
	s, ok := data[name].(string)
	return s, ok
}

// PaymentIDOf reads the DomesticPaymentId of the bank's answer to a payment of the
// consent: an OBWriteDomesticResponse whose Data.DomesticPaymentId is an OB id and whose
// Data.ConsentId, if given, is the consent's. ok is false for anything else.
func PaymentIDOf(body []byte, consentID string) (paymentID string, ok bool) {
	obj, ok := StrictObject(body)
	if !ok {
		return "", false
	}
	id, ok := DataString(obj, "DomesticPaymentId")
	if !ok || !IsOBID(id) {
		return "", false
	}
	if data, _ := obj["Data"].(map[string]any); data["ConsentId"] != nil {
		if c, _ := data["ConsentId"].(string); c != consentID {
			return "", false
		}
	}
	return id, true
}
