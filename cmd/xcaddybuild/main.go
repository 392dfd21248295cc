// Command xcaddybuild turns xcaddy.json, the project's build manifest in xcaddy.Builder's
// JSON shape, into the xcaddy build command, and runs it. xcaddy itself reads no file.
//
//	go run ./cmd/xcaddybuild             # print the command and run it
//	go run ./cmd/xcaddybuild -n          # print it only
//	go run ./cmd/xcaddybuild -output bin/caddy -xcaddy ~/go/bin/xcaddy
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Manifest is the part of xcaddy.Builder that xcaddy.json uses.
type Manifest struct {
	CaddyVersion string `json:"caddy_version"`
	Plugins      []struct {
		ModulePath  string `json:"module_path"`
		Version     string `json:"version,omitempty"`
		Replacement string `json:"replacement,omitempty"`
	} `json:"plugins"`
	Replacements []struct {
		Old string `json:"old"`
		New string `json:"new"`
	} `json:"replacements,omitempty"`
}

func main() {
	manifest := flag.String("manifest", "xcaddy.json", "the build manifest")
	output := flag.String("output", "caddy", "the binary to write")
	xcaddy := flag.String("xcaddy", "xcaddy", "the xcaddy executable")
	dryRun := flag.Bool("n", false, "print the command without running it")
	flag.Parse()

	m, err := load(*manifest)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xcaddybuild:", err)
		os.Exit(2)
	}
	args, err := Args(m, filepath.Dir(*manifest), *output)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xcaddybuild:", err)
		os.Exit(2)
	}
	fmt.Println(*xcaddy + " " + strings.Join(args, " "))
	if *dryRun {
		return
	}
	cmd := exec.Command(*xcaddy, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "xcaddybuild:", err)
		os.Exit(1)
	}
}

func load(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// Args is the xcaddy command line for the manifest. Relative replacement paths are taken
// from the manifest's directory and made absolute.
func Args(m *Manifest, base, output string) ([]string, error) {
	if m.CaddyVersion == "" {
		return nil, fmt.Errorf("caddy_version is required")
	}
	args := []string{"build", m.CaddyVersion, "--output", output}
	for _, p := range m.Plugins {
		if p.ModulePath == "" {
			return nil, fmt.Errorf("a plugin without module_path")
		}
		with := p.ModulePath
		if p.Version != "" {
			with += "@" + p.Version
		}
		if p.Replacement != "" {
			with += "=" + absolute(base, p.Replacement)
		}
		args = append(args, "--with", with)
	}
	for _, r := range m.Replacements {
		if r.Old == "" || r.New == "" {
			return nil, fmt.Errorf("a replacement needs old and new")
		}
		args = append(args, "--replace", r.Old+"="+absolute(base, r.New))
	}
	return args, nil
}

func absolute(base, p string) string {
	if !strings.HasPrefix(p, ".") {
		return p // a module path@version, not a directory
	}
	abs, err := filepath.Abs(filepath.Join(base, p))
	if err != nil {
		return p
	}
	return abs
}
