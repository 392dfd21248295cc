package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
)

// xcaddyVersion is the xcaddy the build test installs.
const xcaddyVersion = "v0.4.5"

func readModule(t *testing.T) *modfile.File {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestManifestMatchesModule keeps xcaddy.json honest: the Caddy version is go.mod's, the
// plugin is this module's package, and cmd/caddy imports it too.
func TestManifestMatchesModule(t *testing.T) {
	t.Parallel()
	m, err := load("../../xcaddy.json")
	if err != nil {
		t.Fatal(err)
	}
	mod := readModule(t)
	var caddyVersion string
	for _, r := range mod.Require {
		if r.Mod.Path == "github.com/caddyserver/caddy/v2" {
			caddyVersion = r.Mod.Version
		}
	}
	if m.CaddyVersion != caddyVersion {
		t.Errorf("xcaddy.json caddy_version %s, go.mod has %s", m.CaddyVersion, caddyVersion)
	}
	mainGo, _ := os.ReadFile("../caddy/main.go")
	ours := 0
	for _, p := range m.Plugins {
		if !strings.HasPrefix(p.ModulePath, mod.Module.Mod.Path+"/") {
			continue
		}
		ours++
		if !strings.Contains(string(mainGo), `_ "`+p.ModulePath+`"`) {
			t.Errorf("cmd/caddy/main.go does not import %s", p.ModulePath)
		}
	}
	if ours != 1 {
		t.Errorf("%d plugins of this module in xcaddy.json, want 1", ours)
	}
	args, err := Args(m, "../..", "caddy")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("../..")
	want := "build " + caddyVersion + " --output caddy --with " + mod.Module.Mod.Path + "/caddyciba --replace " + mod.Module.Mod.Path + "=" + abs
	if got := strings.Join(args, " "); got != want {
		t.Errorf("command\n got %s\nwant %s", got, want)
	}
}

// TestXcaddyBuild runs the real xcaddy build from the manifest and checks the binary lists
// the plugin's modules.
func TestXcaddyBuild(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds Caddy with xcaddy")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	bin := t.TempDir()
	run := func(dir string, env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(".", []string{"GOBIN=" + bin}, "go", "install", "github.com/caddyserver/xcaddy/cmd/xcaddy@"+xcaddyVersion)
	// The module is unpublished: the proxy refuses its path (403), and "|off" turns that
	// into a lookup failure, after which go resolves the module through its replace
	// directive; every other module still comes from the proxy, with its checksums
	// (README, "Building with xcaddy").
	run("../..", nil, "go", "mod", "download")
	caddyBin := filepath.Join(bin, "caddy")
	// xcaddy's default flags add -trimpath, which gives every package a new build-cache
	// key, so the test would compile all of Caddy a second time (minutes on two cores).
	// The same tags without it reuse what the other tests compiled; what is checked, that
	// the manifest builds a Caddy with the plugin, is the same.
	env := []string{"GOPROXY=https://proxy.golang.org|off", "XCADDY_GO_BUILD_FLAGS=-tags=nobadger,nomysql,nopgx"}
	run("../..", env, "go", "run", "./cmd/xcaddybuild", "-xcaddy", filepath.Join(bin, "xcaddy"), "-output", caddyBin)
	modules := run(".", nil, caddyBin, "list-modules")
	for _, id := range []string{"ciba", "http.handlers.ciba", "http.handlers.ciba_gate"} {
		if !strings.Contains(modules, "\n"+id+"\n") {
			t.Errorf("list-modules lacks %s", id)
		}
	}
}
