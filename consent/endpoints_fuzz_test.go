package consent

import (
	"path"
	"regexp"
	"strings"
	"testing"
)

// obID is the OB id pattern (Max40Text of unreserved characters) every path parameter
// must match.
var obID = regexp.MustCompile(`^[A-Za-z0-9\-._~]{1,40}$`)

// FuzzMatch holds the gate's path matcher to the endpoint table: whatever it accepts is a
// path of the table with OB ids in it, that no server could decode or resolve into another.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{
		APIPrefix + "/accounts/22289/statements/s9/file",
		APIPrefix + "/accounts/22289/statements/..",
		APIPrefix + "/accounts/22289/statements/%2e%2e",
		APIPrefix + "/accounts/22289/statements/..;",
		APIPrefix + `/accounts/22289\..\31820`,
		APIPrefix + "/accounts/22289%2f..%2fbalances",
		APIPrefix + "/accounts/22289/statements/%252e%252e",
		APIPrefix + "/accounts/22289;jsessionid=1",
		APIPrefix + "//accounts/22289",
		APIPrefix + "/accounts/22289/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		e, ok := Match(p)
		if !ok {
			return
		}
		if strings.ContainsAny(p, `%\;`) || path.Clean(p) != p {
			t.Fatalf("accepted %q, which a server could decode or resolve", p)
		}
		for _, seg := range strings.Split(strings.TrimPrefix(p, APIPrefix+"/"), "/") {
			if strings.Trim(seg, ".") == "" {
				t.Fatalf("accepted %q with a dot or empty segment", p)
			}
		}
		if e.AccountID == "" && strings.Contains(e.Template, "{AccountId}") ||
			e.StatementID == "" && strings.Contains(e.Template, "{StatementId}") {
			t.Fatalf("accepted %q without its parameters: %+v", p, e)
		}
		for _, id := range []string{e.AccountID, e.StatementID} {
			if id != "" && (!obID.MatchString(id) || strings.Trim(id, ".") == "") {
				t.Fatalf("accepted %q with the parameter %q", p, id)
			}
		}
		if !inTable(e.Template) {
			t.Fatalf("accepted %q as %q, which is not in the table", p, e.Template)
		}
		if e.Path() != p {
			t.Fatalf("accepted %q as %+v, which builds %q", p, e, e.Path())
		}
	})
}

func inTable(template string) bool {
	for _, r := range []route{oneAccount, oneStatement, statementTxs, statementFileOnly} {
		if r.template == template {
			return true
		}
	}
	for _, m := range []map[string]route{bulk, perAccount} {
		for _, r := range m {
			if r.template == template {
				return true
			}
		}
	}
	return false
}
