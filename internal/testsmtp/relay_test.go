package testsmtp

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const qpMessage = "From: Bank <no-reply@bank.example>\r\nTo: alice@example.com\r\nSubject: Approve\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"Approve at https://bank.example/ciba/device/abc=3D1 =E2=80=94 now\r\n"

// send delivers one message as a real client would, returning the first error.
func send(r *Relay, implicitTLS bool, user, pass, body string) error {
	conf := &tls.Config{RootCAs: r.Roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	var c *smtp.Client
	var err error
	if implicitTLS {
		c, err = smtp.DialTLS(r.Addr, conf)
	} else {
		c, err = smtp.DialStartTLS(r.Addr, conf)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
			return err
		}
	}
	return c.SendMail("no-reply@bank.example", []string{"alice@example.com", "audit@bank.example"}, strings.NewReader(body))
}

func TestRelay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		implicitTLS bool
		user, pass  string
		code        int // the SMTP refusal, 0 when accepted
	}{
		{"STARTTLS", false, Username, Password, 0},
		{"implicit TLS", true, Username, Password, 0},
		{"wrong password", false, Username, "guess", 535},
		{"unknown user", true, "someone", Password, 535},
		{"no AUTH", false, "", "", 502}, // go-smtp's ErrAuthRequired
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Start(t, tc.implicitTLS)
			err := send(r, tc.implicitTLS, tc.user, tc.pass, qpMessage)
			if tc.code != 0 {
				var se *smtp.SMTPError
				if !errors.As(err, &se) || se.Code != tc.code {
					t.Fatalf("err = %v, want SMTP %d", err, tc.code)
				}
				if r.Count() != 0 {
					t.Errorf("a refused message was kept")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := r.Next(t)
			if m.From != "no-reply@bank.example" || len(m.To) != 2 || m.To[1] != "audit@bank.example" {
				t.Errorf("envelope %q %q", m.From, m.To)
			}
			if m.Header.Get("Subject") != "Approve" {
				t.Errorf("header %v", m.Header)
			}
			// The body is decoded from quoted-printable, as a reader would see it.
			if want := "Approve at https://bank.example/ciba/device/abc=1 \u2014 now\r\n"; m.Body != want {
				t.Errorf("body %q, want %q", m.Body, want)
			}
			if r.Count() != 1 {
				t.Errorf("Count = %d", r.Count())
			}
		})
	}
}

// TestRelayTempFailures: the first DATA commands are answered 451, then mail is accepted.
func TestRelayTempFailures(t *testing.T) {
	t.Parallel()
	r := Start(t, false)
	r.TempFailures = 2
	for i := range 2 {
		var se *smtp.SMTPError
		if err := send(r, false, Username, Password, qpMessage); !errors.As(err, &se) || se.Code != 451 {
			t.Fatalf("attempt %d: %v, want 451", i, err)
		}
	}
	if err := send(r, false, Username, Password, "Subject: plain\r\n\r\nhello\r\n"); err != nil {
		t.Fatal(err)
	}
	if m := r.Next(t); m.Body != "hello\r\n" || r.Count() != 1 {
		t.Errorf("body %q count %d", m.Body, r.Count())
	}
}
