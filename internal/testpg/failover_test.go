package testpg

import (
	"net/url"
	"strings"
	"testing"
)

// TestFailover: the DSN names every server in turn and asks for the writable one; the
// rest of it (user, password, database, other parameters) is kept.
func TestFailover(t *testing.T) {
	t.Parallel()
	a := &Server{host: "127.0.0.1", port: "5433"}
	b := &Server{host: "127.0.0.1", port: "5434"}
	v6 := &Server{host: "::1", port: "5435"}
	for _, tc := range []struct {
		name, dsn string
		servers   []*Server
		host      string
		query     map[string]string
	}{
		{"two servers", "postgres://gw:pw@127.0.0.1:5433/db1?sslmode=disable", []*Server{a, b},
			"127.0.0.1:5433,127.0.0.1:5434", map[string]string{"sslmode": "disable", "target_session_attrs": "read-write", "connect_timeout": "5"}},
		{"IPv6 bracketed", "postgres://gw:pw@127.0.0.1:5433/db1", []*Server{v6, a},
			"[::1]:5435,127.0.0.1:5433", map[string]string{"target_session_attrs": "read-write", "connect_timeout": "5"}},
		{"overrides the caller's attrs", "postgres://gw:pw@h/db1?target_session_attrs=any&connect_timeout=60", []*Server{a},
			"127.0.0.1:5433", map[string]string{"target_session_attrs": "read-write", "connect_timeout": "5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// net/url reads one host only; pgx reads the comma-separated list, so the
			// hosts are cut out before the rest is parsed.
			got := Failover(tc.dsn, tc.servers...)
			userinfo, rest, _ := strings.Cut(strings.TrimPrefix(got, "postgres://"), "@")
			hosts, rest, _ := strings.Cut(rest, "/")
			u, err := url.Parse("postgres://" + userinfo + "@host/" + rest)
			if err != nil {
				t.Fatal(err)
			}
			if hosts != tc.host || u.User.String() != "gw:pw" || u.Path != "/db1" {
				t.Errorf("%s", got)
			}
			q := u.Query()
			if len(q) != len(tc.query) {
				t.Errorf("query %v, want %v", q, tc.query)
			}
			for k, v := range tc.query {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
		})
	}
	if got := Failover("::not a url", a); got != "::not a url" {
		t.Errorf("an unparsable DSN changed: %q", got)
	}
}

func TestVersionOrdersBinDirs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir  string
		want int
	}{
		{"/usr/lib/postgresql/15/bin", 15},
		{"/usr/lib/postgresql/9/bin", 9},
		{"/usr/lib/postgresql/17/bin", 17},
		{"/usr/local/bin", 0},
	} {
		if got := version(tc.dir); got != tc.want {
			t.Errorf("version(%q) = %d, want %d", tc.dir, got, tc.want)
		}
	}
}
