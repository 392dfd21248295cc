package notifier

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/caddyciba/gateway/internal/testsmtp"
)

func mailNotification() *Notification {
	return &Notification{
		ID: "dev-1", Email: "alice@example.com", ClientName: "Budget Buddy\r\nBcc: thief@example.com",
		BindingMessage: "Approve 4F2Q", ExpiresAt: time.Now().Add(2 * time.Minute),
		DeviceURL: "https://bank.example/ciba/device/dev-1#t=" + strings.Repeat("A1b2_-", 8),
	}
}

// TestSMTPDelivers: over STARTTLS and implicit TLS, with AUTH, the relay gets one mail to
// the user with the link and the binding message, and no header can be injected.
func TestSMTPDelivers(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		relay := testsmtp.Start(t, implicit)
		s := &SMTP{Address: relay.Addr, Username: testsmtp.Username, Password: testsmtp.Password,
			From: "Bank <no-reply@bank.example>", TLSConfig: &tls.Config{RootCAs: relay.Roots}, Bank: "Demo Bank"}
		if implicit {
			s.Security = TLS
		}
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		n := mailNotification()
		if err := s.Notify(context.Background(), n); err != nil {
			t.Fatalf("implicit TLS %v: %v", implicit, err)
		}
		m := relay.Next(t)
		if m.From != "no-reply@bank.example" || len(m.To) != 1 || m.To[0] != "alice@example.com" {
			t.Fatalf("envelope %s → %v", m.From, m.To)
		}
		if !strings.Contains(m.Body, n.DeviceURL+"\r\n") || !strings.Contains(m.Body, "Approve 4F2Q") {
			t.Fatalf("body lacks the link or the binding message:\n%s", m.Body)
		}
		if m.Header.Get("Bcc") != "" || !strings.HasPrefix(m.Header.Get("Subject"), "=?utf-8?q?") {
			t.Fatalf("header injected: %v", m.Header)
		}
		if subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil || !strings.HasPrefix(subject, "Demo Bank: Approve ") {
			t.Fatalf("subject %q (%v) does not name the bank first", subject, err)
		}
	}
}

// TestSMTPFailures: a temporary refusal is retried, a wrong password or an untrusted relay
// is not delivered, and a user without an address is refused before any connection.
func TestSMTPFailures(t *testing.T) {
	relay := testsmtp.Start(t, false)
	good := func() *SMTP {
		return &SMTP{Address: relay.Addr, Username: testsmtp.Username, Password: testsmtp.Password,
			From: "no-reply@bank.example", TLSConfig: &tls.Config{RootCAs: relay.Roots}}
	}
	relay.TempFailures = 1
	if err := good().Notify(context.Background(), mailNotification()); err != nil {
		t.Fatalf("after a 451: %v", err)
	}
	if relay.Count() != 1 {
		t.Fatalf("%d messages", relay.Count())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wrong := good()
	wrong.Password = "guess"
	start := time.Now()
	var se *smtp.SMTPError
	if err := wrong.Notify(ctx, mailNotification()); !errors.As(err, &se) || se.Code != 535 || time.Since(start) > 3*time.Second {
		t.Fatalf("wrong password: %v after %v (a permanent refusal is not retried)", err, time.Since(start))
	}
	untrusted := good()
	untrusted.TLSConfig = nil
	shortCtx, cancelShort := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancelShort()
	if err := untrusted.Notify(shortCtx, mailNotification()); err == nil {
		t.Fatal("delivered to a relay whose certificate is not trusted")
	}
	n := mailNotification()
	n.Email = ""
	if err := good().Notify(context.Background(), n); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("no address: %v", err)
	}
	if relay.Count() != 1 {
		t.Fatalf("%d messages after the failures", relay.Count())
	}
}

func TestSMTPCheck(t *testing.T) {
	for _, tc := range []struct {
		s    SMTP
		want string
	}{
		{SMTP{Address: "127.0.0.1:25", Security: Plain, From: "a@b.example"}, ""},
		{SMTP{Address: "mail.example:25", Security: Plain, From: "a@b.example"}, "loopback"},
		{SMTP{Address: "mail.example", From: "a@b.example"}, "host:port"},
		{SMTP{Address: "mail.example:587", Security: "ssl", From: "a@b.example"}, "not starttls"},
		{SMTP{Address: "mail.example:587", From: "not an address"}, "smtp from"},
		{SMTP{Address: "mail.example:587", From: "a@b.example", Username: "u"}, "go together"},
	} {
		err := tc.s.Check()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.s, err, tc.want)
		}
	}
}

// TestSMTPPaymentMail: a payment's mail names the amount and payee in its subject and
// shows payee, masked account, amount, reference and the fixed debtor account; a funds
// confirmation's shows the account checked and until when.
func TestSMTPPaymentMail(t *testing.T) {
	s := &SMTP{From: "Bank <no-reply@bank.example>", Bank: "Demo Bank"}
	for _, tc := range []struct {
		name    string
		pay     *PaymentSummary
		subject string
		body    []string
	}{
		{"payment", &PaymentSummary{Kind: KindPayment, PayeeName: "ACME Inc", PayeeAccount: "••••5698", Amount: "10.50", Currency: "GBP", Reference: "INV-42", DebtorAccount: "••••3345"},
			"Demo Bank: Approve Budget Buddy's payment of 10.50 GBP to ACME Inc",
			[]string{"Pay:        10.50 GBP", "To:         ACME Inc, account ••••5698", "Reference:  INV-42", "From:       account ••••3345"}},
		{"funds", &PaymentSummary{Kind: KindFunds, DebtorAccount: "••••3345", Until: "2027-01-01T00:00:00+00:00"},
			"Demo Bank: Approve Budget Buddy's request to confirm funds in your account",
			[]string{"Account:    ••••3345", "Until:      2027-01-01T00:00:00+00:00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := mailNotification()
			n.ClientName, n.Payment = "Budget Buddy", tc.pay
			msg, err := s.message(n)
			if err != nil {
				t.Fatal(err)
			}
			m, err := mail.ReadMessage(strings.NewReader(string(msg)))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
			if err != nil {
				t.Fatal(err)
			}
			if subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); subject != tc.subject {
				t.Fatalf("subject %q", subject)
			}
			for _, line := range tc.body {
				if !strings.Contains(string(body), line) {
					t.Fatalf("body lacks %q:\n%s", line, body)
				}
			}
		})
	}
}
