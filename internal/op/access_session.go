package op

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// DefaultAccessIdle ends a dashboard session left alone this long.
const DefaultAccessIdle = 15 * time.Minute

// accessCookie names the dashboard's session cookie; the __Host- prefix would need Path=/,
// and the cookie must reach /ciba/access only.
const accessCookie = "ciba_access"

// accessSession is a signed-in customer, stored under the SHA-256 of the cookie's value so
// that the store never holds what the browser presents.
type accessSession struct {
	Subject string `json:"s"`
	// CSRF is the form token every POST of the session carries.
	CSRF string `json:"c"`
	// Seen is when the session was last used, refreshed at most every idle/15.
	Seen time.Time `json:"t"`
}

// accessSessions keeps dashboard sessions under "access/session/" and their cookie's
// hash, as tokens are, as JSON, a minute past their idle limit (checked on reading).
type accessSessions struct{}

func sessionKey(cookie string) string { return token.Key("access/session", cookie) }

func (accessSessions) put(t store.Txn, cookie string, s *accessSession, idle time.Duration) error {
	buf, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return t.Put(sessionKey(cookie), buf, idle+time.Minute)
}

// get reads the session of the cookie; store.ErrNotFound when there is none.
func (accessSessions) get(rd store.Reader, cookie string) (*accessSession, error) {
	buf, err := rd.Get(sessionKey(cookie))
	if err != nil {
		return nil, err
	}
	var s accessSession
	if err := json.Unmarshal(buf, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// end deletes the session of the cookie; one already gone is no error.
func (accessSessions) end(t store.Txn, cookie string) error {
	if err := t.Delete(sessionKey(cookie)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func (p *Provider) accessIdle() time.Duration {
	if p.AccessIdle > 0 {
		return p.AccessIdle
	}
	return DefaultAccessIdle
}

// startSession stores a new session for subject and sets its cookie.
func (p *Provider) startSession(w http.ResponseWriter, r *http.Request, subject string) (*accessSession, error) {
	cookie, err := token.New()
	if err != nil {
		return nil, err
	}
	csrf, err := token.New()
	if err != nil {
		return nil, err
	}
	s := &accessSession{Subject: subject, CSRF: csrf, Seen: p.Now()}
	if err := p.putSession(cookie, s); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{Name: accessCookie, Value: cookie, Path: PathAccess, HttpOnly: true,
		Secure: !loopbackHTTP(r), SameSite: http.SameSiteStrictMode})
	return s, nil
}

func (p *Provider) putSession(cookie string, s *accessSession) error {
	return sessions.put(p.Store, cookie, s, p.accessIdle())
}

// session is the live session the request's cookie names, refreshed when a fifteenth of
// the idle limit has passed since it was last written; nil without one. A session whose
// customer is gone or disabled ends.
func (p *Provider) session(r *http.Request) (*accessSession, string) {
	c, err := r.Cookie(accessCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, ""
	}
	s, err := sessions.get(p.Store, c.Value)
	if err != nil {
		return nil, ""
	}
	now, idle := p.Now(), p.accessIdle()
	if u := p.Users.BySubject(s.Subject); u == nil || u.Disabled || !now.Before(s.Seen.Add(idle)) {
		_ = sessions.end(p.Store, c.Value)
		return nil, ""
	}
	if now.Sub(s.Seen) > idle/15 {
		s.Seen = now
		if p.putSession(c.Value, s) != nil {
			return nil, ""
		}
	}
	return s, c.Value
}

// endSession deletes the session and clears its cookie.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request, cookie string) error {
	http.SetCookie(w, &http.Cookie{Name: accessCookie, Value: "", Path: PathAccess, MaxAge: -1, HttpOnly: true,
		Secure: !loopbackHTTP(r), SameSite: http.SameSiteStrictMode})
	return sessions.end(p.Store, cookie)
}

// validCSRF compares the form's token with the session's in constant time.
func (s *accessSession) validCSRF(r *http.Request) bool {
	got := r.PostForm.Get("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

// loopbackHTTP is a plain HTTP request to a loopback host, where a browser would not send
// a Secure cookie back; everywhere else the cookie is Secure.
func loopbackHTTP(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
