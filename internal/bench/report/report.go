// Package report writes benchmark figures into BENCHMARKS.md: one section per script,
// replaced on each run, with the machine, the date and the command beside the figures.
package report

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Table is a markdown table.
func Table(head []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for range head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// Machine describes where the figures were measured.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s %s/%s", model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// WriteSection puts the section named key into the markdown file, replacing the previous
// run's, between <!-- bench:key --> markers.
func WriteSection(path, key, title, command, body string) error {
	begin, end := "<!-- bench:"+key+" -->", "<!-- /bench:"+key+" -->"
	section := fmt.Sprintf("%s\n## %s\n\nMeasured %s on %s.\nCommand: `%s`\n\n%s%s", begin, title,
		time.Now().UTC().Format("2006-01-02 15:04 MST"), Machine(), command, body, end)
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(old)
	if i, j := strings.Index(text, begin), strings.Index(text, end); i >= 0 && j > i {
		text = text[:i] + section + text[j+len(end):]
	} else {
		text = strings.TrimRight(text, "\n") + "\n\n" + section + "\n"
	}
	return os.WriteFile(path, []byte(strings.TrimLeft(text, "\n")), 0o644)
}

// Publish prints a benchmark's table and summary and, when md names a file, writes them
// into its section key with what was measured (about) and the command that reproduces
// them: go run ./bench/<program> with this run's arguments.
func Publish(md, key, title, program, about, table, summary string) error {
	fmt.Println(table)
	fmt.Println(summary)
	if md == "" {
		return nil
	}
	cmd := strings.TrimSpace("go run ./bench/" + program + " " + strings.Join(os.Args[1:], " "))
	return WriteSection(md, key, title, cmd, about+"\n\n"+table+"\n"+summary+"\n")
}
