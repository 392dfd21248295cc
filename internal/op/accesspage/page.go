// Package accesspage is the customer's access dashboard: one server-rendered HTML document
// with its style inline, allowed by hash in a strict Content-Security-Policy, and no script
// at all: signing in and withdrawing are plain forms.
package accesspage

import (
	_ "embed"
	"html/template"
	"io"

	"github.com/caddyciba/gateway/internal/op/devicepage"
)

var (
	//go:embed page.html
	pageHTML string
	//go:embed page.css
	pageCSS string
)

var page = template.Must(template.New("access").Parse(pageHTML))

// View is what one answer shows.
type View struct {
	Bank, Logo string
	// Action is the path every form posts to.
	Action string
	// Signed: a customer is signed in; CSRF is their session's form token.
	Signed bool
	CSRF   string
	// Login is the login hint typed, shown again after a refused sign-in.
	Login         string
	Notice, Error string
	// Confirm, when set, asks to confirm withdrawing that consent.
	Confirm *Entry
	Entries []Entry
	css     template.CSS
}

// Entry is one consent on the dashboard.
type Entry struct {
	ID, Client string
	// Status is in words, StatusKey one of active, withdrawn, expired, ended.
	Status, StatusKey string
	// Active: the consent can be withdrawn.
	Active                                    bool
	Clusters                                  []Cluster
	Accounts                                  []Account
	Granted, Ended, Expires, Window, LastUsed string
}

// Cluster is a data cluster with its permissions in plain words.
type Cluster struct {
	Name  string
	Items []string
}

// Account is an account shared, by nickname and masked number.
type Account struct{ Name, Masked string }

// Renderer renders the dashboard of one bank.
type Renderer struct {
	css template.CSS
	// CSP allows the page's own inline style, images of its own origin and forms to
	// itself, nothing else.
	CSP string
}

// New is the renderer of the accent colour (#rrggbb, checked by the caller; "" for none).
func New(color string) *Renderer {
	css := devicepage.Style(pageCSS, color)
	return &Renderer{
		css: template.CSS(css),
		CSP: "default-src 'none'; style-src '" + devicepage.Hash(css) + "'; img-src 'self'; form-action 'self'; " +
			"base-uri 'none'; frame-ancestors 'none'",
	}
}

// Render writes the page of v.
func (r *Renderer) Render(w io.Writer, v *View) error {
	v.css = r.css
	return page.Execute(w, v)
}

// CSS is for the template only.
func (v *View) CSS() template.CSS { return v.css }
