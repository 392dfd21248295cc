// Package devicepage is the approval page the device link opens: one self-contained HTML
// document with its style and script inline, allowed by hash in a strict
// Content-Security-Policy, so it needs no other asset and runs behind any proxy.
package devicepage

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html"
	"strings"
)

var (
	//go:embed page.html
	pageHTML string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string
)

// Brand is the bank's identity on the page.
type Brand struct {
	// Name is the bank's name, as text.
	Name string
	// Color is an accent colour the caller checked is #rrggbb; none when empty.
	Color string
	// Logo is the logo's same-origin path; none when empty.
	Logo string
}

// HTML and CSP are the page of a bank with no branding but its default name.
var HTML, CSP = Render(Brand{Name: "Your bank"})

// Render is the page of the brand, the same for every link since the token stays in the
// fragment, and the CSP that allows its own inline style and script and fetches to its own
// origin only.
func Render(b Brand) (page []byte, csp string) {
	css := Style(pageCSS, b.Color)
	bank := ""
	if b.Logo != "" {
		bank = `<img src="` + html.EscapeString(b.Logo) + `" alt="">`
	}
	bank += `<span id="bank-name">` + html.EscapeString(b.Name) + `</span>`
	page = []byte(strings.NewReplacer("/*STYLE*/", css, "/*SCRIPT*/", pageJS, "/*BANK*/", bank).Replace(pageHTML))
	csp = "default-src 'none'; script-src '" + Hash(pageJS) + "'; style-src '" + Hash(css) +
		"'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return page, csp
}

// Style is css with the accent colour, when set, on light pages and as the bank's rule;
// dark pages keep their own light accent, which reads on a dark ground.
func Style(css, color string) string {
	if color == "" {
		return css
	}
	return css + "@media (prefers-color-scheme: light) { :root { --accent: " + color + "; } }\n" +
		".bank { border-bottom: 3px solid " + color + "; padding-bottom: .5rem; }\n"
}

// Hash is the CSP source of an inline text.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
