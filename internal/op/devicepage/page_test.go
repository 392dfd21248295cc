package devicepage

import (
	"strings"
	"testing"
)

// TestPageIsSelfContained: nothing is loaded from elsewhere, and the CSP hashes are of the
// exact inline text the page carries.
func TestPageIsSelfContained(t *testing.T) {
	t.Parallel()
	page := string(HTML)
	for _, outside := range []string{"http://", "https://", "src=", "<link", "@import", "url("} {
		if strings.Contains(page, outside) {
			t.Errorf("the page refers to something outside it: %q", outside)
		}
	}
	if !strings.Contains(page, "<style>"+pageCSS+"</style>") || !strings.Contains(page, "<script>"+pageJS+"</script>") {
		t.Fatal("the inline style or script is not the hashed text")
	}
	if !strings.Contains(CSP, Hash(pageJS)) || !strings.Contains(CSP, Hash(pageCSS)) || strings.Contains(CSP, "unsafe") {
		t.Fatalf("CSP %s", CSP)
	}
}

// TestRenderBrand: the bank's name is text, never markup; its colour is in the hashed style.
func TestRenderBrand(t *testing.T) {
	t.Parallel()
	page, csp := Render(Brand{Name: `Demo <b>Bank</b> & "Co"`, Color: "#00594f", Logo: "/ciba/branding/logo"})
	css := Style(pageCSS, "#00594f")
	for _, want := range []string{`Demo &lt;b&gt;Bank&lt;/b&gt; &amp; &#34;Co&#34;`, `<img src="/ciba/branding/logo" alt="">`, "<style>" + css + "</style>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if !strings.Contains(css, "--accent: #00594f") || !strings.Contains(csp, Hash(css)) || strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %s", csp)
	}
}
