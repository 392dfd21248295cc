package op

import (
	"net/http"
	"strconv"
)

// PathLogo is where the gateway serves the bank's logo to its own pages.
const PathLogo = "/ciba/branding/logo"

// DefaultBankName names the bank on the customer's pages when the config does not.
const DefaultBankName = "Your bank"

// Branding is the bank's identity on the approval page and the access dashboard.
type Branding struct {
	// Name is the bank's name; DefaultBankName when empty.
	Name string
	// Color is the accent colour, #rrggbb, checked by the config; none when empty.
	Color string
	// Logo is the logo file's content, of media type LogoType (image/svg+xml or
	// image/png, checked by the config); no logo when empty.
	Logo     []byte
	LogoType string
}

// BankName is the name the pages show.
func (b Branding) BankName() string {
	if b.Name == "" {
		return DefaultBankName
	}
	return b.Name
}

// ServeLogo answers the logo, or 404 when there is none. An SVG is a document that could
// carry script: it is served sandboxed, with nothing else allowed to load.
func (p *Provider) ServeLogo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b := p.Branding
	if len(b.Logo) == 0 {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", b.LogoType)
	h.Set("Content-Length", strconv.Itoa(len(b.Logo)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b.Logo)
}
