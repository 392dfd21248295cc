package caddyciba

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// adaptSeparator splits a .caddyfiletest file, as in Caddy's own caddytest/integration:
// the Caddyfile above it, the JSON it adapts to (or the text of the adapt error) below.
const adaptSeparator = "----------"

// TestCaddyfileAdapt adapts every testdata/caddyfile_adapt/*.caddyfiletest and compares the
// JSON, indented with tabs as Caddy's golden files are, with the file's. An expected part
// not starting with '{' is an error the adapter must give. -update rewrites the expected
// JSON from the adapter's answer: review the diff before committing it.
func TestCaddyfileAdapt(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "caddyfile_adapt", "*.caddyfiletest"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no .caddyfiletest files")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".caddyfiletest"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, expected, ok := strings.Cut(strings.ReplaceAll(string(data), "\r\n", "\n"), adaptSeparator)
			if !ok {
				t.Fatalf("%s has no %s line", path, adaptSeparator)
			}
			caddyfile, expected = strings.TrimSpace(caddyfile)+"\n", strings.TrimSpace(expected)
			out, adaptErr := adapt(caddyfile)
			if expected != "" && expected[0] != '{' {
				switch {
				case adaptErr == nil:
					t.Errorf("adapted, want the error %q", expected)
				case !strings.Contains(adaptErr.Error(), expected):
					t.Errorf("error %q, want it to contain %q", adaptErr, expected)
				}
				return
			}
			if adaptErr != nil {
				t.Fatalf("adapt: %v", adaptErr)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			got := pretty.String()
			if *update {
				if got != expected {
					if err := os.WriteFile(path, []byte(caddyfile+adaptSeparator+"\n"+got+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					t.Logf("rewrote %s", path)
				}
				return
			}
			if got != expected {
				t.Errorf("%s adapts differently (go test -run TestCaddyfileAdapt -update rewrites it):\n%s", path, lineDiff(expected, got))
			}
		})
	}
}

// lineDiff lists the lines of want and got from the first that differs, a few each, enough
// to see which key moved without a diff library.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var sb strings.Builder
	sb.WriteString("first difference at line " + strconv.Itoa(i+1) + "\n")
	for j := i; j < len(w) && j < i+8; j++ {
		sb.WriteString("- " + w[j] + "\n")
	}
	for j := i; j < len(g) && j < i+8; j++ {
		sb.WriteString("+ " + g[j] + "\n")
	}
	return sb.String()
}
