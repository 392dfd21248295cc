package caddyciba

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// exampleSecrets are the environment the examples' {env.*} placeholders name; the webhook
// secret must parse when the config is provisioned.
var exampleSecrets = map[string]string{
	"NOTIFY_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"SMTP_PASSWORD": "relay-password",
	"TPP1_SECRET":   "budget-buddy-secret",
}

// TestExampleCaddyfiles adapts each example Caddyfile (and Caddyfile.example) with Caddy's caddyfile adapter, checks
// that the settings the example is about reach the JSON config, and then loads and
// provisions the whole config without starting it (caddy.Validate, as `caddy validate`
// does): the files it names are read, the secrets parse, the store opens. Nothing listens.
func TestExampleCaddyfiles(t *testing.T) {
	for _, tc := range []struct {
		file  string
		check func(t *testing.T, cfg map[string]any)
	}{
		{"examples/Caddyfile.mtls-fapi", func(t *testing.T, cfg map[string]any) {
			app := at(t, cfg, "apps", "ciba").(map[string]any)
			wantJSON(t, app["fapi"], `true`)
			wantJSON(t, app["issuer"], `"https://bank.example"`)
			wantJSON(t, app["mtls_base"], `"https://mtls.bank.example"`)
			wantJSON(t, app["client_ca"], `"examples/tpp-ca.pem"`)
			wantJSON(t, app["storage"], `{"module":"badger","path":"/var/lib/caddyciba/ciba"}`)
			wantJSON(t, app["clients"], `[
				{"id":"tpp-1","name":"Budget Buddy","auth":"tls_client_auth","jwks_file":"examples/tpp-1.jwks.json",
				 "tls_subject":"CN=tpp-1,O=Budget Buddy Ltd","delivery_mode":"ping",
				 "notification_endpoint":"https://tpp-1.example/ciba/callback","scopes":["openid","accounts"],
				 "rate_limit":{"rate":"20/s","burst":40}},
				{"id":"tpp-2","name":"Savings Sprout","auth":"private_key_jwt","jwks_file":"examples/tpp-2.jwks.json",
				 "delivery_mode":"poll","scopes":["openid","accounts"]}]`)
			// The mTLS site asks for certificates and leaves their checks to the gateway.
			var modes []any
			for _, srv := range at(t, cfg, "apps", "http", "servers").(map[string]any) {
				for _, p := range asList(srv.(map[string]any)["tls_connection_policies"]) {
					if ca, ok := p.(map[string]any)["client_authentication"].(map[string]any); ok {
						modes = append(modes, ca["mode"])
					}
				}
			}
			wantJSON(t, modes, `["request"]`)
			wantHandlers(t, cfg, "ciba", "ciba_gate", "reverse_proxy")
		}},
		{"examples/Caddyfile.webhook-smtp", func(t *testing.T, cfg map[string]any) {
			app := at(t, cfg, "apps", "ciba").(map[string]any)
			wantJSON(t, app["notifiers"], `[
				{"channel":"webhook","url":"https://push.bank.internal/ciba","secret":"{env.NOTIFY_SECRET}"},
				{"channel":"smtp","address":"mail.bank.internal:587","security":"starttls","username":"ciba-gateway",
				 "password":"{env.SMTP_PASSWORD}","from":"Demo Bank <no-reply@bank.example>"}]`)
			wantJSON(t, app["branding"], `{"name":"Demo Bank","logo":"examples/bank-logo.svg","color":"#00594f"}`)
			wantJSON(t, app["auth_req_ttl"], `180000000000`)
			wantJSON(t, app["max_deliveries"], `32`)
			wantJSON(t, at(t, app, "clients"), `[{"id":"tpp-1","name":"Budget Buddy","auth":"client_secret_basic",
				"secret":"{env.TPP1_SECRET}","scopes":["openid","accounts"]}]`)
			wantHandlers(t, cfg, "ciba", "ciba_gate", "reverse_proxy")
		}},
		{"Caddyfile.example", func(t *testing.T, cfg map[string]any) {
			app := at(t, cfg, "apps", "ciba").(map[string]any)
			wantJSON(t, app["notifiers"], `[{"channel":"log","show_links":true}]`)
			wantJSON(t, app["users"], `"examples/users.json"`)
			wantHandlers(t, cfg, "ciba", "ciba_gate", "reverse_proxy", "file_server")
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("..", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": tc.file})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			// Caddyfile.example aligns its columns, which caddy fmt would undo.
			if len(warnings) > 0 && tc.file != "Caddyfile.example" {
				t.Errorf("adapt warnings: %+v", warnings)
			}
			var cfg map[string]any
			if err := json.Unmarshal(out, &cfg); err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg)
			provisionExample(t, cfg)
		})
	}
}

// provisionExample loads and provisions the adapted config with caddy.Validate, which
// starts nothing. The example's paths are relative to the repository root and its store
// is a system directory, so the copy provisioned here reads the files from .. and keeps
// its state (and Caddy's) in a temporary directory.
func provisionExample(t *testing.T, cfg map[string]any) {
	for name, value := range exampleSecrets {
		t.Setenv(name, value)
	}
	cfg = rebase(cfg, "examples/", "../examples/").(map[string]any)
	tmp := t.TempDir()
	cfg["apps"].(map[string]any)["ciba"].(map[string]any)["storage"] = map[string]any{"module": "badger", "path": filepath.Join(tmp, "ciba")}
	cfg["storage"] = map[string]any{"module": "file_system", "root": filepath.Join(tmp, "caddy")}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var config caddy.Config
	if err := json.Unmarshal(raw, &config); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&config); err != nil {
		t.Fatalf("provisioning the example: %v", err)
	}
}

// rebase replaces the prefix from of every string in v by to.
func rebase(v any, from, to string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = rebase(e, from, to)
		}
	case []any:
		for i, e := range v {
			v[i] = rebase(e, from, to)
		}
	case string:
		if rest, ok := strings.CutPrefix(v, from); ok {
			return to + rest
		}
	}
	return v
}

func at(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok || m[k] == nil {
			t.Fatalf("no %s in the adapted config", strings.Join(path, "."))
		}
		v = m[k]
	}
	return v
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// wantJSON compares got with the JSON want, whatever the spacing and key order.
func wantJSON(t *testing.T, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	g, _ := json.Marshal(got)
	wb, _ := json.Marshal(w)
	if string(g) != string(wb) {
		t.Errorf("got  %s\nwant %s", g, wb)
	}
}

// wantHandlers checks that the config's routes hold each handler.
func wantHandlers(t *testing.T, cfg map[string]any, names ...string) {
	t.Helper()
	var found []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if h, ok := v["handler"].(string); ok {
				found = append(found, h)
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(at(t, cfg, "apps", "http"))
	for _, name := range names {
		if !slices.Contains(found, name) {
			t.Errorf("no %s handler in the adapted config (found %v)", name, found)
		}
	}
}

// TestCaddyfileReferenceMatchesCode holds the README's Caddyfile reference and the code's
// Syntax comments to one text: every grammar block of the reference (```caddy-d) is a
// Syntax block of the code, and every Syntax block of the code is part of one of them.
func TestCaddyfileReferenceMatchesCode(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	if i := strings.Index(section, "\n## Caddyfile\n"); i >= 0 {
		section = section[i+1:]
	} else {
		t.Fatal(`the README has no "## Caddyfile" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var reference []string
	for _, m := range regexp.MustCompile("(?s)```caddy-d\n(.*?)```").FindAllStringSubmatch(section, -1) {
		reference = append(reference, m[1])
	}
	if len(reference) < 7 {
		t.Fatalf("the reference has %d grammar blocks, want the ciba option, storage, client, notifier, branding, ciba_endpoints and ciba_gate", len(reference))
	}

	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var code []string
	where := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range syntaxBlocks(string(src)) {
			code = append(code, b)
			where[b] = f
		}
	}
	for _, r := range reference {
		if !slices.Contains(code, r) {
			t.Errorf("the README's grammar block\n%s\nis no Syntax comment in caddyciba/*.go", r)
		}
	}
	for _, c := range code {
		if !slices.ContainsFunc(reference, func(r string) bool { return strings.Contains(r, c) }) {
			t.Errorf("the Syntax comment in %s\n%s\nis not in the README's Caddyfile reference", where[c], c)
		}
	}

	// Every option word a parser knows is in the reference: an option added to a parser
	// without its line in the grammar fails here.
	words := map[string]bool{}
	for _, r := range reference {
		for _, w := range regexp.MustCompile(`[a-z_]+`).FindAllString(r, -1) {
			words[w] = true
		}
	}
	for _, f := range []string{"caddyfile.go", "gate.go", "branding.go", "storage_badger.go", "storage_postgres.go", "endpoints.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`case "([a-z_]+)"|"([a-z_]+)": &`).FindAllStringSubmatch(string(src), -1) {
			name := m[1] + m[2]
			if !words[name] {
				t.Errorf("%s parses the option %q, which the README's Caddyfile reference does not name", f, name)
			}
		}
	}
}

// syntaxBlocks returns the code blocks of the comments that end a line with "Syntax:" (or
// "Syntax, …:"), without the comment markers and the code block's tab.
func syntaxBlocks(src string) []string {
	lines := strings.Split(src, "\n")
	var out []string
	for i, l := range lines {
		if !regexp.MustCompile(`^\s*//.*\bSyntax\b[^:]*:$`).MatchString(l) {
			continue
		}
		j := i + 1
		if j < len(lines) && strings.TrimSpace(lines[j]) == "//" {
			j++
		}
		var b strings.Builder
		for ; j < len(lines); j++ {
			rest, ok := strings.CutPrefix(strings.TrimLeft(lines[j], " \t"), "//\t")
			if !ok {
				break
			}
			b.WriteString(rest + "\n")
		}
		if b.Len() > 0 {
			out = append(out, b.String())
		}
	}
	return out
}
