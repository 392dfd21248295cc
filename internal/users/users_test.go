package users

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const alice = `{"subject":"psu-1","login_hints":["alice","alice@example.com"],"name":"Alice",
  "password_hash":"$2a$10$zKm4IyfNKh31I.CwQONEhOQN6fjb358BE4n.IOeuSLx8iuu0PrGKq",
  "accounts":[{"AccountId":"22289","Nickname":"Bills","Currency":"GBP"},{"AccountId":"31820"}]}`

func TestParse(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte("[" + alice + `,{"subject":"psu-2","login_hints":["bob"],"disabled":true,"accounts":[]}]`))
	if err != nil {
		t.Fatal(err)
	}
	u := d.ByHint("alice@example.com")
	if u == nil || u.Subject != "psu-1" || d.BySubject("psu-1") != u || d.Len() != 2 {
		t.Fatalf("lookup: %+v", u)
	}
	if len(u.Accounts) != 2 || u.Accounts[0].AccountID != "22289" || u.Accounts[0].Nickname != "Bills" || u.Accounts[0].Fields["Currency"] != "GBP" {
		t.Fatalf("accounts: %+v", u.Accounts)
	}
	if !d.ByHint("bob").Disabled || d.ByHint("carol") != nil {
		t.Fatal("disabled flag or unknown hint")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"not an array", `{"subject":"x"}`, "not a JSON array"},
		{"unknown field", `[{"subject":"x","login_hints":["x"],"role":"admin"}]`, "unknown field"},
		{"no subject", `[{"login_hints":["x"]}]`, "subject is required"},
		{"duplicate subject", `[{"subject":"x","login_hints":["a"]},{"subject":"x","login_hints":["b"]}]`, "appears twice"},
		{"no hints", `[{"subject":"x","login_hints":[]}]`, "no login_hints"},
		{"empty hint", `[{"subject":"x","login_hints":[""]}]`, "empty login hint"},
		{"hint shared", `[{"subject":"x","login_hints":["a"]},{"subject":"y","login_hints":["a"]}]`, "belongs to two users"},
		{"plain password", `[{"subject":"x","login_hints":["a"],"password_hash":"hunter2"}]`, "bcrypt"},
		{"duplicate account", `[{"subject":"x","login_hints":["a"],"accounts":[{"AccountId":"1"},{"AccountId":"1"}]}]`, "unique"},
		{"account without id", `[{"subject":"x","login_hints":["a"],"accounts":[{"Nickname":"n"}]}]`, "unique"},
		{"trailing data", `[] []`, "trailing data"},
		{"null user", `[null]`, "subject is required"},
		{"display name as email", `[{"subject":"x","login_hints":["a"],"email":"Alice <a@example.com>"}]`, "not a bare mail address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "users.json")
	os.WriteFile(good, []byte("["+alice+"]"), 0o600)
	if _, err := LoadFile(good); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("[{"), 0o600)
	if _, err := LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("malformed file error = %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestExampleUsersFile(t *testing.T) {
	t.Parallel()
	if _, err := LoadFile("../../examples/users.json"); err != nil {
		t.Fatal(err)
	}
}

// FuzzParse: any input is parsed or refused, never a panic, and an accepted directory
// answers lookups for every hint it holds.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[" + alice + "]"))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"subject":"x","login_hints":["a"],"accounts":[{"AccountId":"1","Extra":{"n":[1,2]}}]}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Parse(in)
		if err != nil {
			return
		}
		for hint, u := range d.byHint {
			if d.ByHint(hint) != u || d.BySubject(u.Subject) != u {
				t.Fatalf("inconsistent directory for hint %q", hint)
			}
		}
	})
}
