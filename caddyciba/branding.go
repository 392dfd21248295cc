package caddyciba

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyciba/gateway/internal/op"
)

// maxLogoSize caps the logo file: it is held in memory and sent with every page view.
const maxLogoSize = 256 << 10

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// BrandingConfig is the bank's identity on the customer's pages: the approval page at the
// device link and the access dashboard at /ciba/access. Without it the pages say
// "Your bank" and show no logo.
type BrandingConfig struct {
	// Name is the bank's name, shown on the pages. Default "Your bank".
	Name string `json:"name,omitempty"`
	// Logo is an SVG or PNG file of at most 256 KiB, read at start and served by the
	// gateway at /ciba/branding/logo. Its content decides its type, which must agree with
	// the file name's extension (.svg or .png).
	Logo string `json:"logo,omitempty"`
	// Color is the accent colour of buttons and links, as #rrggbb.
	Color string `json:"color,omitempty"`
}

func (b *BrandingConfig) validate() error {
	if b == nil {
		return nil
	}
	if len(b.Name) > 80 || strings.ContainsAny(b.Name, "\r\n\x00") {
		return errors.New("branding: name must be one line of at most 80 bytes")
	}
	if b.Color != "" && !colorPattern.MatchString(b.Color) {
		return fmt.Errorf("branding: color %q must be #rrggbb", b.Color)
	}
	return nil
}

// build reads the logo and returns the provider's branding.
func (b *BrandingConfig) build() (op.Branding, error) {
	if b == nil {
		return op.Branding{}, nil
	}
	out := op.Branding{Name: b.Name, Color: strings.ToLower(b.Color)}
	if b.Logo == "" {
		return out, nil
	}
	f, err := os.Open(b.Logo)
	if err != nil {
		return out, fmt.Errorf("branding: logo: %w", err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxLogoSize+1))
	if err != nil {
		return out, fmt.Errorf("branding: logo: %w", err)
	}
	if len(buf) > maxLogoSize {
		return out, fmt.Errorf("branding: logo %s is larger than 256 KiB", b.Logo)
	}
	typ := sniffLogo(buf)
	ext := strings.ToLower(b.Logo[strings.LastIndexByte(b.Logo, '.')+1:])
	if typ == "" || (typ == "image/png") != (ext == "png") || (typ == "image/svg+xml") != (ext == "svg") {
		return out, fmt.Errorf("branding: logo %s must be an SVG (.svg) or PNG (.png) file", b.Logo)
	}
	out.Logo, out.LogoType = buf, typ
	return out, nil
}

// sniffLogo is the logo's media type by its content, or "" when it is neither a PNG nor an
// SVG document.
func sniffLogo(buf []byte) string {
	if bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")) {
		return "image/png"
	}
	s := bytes.TrimPrefix(buf, []byte("\xef\xbb\xbf"))
	s = bytes.TrimLeft(s, " \t\r\n")
	if !bytes.HasPrefix(s, []byte("<")) || bytes.IndexByte(s, 0) >= 0 {
		return ""
	}
	// The root element, after any XML declaration, comments and doctype, is <svg.
	for {
		switch {
		case bytes.HasPrefix(s, []byte("<?")):
			i := bytes.Index(s, []byte("?>"))
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		case bytes.HasPrefix(s, []byte("<!--")):
			i := bytes.Index(s, []byte("-->"))
			if i < 0 {
				return ""
			}
			s = s[i+3:]
		case bytes.HasPrefix(s, []byte("<!DOCTYPE")), bytes.HasPrefix(s, []byte("<!doctype")):
			i := bytes.IndexByte(s, '>')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case bytes.HasPrefix(s, []byte("<svg")) && len(s) > 4 && strings.ContainsRune(" \t\r\n>/", rune(s[4])):
			return "image/svg+xml"
		default:
			return ""
		}
		s = bytes.TrimLeft(s, " \t\r\n")
	}
}

// unmarshalBranding reads a branding block. Syntax:
//
//	branding {
//		name  <text>
//		logo  <svg_or_png_file>
//		color <#rrggbb>
//	}
func unmarshalBranding(d *caddyfile.Dispenser) (*BrandingConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	b := new(BrandingConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "name":
			err = oneArg(d, &b.Name)
		case "logo":
			err = oneArg(d, &b.Logo)
		case "color":
			err = oneArg(d, &b.Color)
		default:
			err = d.Errf("unrecognized branding option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, b.validate()
}
