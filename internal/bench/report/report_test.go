package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		head []string
		rows [][]string
		want string
	}{
		{"no rows", []string{"a", "b"}, nil, "| a | b |\n|---|---|\n"},
		{"two rows", []string{"trials", "lost"}, [][]string{{"10", "0"}, {"20", "1"}},
			"| trials | lost |\n|---|---|\n| 10 | 0 |\n| 20 | 1 |\n"},
	} {
		if got := Table(tc.head, tc.rows); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestWriteSection: a section is added once, then replaced in place on each run, leaving
// the text around it and the other sections alone.
func TestWriteSection(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	steps := []struct {
		key, body string
		want      []string // in order
		not       []string
	}{
		{"gate", "first\n", []string{"<!-- bench:gate -->", "## Gate", "Command: `go run ./bench/gate`", "first", "<!-- /bench:gate -->"}, nil},
		{"tokens", "tok\n", []string{"<!-- bench:gate -->", "first", "<!-- bench:tokens -->", "tok", "<!-- /bench:tokens -->"}, nil},
		{"gate", "second\n", []string{"<!-- bench:gate -->", "second", "<!-- /bench:gate -->", "<!-- bench:tokens -->", "tok"}, []string{"first"}},
	}
	if err := os.WriteFile(path, []byte("# Benchmarks\n\nIntro.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		title := strings.ToUpper(s.key[:1]) + s.key[1:]
		if err := WriteSection(path, s.key, title, "go run ./bench/"+s.key, s.body); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if !strings.HasPrefix(text, "# Benchmarks\n\nIntro.\n") {
			t.Errorf("step %d: the text before the sections changed:\n%s", i, text)
		}
		at := 0
		for _, w := range s.want {
			j := strings.Index(text[at:], w)
			if j < 0 {
				t.Fatalf("step %d: %q missing or out of order in:\n%s", i, w, text)
			}
			at += j + len(w)
		}
		for _, n := range s.not {
			if strings.Contains(text, n) {
				t.Errorf("step %d: %q left behind:\n%s", i, n, text)
			}
		}
		if c := strings.Count(text, "<!-- bench:"+s.key+" -->"); c != 1 {
			t.Errorf("step %d: section %s appears %d times", i, s.key, c)
		}
	}
}

func TestWriteSectionNewFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new.md")
	if err := WriteSection(path, "k", "K", "cmd", "body\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "<!-- bench:k -->\n## K\n") || !strings.Contains(string(b), "Measured ") {
		t.Errorf("%q", b)
	}
	if !strings.Contains(string(b), Machine()) {
		t.Errorf("the machine is not named: %q", b)
	}
}
