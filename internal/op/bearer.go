package op

import (
	"net/http"
	"strings"
)

// BearerToken reads the access token from the Authorization header only: a token in the
// query string or the body never counts (FAPI).
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 8 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	tok := strings.TrimSpace(h[7:])
	return tok, tok != ""
}

// Why a presented token does not count, as error_description (RFC 6750 §3): the class of
// the reason, in words a TPP's developer can act on, never a secret. A revoked token is
// deleted and an expired one removed by its time to live, so an unknown token is
// indistinguishable from those two and is named as all three.
const (
	whyUnknown     = "the access token is unknown, expired or revoked"
	whyExpired     = "the access token has expired"
	whyCertificate = "the access token is bound to a client certificate that was not presented on this connection"
	whyClient      = "the client the token was issued to is no longer registered"
	whyUser        = "the user who granted access is no longer known or is disabled"
	whyConsentGone = "the consent no longer exists (deleted)"
	whyConsentOver = "the consent has expired"
)

// challenge is the RFC 6750 §3 WWW-Authenticate value: the realm alone when no
// credentials were sent (§3.1: no error code then), otherwise the error and why.
func challenge(realm, code, why string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	quoteInto(&b, realm)
	b.WriteByte('"')
	if code != "" {
		b.WriteString(`, error="`)
		quoteInto(&b, code)
		b.WriteByte('"')
	}
	if why != "" {
		b.WriteString(`, error_description="`)
		quoteInto(&b, why)
		b.WriteByte('"')
	}
	return b.String()
}

// quoteInto writes s as the inside of a quoted-string: printable ASCII only (anything else
// becomes '?', so no header can be split or mis-encoded), quote and backslash escaped.
func quoteInto(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
}
