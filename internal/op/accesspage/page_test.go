package accesspage

import (
	"bytes"
	"strings"
	"testing"

	"github.com/caddyciba/gateway/internal/op/devicepage"
)

// TestCSPAllowsOnlyTheInlineStyle: the page carries exactly the style whose hash the CSP
// names, no script, and nothing from elsewhere.
func TestCSPAllowsOnlyTheInlineStyle(t *testing.T) {
	t.Parallel()
	for _, color := range []string{"", "#00594f"} {
		r := New(color)
		var buf bytes.Buffer
		if err := r.Render(&buf, &View{Bank: "Demo Bank", Action: "/ciba/access"}); err != nil {
			t.Fatal(err)
		}
		page := buf.String()
		css := devicepage.Style(pageCSS, color)
		if !strings.Contains(page, "<style>"+css+"</style>") {
			t.Errorf("color %q: the inline style is not the hashed text", color)
		}
		if !strings.Contains(r.CSP, "style-src '"+devicepage.Hash(css)+"'") || strings.Contains(r.CSP, "unsafe") ||
			!strings.Contains(r.CSP, "default-src 'none'") || !strings.Contains(r.CSP, "form-action 'self'") {
			t.Errorf("color %q: CSP %s", color, r.CSP)
		}
		for _, outside := range []string{"<script", "http://", "https://", "<link", "@import", "url("} {
			if strings.Contains(page, outside) {
				t.Errorf("color %q: the page has %q", color, outside)
			}
		}
		if color != "" && !strings.Contains(page, "--accent: "+color) {
			t.Errorf("the accent colour is not in the page")
		}
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	entry := Entry{ID: "aac-1", Client: "Budget Buddy", Status: "Active", StatusKey: "active", Active: true,
		Clusters: []Cluster{{Name: "Your account details", Items: []string{"Account name", "Balance"}}},
		Accounts: []Account{{Name: "Current", Masked: "••••1234"}, {Name: "Savings"}},
		Granted:  "1 March 2026", Expires: "1 June 2026", Window: "From 1 January 2026", LastUsed: "Today"}
	ended := Entry{ID: "aac-2", Client: "Old App", Status: "Withdrawn", StatusKey: "withdrawn", Granted: "1 Jan", Ended: "2 Jan",
		Expires: "never", LastUsed: "never"}
	for _, tc := range []struct {
		name    string
		view    View
		want    []string
		notWant []string
	}{
		{"signed out", View{Bank: "Demo Bank", Logo: "/ciba/branding/logo", Action: "/ciba/access"},
			[]string{"<title>Sign in · Demo Bank</title>", `id="sign-in"`, `action="/ciba/access"`, `<img src="/ciba/branding/logo" alt="">`},
			[]string{`id="sign-out"`, `name="csrf"`, `id="error"`, `id="notice"`}},
		{"refused sign-in keeps the login", View{Bank: "Demo Bank", Action: "/ciba/access", Login: "alice@example.com", Error: "Wrong password"},
			[]string{`value="alice@example.com"`, `<p id="error" class="error" role="alert">Wrong password</p>`},
			[]string{`id="sign-out"`}},
		{"signed in with no consents", View{Bank: "Demo Bank", Action: "/ciba/access", Signed: true, CSRF: "tok-1", Notice: "Signed in"},
			[]string{"<title>Apps with access to your accounts · Demo Bank</title>", `id="empty"`, `id="sign-out"`,
				`name="csrf" value="tok-1"`, `<p id="notice" class="card notice" role="status">Signed in</p>`},
			[]string{`id="sign-in"`, "<img"}},
		{"signed in with consents", View{Bank: "Demo Bank", Action: "/ciba/access", Signed: true, CSRF: "tok-1", Entries: []Entry{entry, ended}},
			[]string{`id="consent-aac-1" data-status="active"`, "Budget Buddy", "<li>Balance</li>", `<span class="masked">••••1234</span>`,
				`<span class="nickname">Savings</span></li>`, `<dd class="window">From 1 January 2026</dd>`,
				`name="consent" value="aac-1"`, `id="consent-aac-2" data-status="withdrawn"`, `<dd class="ended">2 Jan</dd>`},
			[]string{`id="empty"`, `name="consent" value="aac-2"`}},
		{"confirming a withdrawal", View{Bank: "Demo Bank", Action: "/ciba/access", Signed: true, CSRF: "tok-1", Confirm: &entry, Entries: []Entry{entry}},
			[]string{`id="confirm"`, "Withdraw access for Budget Buddy?", `name="consent" value="aac-1"`, `id="keep"`},
			[]string{`id="consent-aac-1"`}},
		{"text is never markup", View{Bank: `<b>Bank</b> & "Co"`, Action: "/ciba/access", Signed: true, CSRF: `"><script>`,
			Entries: []Entry{{ID: `x" onclick="y`, Client: "<i>App</i>", StatusKey: "active"}}},
			[]string{"&lt;b&gt;Bank&lt;/b&gt; &amp; &#34;Co&#34;", "&lt;i&gt;App&lt;/i&gt;", `value="&#34;&gt;&lt;script&gt;"`},
			[]string{"<b>Bank</b>", "<i>App</i>", "<script>", `onclick="y"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := New("").Render(&buf, &tc.view); err != nil {
				t.Fatal(err)
			}
			page := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, n := range tc.notWant {
				if strings.Contains(page, n) {
					t.Errorf("the page has %q", n)
				}
			}
			if t.Failed() {
				t.Logf("page:\n%s", page)
			}
		})
	}
}
