package notifier

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP security modes.
const (
	StartTLS = "starttls"
	TLS      = "tls"
	// Plain sends in clear text; allowed only to a loopback relay.
	Plain = "none"
)

// SMTP mails the device link and the binding message to the user's address.
type SMTP struct {
	// Address is the relay's host:port.
	Address string
	// Security is StartTLS (the default), TLS (implicit, port 465) or Plain.
	Security string
	// Username and Password authenticate with AUTH PLAIN, over TLS only.
	Username, Password string
	// From is the sender, an RFC 5322 address.
	From string
	// TLSConfig verifies the relay; nil uses the system roots.
	TLSConfig *tls.Config
	// Bank is the bank's name (the ciba app's branding), leading the subject so the
	// customer sees who writes; none when empty.
	Bank string
}

// ErrNoAddress is returned for a user the users file gives no mail address.
var ErrNoAddress = errors.New("the user has no mail address")

// Name implements Channel.
func (s *SMTP) Name() string { return "smtp" }

// Check validates the settings once, at start.
func (s *SMTP) Check() error {
	host, _, err := net.SplitHostPort(s.Address)
	if err != nil || host == "" {
		return fmt.Errorf("smtp address %q must be host:port", s.Address)
	}
	switch s.Security {
	case "", StartTLS, TLS:
	case Plain:
		if !IsLoopback(host) {
			return fmt.Errorf("smtp security none is allowed only to a loopback relay, not %s", host)
		}
	default:
		return fmt.Errorf("smtp security %q is not starttls, tls or none", s.Security)
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return fmt.Errorf("smtp from %q: %v", s.From, err)
	}
	if (s.Username == "") != (s.Password == "") {
		return errors.New("smtp username and password go together")
	}
	return nil
}

// Notify implements Channel: temporary failures (a 4xx reply, a dropped connection) are
// retried until the request expires, permanent ones (5xx) are not.
func (s *SMTP) Notify(ctx context.Context, n *Notification) error {
	return retrying(ctx, time.Second, 30*time.Second, func() (bool, error) { return s.Attempt(ctx, n) })
}

// Attempt implements Attempter.
func (s *SMTP) Attempt(ctx context.Context, n *Notification) (bool, error) {
	if n.Email == "" {
		return false, ErrNoAddress
	}
	msg, err := s.message(n)
	if err != nil {
		return false, err
	}
	err = s.send(ctx, n.Email, msg)
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Temporary(), err
	}
	return err != nil, err
}

// Backoff implements Attempter.
func (s *SMTP) Backoff(attempt int) time.Duration {
	return Backoff(time.Second, 30*time.Second, attempt)
}

func (s *SMTP) send(ctx context.Context, to string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, AttemptTimeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(s.Address)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	var conn net.Conn
	var err error
	if s.Security == TLS {
		conn, err = (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", s.Address)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", s.Address)
	}
	if err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	var c *smtp.Client
	if s.Security == "" || s.Security == StartTLS {
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			return err
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if s.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			return err
		}
	}
	from, _ := mail.ParseAddress(s.From)
	if err := c.SendMail(from.Address, []string{to}, bytes.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

// message is the mail: plain text, quoted-printable so that the long link survives
// every relay, with the header values encoded so none can break a line.
func (s *SMTP) message(n *Notification) ([]byte, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	from, _ := mail.ParseAddress(s.From)
	to := mail.Address{Address: n.Email}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from.String())
	header("To", to.String())
	subject := "Approve " + n.ClientName + "'s " + mailAsk(n)
	if s.Bank != "" {
		subject = s.Bank + ": " + subject
	}
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domainOf(from.Address)+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")

	var text strings.Builder
	writeAsk(&text, n)
	if n.BindingMessage != "" {
		fmt.Fprintf(&text, "Check that this code matches the one on %s's screen:\r\n\r\n    %s\r\n\r\n", n.ClientName, n.BindingMessage)
	}
	fmt.Fprintf(&text, "Open this link on your phone to approve or deny:\r\n\r\n%s\r\n\r\n", n.DeviceURL)
	fmt.Fprintf(&text, "The link works once and expires at %s.\r\n", n.ExpiresAt.UTC().Format("15:04 MST on 2 January 2006"))
	text.WriteString("If you did not expect this, deny the request or ignore this mail.\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(text.String())); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// mailAsk names the request in the subject line.
func mailAsk(n *Notification) string {
	switch pay := n.Payment; {
	case pay == nil:
		return "request to see your accounts"
	case pay.Kind == KindFunds:
		return "request to confirm funds in your account"
	default:
		return "payment of " + pay.Amount + " " + pay.Currency + " to " + pay.PayeeName
	}
}

// writeAsk says what the client asks: the account information, or what is paid to whom.
func writeAsk(text *strings.Builder, n *Notification) {
	pay := n.Payment
	switch {
	case pay == nil:
		fmt.Fprintf(text, "%s asks to see your account information.\r\n\r\n", n.ClientName)
		return
	case pay.Kind == KindFunds:
		fmt.Fprintf(text, "%s asks to confirm, when you pay with them, that your account has the money.\r\n\r\n", n.ClientName)
		fmt.Fprintf(text, "    Account:    %s\r\n", pay.DebtorAccount)
		if pay.Until != "" {
			fmt.Fprintf(text, "    Until:      %s\r\n", pay.Until)
		}
	default:
		fmt.Fprintf(text, "%s asks you to make a payment.\r\n\r\n", n.ClientName)
		fmt.Fprintf(text, "    Pay:        %s %s\r\n", pay.Amount, pay.Currency)
		fmt.Fprintf(text, "    To:         %s, account %s\r\n", pay.PayeeName, pay.PayeeAccount)
		if pay.Reference != "" {
			fmt.Fprintf(text, "    Reference:  %s\r\n", pay.Reference)
		}
		if pay.DebtorAccount != "" {
			fmt.Fprintf(text, "    From:       account %s\r\n", pay.DebtorAccount)
		}
	}
	text.WriteString("\r\n")
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

var _ Attempter = (*SMTP)(nil)
