// Package devicepage is the approval page the device link opens: one self-contained HTML
// document with its style and script inline, allowed by hash in a strict
// Content-Security-Policy, so it needs no other asset and runs behind any proxy.
package devicepage

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
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

// HTML is the page; the same for every link, since the token stays in the fragment.
var HTML = []byte(strings.NewReplacer("/*STYLE*/", pageCSS, "/*SCRIPT*/", pageJS).Replace(pageHTML))

// CSP allows the page's own inline style and script and fetches to its own origin only.
var CSP = "default-src 'none'; script-src '" + hash(pageJS) + "'; style-src '" + hash(pageCSS) +
	"'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
