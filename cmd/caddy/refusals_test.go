package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cibaFails runs `caddy ciba args...`, which must fail, and returns its standard error.
func cibaFails(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(caddyBin, append([]string{"ciba"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("caddy ciba %v succeeded:\n%s%s", args, stdout.String(), stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("caddy ciba %v printed %q before failing", args, stdout.String())
	}
	return stderr.String()
}

// tree lists the files under dir with their sizes and contents' length, to see that a
// command left it as it was.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = info.Mode().String() + " " + info.ModTime().String()
		if !info.IsDir() {
			buf, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[rel] += " " + string(buf)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCLIRefusals: the operator's commands refuse what would lose or invent data, say why
// and name the path, and leave the disk as it was.
func TestCLIRefusals(t *testing.T) {
	t.Run("consents on a directory that does not exist", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "no-such-storage")
		msg := cibaFails(t, "consents", "--storage", dir)
		if !strings.Contains(msg, dir) || !strings.Contains(msg, "holds no gateway storage") {
			t.Fatalf("error %q does not name %s", msg, dir)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("the command made %s: %v", dir, err)
		}
	})
	t.Run("consents on a directory without storage", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a store"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := tree(t, dir)
		msg := cibaFails(t, "consents", "--storage", dir)
		if !strings.Contains(msg, dir) || !strings.Contains(msg, "holds no gateway storage") {
			t.Fatalf("error %q does not name %s", msg, dir)
		}
		if after := tree(t, dir); len(after) != len(before) {
			t.Fatalf("the command created files: %v", after)
		}
	})
	t.Run("keygen over existing files", func(t *testing.T) {
		prefix := filepath.Join(t.TempDir(), "tpp")
		ciba(t, "", false, "keygen", "--alg", "ES256", "--kid", "first", "--out", prefix)
		dir := filepath.Dir(prefix)
		before := tree(t, dir)
		for _, args := range [][]string{
			{"keygen", "--alg", "ES256", "--kid", "second", "--out", prefix},
			{"keygen", "--alg", "EdDSA", "--out", prefix},
		} {
			msg := cibaFails(t, args...)
			if !strings.Contains(msg, prefix+".private.jwk.json exists") || !strings.Contains(msg, "--force") {
				t.Fatalf("error %q", msg)
			}
		}
		// Only one of the two files present is refused too: the pair must not be split.
		if err := os.Remove(prefix + ".private.jwk.json"); err != nil {
			t.Fatal(err)
		}
		if msg := cibaFails(t, "keygen", "--kid", "third", "--out", prefix); !strings.Contains(msg, prefix+".jwks.json exists") {
			t.Fatalf("error %q", msg)
		}
		if _, err := os.Stat(prefix + ".private.jwk.json"); !os.IsNotExist(err) {
			t.Fatal("a refused keygen wrote the private key")
		}
		delete(before, "tpp.private.jwk.json")
		if after := tree(t, dir); len(after) != len(before) || after["tpp.jwks.json"] != before["tpp.jwks.json"] {
			t.Fatal("a refused keygen changed the key files")
		}
		ciba(t, "", false, "keygen", "--kid", "forced", "--out", prefix, "--force")
		if buf, err := os.ReadFile(prefix + ".jwks.json"); err != nil || !strings.Contains(string(buf), `"forced"`) {
			t.Fatalf("--force did not replace the key: %s %v", buf, err)
		}
	})
}
