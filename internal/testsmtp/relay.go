// Package testsmtp is a real SMTP relay for tests, built on go-smtp: it listens on
// 127.0.0.1, speaks STARTTLS or implicit TLS with a certificate from its own CA, requires
// AUTH PLAIN, and keeps every message it accepts.
package testsmtp

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/caddyciba/gateway/internal/testpki"
)

// Message is one accepted mail.
type Message struct {
	From string
	To   []string
	// Header and Body are the parsed message, the body decoded from quoted-printable.
	Header mail.Header
	Body   string
}

// Relay is the running server.
type Relay struct {
	Addr string
	// Roots trust the relay's certificate.
	Roots *x509.CertPool
	// CA is the relay's CA, for writing a ca_file.
	CA *testpki.Cert

	mu       sync.Mutex
	messages []Message
	arrive   chan struct{}
	// TempFailures answers the first n DATA commands with 451, to exercise retries.
	TempFailures int
}

// Credentials the relay accepts.
const (
	Username = "ciba-gateway"
	Password = "relay-password-7Q"
)

// Start runs a relay until the test ends; implicitTLS picks TLS from the first byte
// instead of STARTTLS.
func Start(t testing.TB, implicitTLS bool) *Relay {
	t.Helper()
	ca, err := testpki.NewCA("test smtp relay CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Leaf)
	r := &Relay{Roots: roots, CA: ca, arrive: make(chan struct{}, 100)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{relay: r}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, MinVersion: tls.VersionTLS12}
	var l net.Listener
	if implicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// Next waits for the next accepted message.
func (r *Relay) Next(t testing.TB) Message {
	t.Helper()
	select {
	case <-r.arrive:
	case <-time.After(15 * time.Second):
		t.Fatal("no mail arrived")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.messages[len(r.messages)-1]
}

// Count is how many messages were accepted.
func (r *Relay) Count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.messages) }

type session struct {
	relay *Relay
	authd bool
	from  string
	to    []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != Username || password != Password {
			return smtp.ErrAuthFailed
		}
		s.authd = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authd {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }

func (s *session) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return err
	}
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		if body, err = io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(body)))); err != nil {
			return err
		}
	}
	s.relay.mu.Lock()
	if s.relay.TempFailures > 0 {
		s.relay.TempFailures--
		s.relay.mu.Unlock()
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.relay.messages = append(s.relay.messages, Message{From: s.from, To: s.to, Header: msg.Header, Body: string(body)})
	s.relay.mu.Unlock()
	s.relay.arrive <- struct{}{}
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

var _ smtp.AuthSession = (*session)(nil)
