package devicepage

import (
	"strings"
	"testing"
)

// TestPageIsSelfContained: nothing is loaded from elsewhere, and the CSP hashes are of the
// exact inline text the page carries.
func TestPageIsSelfContained(t *testing.T) {
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
