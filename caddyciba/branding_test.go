package caddyciba

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrandingLogo: only an SVG or PNG file, named for what it is and at most 256 KiB, is
// taken as the logo; anything else stops the config at start.
func TestBrandingLogo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)
	svg := []byte(`<?xml version="1.0"?>` + "\n<!-- logo -->\n" + `<svg xmlns="http://www.w3.org/2000/svg"/>`)
	for _, tc := range []struct {
		name, file string
		content    []byte
		wantType   string // "" when refused
	}{
		{"svg", "logo.svg", svg, "image/svg+xml"},
		{"bare svg", "logo.svg", []byte(`<svg viewBox="0 0 1 1"></svg>`), "image/svg+xml"},
		{"png", "logo.png", png, "image/png"},
		{"example", "../examples/bank-logo.svg", nil, "image/svg+xml"},
		{"png named svg", "logo.svg", png, ""},
		{"svg named png", "logo.png", svg, ""},
		{"html named svg", "logo.svg", []byte(`<html><svg></svg><script>alert(1)</script></html>`), ""},
		{"svgfoo element", "logo.svg", []byte(`<svgfoo/>`), ""},
		{"jpeg", "logo.jpg", []byte("\xff\xd8\xff\xe0"), ""},
		{"gif named png", "logo.png", []byte("GIF89a"), ""},
		{"unterminated comment", "logo.svg", []byte(`<!-- <svg/>`), ""},
		{"too large", "logo.png", append(png, bytes.Repeat([]byte{0}, maxLogoSize)...), ""},
		{"missing", "missing.svg", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.file
			if tc.content != nil {
				path = filepath.Join(dir, tc.name+"-"+tc.file)
				if err := os.WriteFile(path, tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			b, err := (&BrandingConfig{Name: "Demo Bank", Logo: path}).build()
			if tc.wantType == "" {
				if err == nil {
					t.Fatalf("taken as %s", b.LogoType)
				}
				return
			}
			if err != nil || b.LogoType != tc.wantType || len(b.Logo) == 0 || b.Name != "Demo Bank" {
				t.Fatalf("%+v %v", b.LogoType, err)
			}
		})
	}
}

// TestBrandingCaddyfile: the branding block adapts to its JSON; a bad colour, a name that
// is not one line, an unknown option or a second block is refused.
func TestBrandingCaddyfile(t *testing.T) {
	t.Parallel()
	out, err := adapt("{\n\tciba {\n\t\tissuer https://bank.example\n\t\tbranding {\n\t\t\tname \"Demo Bank\"\n\t\t\tlogo examples/bank-logo.svg\n\t\t\tcolor \"#00594F\"\n\t\t}\n\t}\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Apps struct {
			Ciba App `json:"ciba"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if b := cfg.Apps.Ciba.Branding; b == nil || *b != (BrandingConfig{Name: "Demo Bank", Logo: "examples/bank-logo.svg", Color: "#00594F"}) {
		t.Fatalf("branding %+v", b)
	}
	for _, tc := range []struct{ name, block, want string }{
		{"colour name", "color green", `color "green" must be #rrggbb`},
		{"short colour", `color "#fff"`, "must be #rrggbb"},
		{"colour with CSS", `color "#000000;}body{display:none"`, "must be #rrggbb"},
		{"unknown option", "font Comic", `unrecognized branding option "font"`},
		{"argument", "", "wrong argument count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := "branding {"
			if tc.name == "argument" {
				open = "branding blue {"
			}
			_, err := adapt("{\n\tciba {\n\t\tissuer https://bank.example\n\t\t" + open + "\n\t\t\t" + tc.block + "\n\t\t}\n\t}\n}\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := adapt("{\n\tciba {\n\t\tissuer https://bank.example\n\t\tbranding {\n\t\t}\n\t\tbranding {\n\t\t}\n\t}\n}\n"); err == nil || !strings.Contains(err.Error(), "branding appears twice") {
		t.Fatalf("two branding blocks: %v", err)
	}
	if err := (&App{Issuer: "https://bank.example", Branding: &BrandingConfig{Name: "a\nb"}}).Validate(); err == nil {
		t.Fatal("a two-line name was taken")
	}
}
