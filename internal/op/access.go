package op

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/op/accesspage"
	"github.com/caddyciba/gateway/internal/op/devicepage"
	"github.com/caddyciba/gateway/internal/users"
)

// PathAccess is the customer's access dashboard.
const PathAccess = "/ciba/access"

// customerState is what the customer's pages need, made once from the branding.
type customerState struct {
	once       sync.Once
	devicePage []byte
	deviceCSP  string
	access     *accesspage.Renderer
	// dummyHash is checked for a login that names no one who can sign in, so that the
	// answer takes as long as for a wrong password.
	dummyHash []byte
	uses      useNotes
}

func (p *Provider) pages() *customerState {
	c := &p.customer
	c.once.Do(func() {
		b := devicepage.Brand{Name: p.Branding.BankName(), Color: p.Branding.Color}
		if len(p.Branding.Logo) > 0 {
			b.Logo = PathLogo
		}
		c.devicePage, c.deviceCSP = devicepage.Render(b)
		c.access = accesspage.New(p.Branding.Color)
		c.dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no one signs in with this"), bcrypt.DefaultCost)
	})
	return c
}

// Answers of the dashboard. One answer for every refused sign-in, whether the login names
// no one, a disabled customer, a wrong password or a locked one: nothing tells whether a
// customer exists.
const (
	signInRefused  = "The details you entered are not right, or you have tried too many times. Check them and try again later."
	sessionEnded   = "You were signed out. Sign in again to continue."
	formExpired    = "This form has expired. Nothing was changed; try again."
	maxAccessBody  = 16 << 10
	maxLoginLength = 256
)

// ServeAccess answers the access dashboard: GET shows the sign-in form, or the customer's
// consents with a session; POST takes the forms' actions (sign-in, withdraw-confirm,
// withdraw, sign-out).
func (p *Provider) ServeAccess(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s, _ := p.session(r)
		if s == nil {
			p.renderAccess(w, http.StatusOK, &accesspage.View{})
			return
		}
		p.renderList(w, http.StatusOK, s, "", "")
	case http.MethodPost:
		p.accessPost(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (p *Provider) accessPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAccessBody)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		p.renderAccess(w, http.StatusBadRequest, &accesspage.View{Error: formExpired})
		return
	}
	// A form sent from another site is refused before anything is read: the session
	// cookie is SameSite=Strict, and the sign-in form is not for other sites either.
	if crossSite(r) {
		p.renderAccess(w, http.StatusForbidden, &accesspage.View{Error: formExpired})
		return
	}
	action := r.PostForm.Get("action")
	if action == "sign-in" {
		p.signIn(w, r)
		return
	}
	s, cookie := p.session(r)
	if s == nil {
		p.renderAccess(w, http.StatusUnauthorized, &accesspage.View{Error: sessionEnded})
		return
	}
	if !s.validCSRF(r) {
		p.renderList(w, http.StatusForbidden, s, "", formExpired)
		return
	}
	switch action {
	case "sign-out":
		if err := p.endSession(w, r, cookie); err != nil {
			p.logStep(r.Context(), "access sign-out", "", "", err)
			p.renderList(w, http.StatusInternalServerError, s, "", "Signing out failed. Try again.")
			return
		}
		p.logStep(r.Context(), "access sign-out", "", "", nil)
		p.renderAccess(w, http.StatusOK, &accesspage.View{Notice: "You have signed out."})
	case "withdraw-confirm":
		c := p.customerConsent(s.Subject, r.PostForm.Get("consent"))
		if c == nil {
			p.renderList(w, http.StatusNotFound, s, "", "There is no such access.")
			return
		}
		e := p.entry(c, p.Now())
		p.renderAccess(w, http.StatusOK, &accesspage.View{Signed: true, CSRF: s.CSRF, Confirm: &e})
	case "withdraw":
		p.withdraw(w, r, s)
	default:
		p.renderList(w, http.StatusBadRequest, s, "", formExpired)
	}
}

// withdraw ends the customer's consent the way the bank's operator does (RevokeConsent):
// the TPP's tokens are refused at their next use.
func (p *Provider) withdraw(w http.ResponseWriter, r *http.Request, s *accessSession) {
	c := p.customerConsent(s.Subject, r.PostForm.Get("consent"))
	if c == nil {
		p.renderList(w, http.StatusNotFound, s, "", "There is no such access.")
		return
	}
	name := p.clientName(c.ClientID)
	_, err := p.RevokeConsent(c.ID)
	const step = "consent withdrawn by the customer"
	switch {
	case errors.Is(err, ErrNotRevocable) || errors.Is(err, consent.ErrNotAuthorised):
		p.logOutcome(r.Context(), zapcore.WarnLevel, step, c.ClientID, c.ID, "not_revocable")
		p.renderList(w, http.StatusConflict, s, "", name+" no longer had access.")
	case err != nil:
		p.logStep(r.Context(), step, c.ClientID, c.ID, err)
		p.renderList(w, http.StatusInternalServerError, s, "", "The access could not be withdrawn. Try again.")
	default:
		p.logStep(r.Context(), step, c.ClientID, c.ID, nil)
		p.renderList(w, http.StatusOK, s, name+" can no longer see your account information.", "")
	}
}

// signIn checks the login and password under the lockout every password check shares,
// and starts a session.
func (p *Provider) signIn(w http.ResponseWriter, r *http.Request) {
	login, password := r.PostForm.Get("login"), r.PostForm.Get("password")
	if len(login) > maxLoginLength {
		login = ""
	}
	refuse := func(outcome string) {
		p.logOutcome(r.Context(), zapcore.WarnLevel, "access sign-in", "", "", outcome)
		p.renderAccess(w, http.StatusUnauthorized, &accesspage.View{Error: signInRefused, Login: login})
	}
	u := p.Users.ByHint(login)
	if u == nil || u.Disabled || u.PasswordHash == "" {
		p.dummyCheck(password)
		refuse("access_denied")
		return
	}
	v, err := p.Lockout.Check(p.Store, u, password, p.Now())
	var locked *users.LockedError
	switch {
	case errors.As(err, &locked):
		p.dummyCheck(password)
		refuse("password_locked")
		return
	case err != nil:
		p.logStep(r.Context(), "access sign-in", "", "", err)
		p.renderAccess(w, http.StatusInternalServerError, &accesspage.View{Error: "Something went wrong. Try again in a moment."})
		return
	case !v.OK:
		refuse("wrong_password")
		return
	}
	// A session the browser held before is replaced, never carried over.
	if _, old := p.session(r); old != "" {
		_ = p.endSession(w, r, old)
	}
	s, err := p.startSession(w, r, u.Subject)
	if err != nil {
		p.logStep(r.Context(), "access sign-in", "", "", err)
		p.renderAccess(w, http.StatusInternalServerError, &accesspage.View{Error: "Something went wrong. Try again in a moment."})
		return
	}
	p.logStep(r.Context(), "access sign-in", "", "", nil)
	p.renderList(w, http.StatusOK, s, "", "")
}

func (p *Provider) dummyCheck(password string) {
	_ = bcrypt.CompareHashAndPassword(p.pages().dummyHash, []byte(password))
}

// crossSite tells whether the form may come from another site. A browser that sends
// Sec-Fetch-Site is believed; otherwise the Origin, when sent, must be this host. The
// page's no-referrer policy makes browsers send "Origin: null" with its own forms, so a
// null origin counts only beside Sec-Fetch-Site.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	case "":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host != r.Host
}

// customerConsent is the consent id of the customer, or nil: another customer's consent
// and an unknown id are the same answer.
func (p *Provider) customerConsent(subject, id string) *consent.Consent {
	if id == "" || len(id) > 128 {
		return nil
	}
	c, err := consent.Read(p.Store, id)
	if err != nil || c.Subject == "" || c.Subject != subject {
		return nil
	}
	c.Status = c.StatusAt(p.Now())
	return c
}

func (p *Provider) renderList(w http.ResponseWriter, status int, s *accessSession, notice, failure string) {
	v := &accesspage.View{Signed: true, CSRF: s.CSRF, Notice: notice, Error: failure}
	now := p.Now()
	var list []*consent.Consent
	err := consent.Each(p.Store, now, func(c *consent.Consent) error {
		if c.Subject == s.Subject {
			list = append(list, c)
		}
		return nil
	})
	if err != nil {
		p.flowLog.Error("access list not read", zap.Error(err))
		v.Error = "Your access list could not be read. Try again in a moment."
		status = http.StatusInternalServerError
	}
	// Newest first, by when access was given: consents are created to the second.
	slices.SortStableFunc(list, func(a, b *consent.Consent) int { return grantedAt(b).Compare(grantedAt(a)) })
	for _, c := range list {
		v.Entries = append(v.Entries, p.entry(c, now))
	}
	p.renderAccess(w, status, v)
}

// renderAccess writes the page.
func (p *Provider) renderAccess(w http.ResponseWriter, status int, v *accesspage.View) {
	pg := p.pages()
	v.Bank, v.Action = p.Branding.BankName(), PathAccess
	if len(p.Branding.Logo) > 0 {
		v.Logo = PathLogo
	}
	var buf bytes.Buffer
	if err := pg.access.Render(&buf, v); err != nil {
		p.flowLog.Error("access page not rendered", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header(), pg.access.CSP)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// setPageHeaders are the headers of the customer's pages: never framed, cached, sniffed or
// leaking their address.
func setPageHeaders(h http.Header, csp string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func (p *Provider) clientName(id string) string {
	if cl := p.Clients.Lookup(id); cl != nil && cl.Name != "" {
		return cl.Name
	}
	return id
}

// entry is the consent as the dashboard shows it.
func (p *Provider) entry(c *consent.Consent, now time.Time) accesspage.Entry {
	e := accesspage.Entry{ID: c.ID, Client: p.clientName(c.ClientID), Window: transactionWindow(c),
		Expires: accessLasts(c), Granted: inWords(grantedAt(c)), LastUsed: "Not used yet"}
	switch {
	case c.Status == consent.Authorised && c.Expired(now):
		e.Status, e.StatusKey = "Expired", "expired"
	case c.Status == consent.Authorised:
		e.Status, e.StatusKey, e.Active = "Active", "active", true
	case c.Status == consent.Revoked:
		e.Status, e.StatusKey, e.Ended = "Withdrawn", "withdrawn", inWords(c.UpdatedAt)
	default:
		e.Status, e.StatusKey = "Ended", "ended"
	}
	for _, cl := range consent.Clusters(c.Permissions) {
		v := accesspage.Cluster{Name: cl.Name}
		for _, perm := range cl.Permissions {
			v.Items = append(v.Items, perm.Describe())
		}
		e.Clusters = append(e.Clusters, v)
	}
	u := p.Users.BySubject(c.Subject)
	for _, id := range c.AccountIDs {
		a := accesspage.Account{Name: "Account " + id}
		if u != nil {
			for _, acc := range u.Accounts {
				if acc.AccountID == id {
					if acc.Nickname != "" {
						a.Name = acc.Nickname
					}
					a.Masked = maskedNumber(acc)
				}
			}
		}
		e.Accounts = append(e.Accounts, a)
	}
	if t := p.LastUse(c.ID); !t.IsZero() {
		e.LastUsed = inWords(t)
	}
	return e
}

// grantedAt is when the customer gave the access; consents authorised before the time
// was kept read their creation.
func grantedAt(c *consent.Consent) time.Time {
	if c.AuthorisedAt != nil {
		return *c.AuthorisedAt
	}
	return c.CreatedAt
}

// inWords is a moment as the customer reads it.
func inWords(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") }

// accessLasts says how long the consent lasts: until its ExpirationDateTime, or until the
// customer withdraws it.
func accessLasts(c *consent.Consent) string {
	if c.Expiration == nil {
		return "until you withdraw it"
	}
	return "until " + inWords(c.Expiration.Time)
}
