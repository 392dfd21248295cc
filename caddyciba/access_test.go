package caddyciba

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/op"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

var update = flag.Bool("update", false, "write the screenshots in docs/")

var (
	accessURL = httpBase + "/ciba/access"
	davePW    = "dave-pw-5521"
)

// accessGateway starts the gateway with the dashboard's customers (alice and dave, both
// with passwords and numbered accounts), the Demo Bank branding, a webhook notifier and the
// gate in front of a recording upstream; the flow log goes to the file it returns.
func accessGateway(t *testing.T) (*receiver, *upstream, string) {
	t.Helper()
	hook, up := newReceiver(t, nil), newUpstream(t)
	logo, err := filepath.Abs("../examples/bank-logo.svg")
	if err != nil {
		t.Fatal(err)
	}
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	acct := func(id, nick, number string) string {
		return fmt.Sprintf(`{"AccountId":%q,"Nickname":%q,"Account":[{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":%q}]}`, id, nick, number)
	}
	users := `[{"subject":"sub-alice","login_hints":["alice@example.com"],"password_hash":"` + hash(alicePIN) + `","accounts":[` +
		acct("acc-1", "Current", "80200112345698") + `,` + acct("acc-2", "Savings", "60161331926819") + `]},` +
		`{"subject":"sub-dave","login_hints":["dave@example.com"],"password_hash":"` + hash(davePW) + `","accounts":[` +
		acct("acc-9", "Joint", "40400411112222") + `]}]`
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := gatewayConfig(t.TempDir(), fmt.Sprintf(`users %s
		poll_interval 1s
		notifier webhook %s {
			secret %s
		}
		branding {
			name  "Demo Bank"
			logo  %s
			color "#00594f"
		}`, path, hook.URL, webhookSecret, logo))
	flowLog := filepath.Join(t.TempDir(), "flow.log")
	cfg = strings.Replace(cfg, "\tgrace_period 1ns\n", "\tgrace_period 1ns\n\tlog flow {\n\t\toutput file "+flowLog+
		"\n\t\tformat json\n\t\tlevel INFO\n\t\tinclude ciba\n\t}\n", 1)
	startGateway(t, strings.ReplaceAll(cfg, accountAPI, "reverse_proxy "+strings.TrimPrefix(up.srv.URL, "http://")))
	return hook, up, flowLog
}

// consentFor creates a consent of tpp-basic with the body, authorises it for the subject
// with the accounts as the approval would, and returns its id and a CIBA token of it.
func consentFor(t *testing.T, body, subject string, accounts ...string) (string, string) {
	t.Helper()
	cc := ccToken(t, nil, nil, basicID, basicSecret)
	r := consentCall(t, client(nil), http.MethodPost, consentsURL, cc, body)
	if r.status != http.StatusCreated {
		t.Fatalf("consent: %d %s", r.status, r.raw)
	}
	id := r.body["Data"].(map[string]any)["ConsentId"].(string)
	now := time.Now()
	var tok string
	err := activeApp(t).Store().Update(func(tx store.Txn) error {
		if _, err := consent.Change(tx, id, now, func(c *consent.Consent) error { return c.Authorise(subject, accounts, now) }); err != nil {
			return err
		}
		var err error
		tok, err = token.MintAccess(tx, &token.Access{ClientID: basicID, Grant: token.CIBA, Scope: "openid accounts",
			Subject: subject, ConsentID: id, IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}, time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, tok
}

// submit clicks the button that sends a form and waits for the next page (marked as old
// first, so that the page being left never counts as the answer).
func submit(ctx context.Context, button string) error {
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body.setAttribute("data-old", ""), true`)); err != nil {
		return err
	}
	return chromedp.Do(ctx, chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS("body:not([data-old]) h1")))
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// customer is a browser-less customer at the dashboard: an HTTP client with a cookie jar.
type customer struct {
	c    *http.Client
	csrf string
}

func newCustomer(t *testing.T) *customer {
	jar, _ := cookiejar.New(nil)
	c := client(nil)
	c.Jar = jar
	return &customer{c: c}
}

func (cu *customer) get(t *testing.T) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, accessURL, nil)
	return cu.keep(do(t, cu.c, req))
}

func (cu *customer) post(t *testing.T, kv ...string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, accessURL, strings.NewReader(formOf(kv...).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return cu.keep(do(t, cu.c, req))
}

func (cu *customer) keep(r response) response {
	if m := csrfField.FindStringSubmatch(r.raw); m != nil {
		cu.csrf = m[1]
	}
	return r
}

func (cu *customer) signIn(t *testing.T, login, password string) response {
	t.Helper()
	return cu.post(t, "action", "sign-in", "login", login, "password", password)
}

// signedIn tells whether the page is the signed-in list.
func signedIn(r response) bool {
	return strings.Contains(r.raw, "Apps with access to your accounts</h1>")
}

// TestAccessDashboard drives the dashboard in Chromium at a phone's size: sign in, every
// field of every consent, newest first; withdraw after a confirm step, and the TPP's token
// is refused at the gate's next request while the TPP's GET reads Revoked; sign out.
func TestAccessDashboard(t *testing.T) {
	_, up, flowLog := accessGateway(t)
	newTab := phone(t)
	older, _ := consentFor(t, `{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`, "sub-alice", "acc-2")
	id, tok := consentFor(t, `{"Data":{"Permissions":["ReadAccountsDetail","ReadBalances","ReadTransactionsDetail","ReadTransactionsDebits","ReadPartyPSU"],`+
		`"ExpirationDateTime":"2099-05-02T00:00:00+00:00","TransactionFromDateTime":"2026-01-01T00:00:00+00:00"},"Risk":{}}`, "sub-alice", "acc-1", "acc-2")
	daves, _ := consentFor(t, consentBody, "sub-dave", "acc-9")

	if r := accountCall(t, "/accounts/acc-1", tok); r.status != http.StatusOK {
		t.Fatalf("gated call before: %d %s", r.status, r.raw)
	}
	// The last use is written after the answer.
	for i := 0; activeApp(t).provider.LastUse(id).IsZero(); i++ {
		if i == 100 {
			t.Fatal("the gate's use was never noted")
		}
		time.Sleep(50 * time.Millisecond)
	}

	ctx := newTab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(accessURL), chromedp.WaitVisible(chromedp.CSS("#sign-in"))); err != nil {
		t.Fatal(err)
	}
	if bank := textOf(t, ctx, "#bank-name"); bank != "Demo Bank" {
		t.Fatalf("bank name %q", bank)
	}
	logoWidth, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector(".bank img").naturalWidth`))
	if err != nil || logoWidth == 0 {
		t.Fatalf("the logo did not load: %d %v", logoWidth, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#login"), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), alicePIN),
	); err != nil {
		t.Fatal(err)
	}
	if err := submit(ctx, "#sign-in-button"); err != nil {
		t.Fatal(err)
	}
	if body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); !strings.Contains(body, "Apps with access") {
		t.Fatalf("after signing in: %s", body)
	}
	order, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("article.consent"), a => a.id)`))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(order) != fmt.Sprint([]string{"consent-" + id, "consent-" + older}) {
		t.Fatalf("consents shown %v: not alice's newest first (dave's is %s)", order, daves)
	}
	// Open every drill-down, as a customer taps them.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelectorAll("details").forEach(d => d.open = true), true`)); err != nil {
		t.Fatal(err)
	}
	sel := "#consent-" + id + " "
	for _, tc := range []struct{ sel, want string }{
		{".client", "Basic TPP"},
		{".status", "Active"},
		{".expires", "until 2 May 2099, 00:00 UTC"},
		{".window", "Transactions from 1 January 2026 on."},
		{".accounts li:nth-child(1)", "Current"},
		{".accounts li:nth-child(1) .masked", "••••5698"},
		{".accounts li:nth-child(2)", "Savings"},
		{".accounts li:nth-child(2) .masked", "••••6819"},
		{".granted", time.Now().UTC().Format("2 January 2006")},
		{".last-used", time.Now().UTC().Format("2 January 2006")},
		{"details:nth-of-type(1) summary", "Your account details"},
		{"details:nth-of-type(1) ul", consent.ReadBalances.Describe()},
		{"details:nth-of-type(2) summary", "Your account transactions"},
		{"details:nth-of-type(2) ul", consent.ReadTransactionsDetail.Describe()},
		{"details:nth-of-type(3) summary", "Your contact details"},
		{"details:nth-of-type(3) ul", consent.ReadPartyPSU.Describe()},
	} {
		if got := textOf(t, ctx, sel+tc.sel); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.sel, got, tc.want)
		}
	}
	if got := textOf(t, ctx, "#consent-"+older+" .expires"); got != "until you withdraw it" {
		t.Errorf("open-ended consent lasts %q", got)
	}
	if got := textOf(t, ctx, "#consent-"+older+" .last-used"); got != "Not used yet" {
		t.Errorf("unused consent last used %q", got)
	}
	if *update {
		screenshot(t, ctx, "../docs/access-dashboard.png")
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(sel+"form.withdraw button")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
	); err != nil {
		t.Fatal(err)
	}
	if c, _ := activeApp(t).provider.Consents.Get(id); c.Status != consent.Authorised {
		t.Fatal("the confirm step withdrew the access already")
	}
	if title := textOf(t, ctx, "#confirm h1"); title != "Withdraw access for Basic TPP?" {
		t.Fatalf("confirm step: %q", title)
	}
	revokedBefore := scrape(t)["caddyciba_consent_transitions_total{status=Revoked}"]
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#withdraw")), chromedp.WaitVisible(chromedp.CSS("#notice"))); err != nil {
		t.Fatal(err)
	}
	if got := textOf(t, ctx, sel+".status"); got != "Withdrawn" {
		t.Fatalf("after withdrawing the status is %q", got)
	}
	// The gate refuses the token (401) or its consent (403); the bank never sees the call.
	reached := up.count()
	if r := accountCall(t, "/accounts/acc-1", tok); (r.status != http.StatusUnauthorized && r.status != http.StatusForbidden) || up.count() != reached {
		t.Fatalf("the TPP's token after withdrawal: %d %s", r.status, r.raw)
	}
	cc := ccToken(t, nil, nil, basicID, basicSecret)
	if r := consentCall(t, client(nil), http.MethodGet, consentsURL+"/"+id, cc, ""); r.body["Data"].(map[string]any)["Status"] != "Revoked" {
		t.Fatalf("the TPP reads %s", r.raw)
	}
	if got := scrape(t)["caddyciba_consent_transitions_total{status=Revoked}"]; got != revokedBefore+1 {
		t.Errorf("Revoked transitions %v, then %v", revokedBefore, got)
	}
	step := `"step":"consent withdrawn by the customer","interaction_id":"`
	waitFor(t, func() bool {
		buf, _ := os.ReadFile(flowLog)
		return strings.Contains(string(buf), step) && strings.Contains(string(buf), `"consent_id":"`+id+`","outcome":"ok"`)
	})
	if buf, _ := os.ReadFile(flowLog); strings.Contains(string(buf), alicePIN) || strings.Contains(string(buf), "ciba_access") {
		t.Fatal("the flow log holds a password or a session cookie")
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#sign-out-button")), chromedp.WaitVisible(chromedp.CSS("#sign-in"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(accessURL), chromedp.WaitVisible(chromedp.CSS("#sign-in"))); err != nil {
		t.Fatalf("after signing out: %v", err)
	}
}

// TestAccessDashboardRefusals: the page's headers; no customer data without a session; the
// same answer for every refused sign-in; a POST without the session's CSRF token, or from
// another site, changes nothing; another customer's consent is the same 404 as an unknown
// one; a signed-out cookie is dead.
func TestAccessDashboardRefusals(t *testing.T) {
	_, _, _ = accessGateway(t)
	mine, _ := consentFor(t, consentBody, "sub-alice", "acc-1")
	daves, _ := consentFor(t, consentBody, "sub-dave", "acc-9")

	cu := newCustomer(t)
	first := cu.get(t)
	for h, want := range map[string]string{
		"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
		"Content-Type": "text/html; charset=utf-8",
	} {
		if got := first.header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	csp := first.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "style-src 'sha256-"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") || strings.Contains(first.raw, "<script") {
		t.Errorf("the dashboard allows script: %q", csp)
	}
	if signedIn(first) || strings.Contains(first.raw, mine) {
		t.Fatal("customer data without a session")
	}

	// Unknown login, wrong password, a customer with the right password who is now locked:
	// one answer. dave is locked by five wrong passwords first.
	for range 5 {
		newCustomer(t).signIn(t, "dave@example.com", "wrong")
	}
	var answers []string
	for _, tc := range []struct{ login, password string }{
		{"nobody@example.com", "whatever"},
		{"alice@example.com", "not-her-pin"},
		{"dave@example.com", davePW},
	} {
		r := newCustomer(t).signIn(t, tc.login, tc.password)
		if r.status != http.StatusUnauthorized || signedIn(r) || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("%s: %d, cookie %q", tc.login, r.status, r.header.Get("Set-Cookie"))
		}
		answers = append(answers, strings.Replace(r.raw, tc.login, "LOGIN", 1))
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Fatalf("refused sign-ins differ:\n%s\n%s\n%s", answers[0], answers[1], answers[2])
	}

	r := cu.signIn(t, "alice@example.com", alicePIN)
	if !signedIn(r) || !strings.Contains(r.raw, mine) || strings.Contains(r.raw, daves) || cu.csrf == "" {
		t.Fatalf("alice's list: %d %s", r.status, r.raw)
	}
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"ciba_access=", "Path=/ciba/access", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("cookie %q is Secure on loopback HTTP, where the browser would never send it back", cookie)
	}

	revoked := func(id string) bool {
		c, err := activeApp(t).provider.Consents.Get(id)
		return err != nil || c.Status != consent.Authorised
	}
	for _, tc := range []struct {
		name   string
		kv     []string
		status int
		header []string
	}{
		{"no CSRF token", []string{"action", "withdraw", "consent", mine}, http.StatusForbidden, nil},
		{"wrong CSRF token", []string{"action", "withdraw", "consent", mine, "csrf", strings.Repeat("A", 43)}, http.StatusForbidden, nil},
		{"another customer's consent", []string{"action", "withdraw", "consent", daves, "csrf", "{csrf}"}, http.StatusNotFound, nil},
		{"another customer's consent, confirm step", []string{"action", "withdraw-confirm", "consent", daves, "csrf", "{csrf}"}, http.StatusNotFound, nil},
		{"unknown consent", []string{"action", "withdraw", "consent", "aac-unknown", "csrf", "{csrf}"}, http.StatusNotFound, nil},
		{"from another site", []string{"action", "withdraw", "consent", mine, "csrf", "{csrf}"}, http.StatusForbidden, []string{"Origin", "https://evil.example"}},
		{"from another site, by Fetch Metadata", []string{"action", "withdraw", "consent", mine, "csrf", "{csrf}"}, http.StatusForbidden, []string{"Sec-Fetch-Site", "cross-site", "Origin", "null"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := append([]string(nil), tc.kv...)
			for i := range kv {
				if kv[i] == "{csrf}" {
					kv[i] = cu.csrf
				}
			}
			req, _ := http.NewRequest(http.MethodPost, accessURL, strings.NewReader(formOf(kv...).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			r := do(t, cu.c, req)
			if r.status != tc.status {
				t.Fatalf("%d, want %d", r.status, tc.status)
			}
			if revoked(mine) || revoked(daves) {
				t.Fatal("a refused form withdrew access")
			}
		})
	}
	unknown := cu.post(t, "action", "withdraw", "consent", "aac-unknown", "csrf", cu.csrf)
	foreign := cu.post(t, "action", "withdraw", "consent", daves, "csrf", cu.csrf)
	if unknown.raw != foreign.raw {
		t.Fatal("another customer's consent reads differently from an unknown one")
	}

	if r := cu.post(t, "action", "sign-out", "csrf", cu.csrf); r.status != http.StatusOK || signedIn(r) {
		t.Fatalf("sign-out: %d", r.status)
	}
	// The signed-out cookie, presented again, opens nothing.
	stale := newCustomer(t)
	u, _ := url.Parse(accessURL)
	stale.c.Jar.SetCookies(u, []*http.Cookie{{Name: "ciba_access", Value: cookieValue(cookie)}})
	if r := stale.get(t); signedIn(r) {
		t.Fatal("a signed-out session still opens the list")
	}
}

func cookieValue(setCookie string) string {
	v := strings.TrimPrefix(setCookie, "ciba_access=")
	return v[:strings.IndexByte(v, ';')]
}

// TestAccessSessionExpiry: a session left alone past its idle limit ends; one in use is
// kept alive past the same span.
func TestAccessSessionExpiry(t *testing.T) {
	accessIdle.Store(int64(3 * time.Second))
	t.Cleanup(func() { accessIdle.Store(0) })
	_, _, _ = accessGateway(t)

	busy, idle := newCustomer(t), newCustomer(t)
	for _, cu := range []*customer{busy, idle} {
		if r := cu.signIn(t, "alice@example.com", alicePIN); !signedIn(r) {
			t.Fatalf("sign-in: %d", r.status)
		}
	}
	for range 7 {
		time.Sleep(500 * time.Millisecond)
		if r := busy.get(t); !signedIn(r) {
			t.Fatal("a session in use ended")
		}
	}
	if r := idle.get(t); signedIn(r) {
		t.Fatal("an idle session outlived its limit")
	}
}

// TestLockoutSharedWithApprovalPage: one counter per customer covers the dashboard and the
// approval page. Five wrong passwords on the dashboard, and the approval page refuses
// alice's right one; five wrong on the approval page, and the dashboard refuses dave's.
func TestLockoutSharedWithApprovalPage(t *testing.T) {
	hook, _, _ := accessGateway(t)

	_, _, n := startForAlice(t, hook)
	for range 5 {
		if r := newCustomer(t).signIn(t, "alice@example.com", "wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", r.status)
		}
	}
	errorOnly(t, decide(t, n, pageToken(n), `{"decision":"approve","accounts":["acc-1"],"password":"`+alicePIN+`"}`),
		http.StatusTooManyRequests, "password_locked")

	startFor(t, "dave@example.com")
	nd := notification(t, hook)
	for i := range 5 {
		r := decide(t, nd, pageToken(nd), `{"decision":"approve","accounts":["acc-9"],"password":"wrong"}`)
		if r.status != http.StatusForbidden && !(i == 4 && r.status == http.StatusTooManyRequests) {
			t.Fatalf("wrong password %d on the approval page: %d %s", i, r.status, r.raw)
		}
	}
	if r := newCustomer(t).signIn(t, "dave@example.com", davePW); signedIn(r) || r.status != http.StatusUnauthorized {
		t.Fatalf("the dashboard let a locked customer in: %d", r.status)
	}
}

// TestApprovalPageShowsTheBank: the approval page carries the bank's name and logo, each
// account's masked number, how long access lasts and the transaction window, and after
// the decision a link to the access dashboard. An open-ended consent lasts "until you
// withdraw it".
func TestApprovalPageShowsTheBank(t *testing.T) {
	hook, _, _ := accessGateway(t)
	newTab := phone(t)
	_, _, n := startForAlice(t, hook)
	ctx := newTab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(n.DeviceURL), chromedp.WaitVisible(chromedp.CSS("#request"))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ sel, want string }{
		{"#bank-name", "Demo Bank"},
		{"#accounts", "••••5698"},
		{"#accounts", "••••6819"},
		{"#consent-expiry", "Access lasts until 2 May 2099, 00:00 UTC."},
		{"#window", "Transactions from 1 January 2026 on."},
	} {
		if got := textOf(t, ctx, tc.sel); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.sel, got, tc.want)
		}
	}
	logoWidth, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector(".bank img").naturalWidth`))
	if err != nil || logoWidth == 0 {
		t.Fatalf("the logo did not load: %d %v", logoWidth, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#accounts input[value="acc-1"]`))); err != nil {
		t.Fatal(err)
	}
	if *update {
		screenshot(t, ctx, "../docs/approval-page.png")
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#password"), alicePIN),
		chromedp.Click(chromedp.CSS("#approve")),
	); err != nil {
		t.Fatal(err)
	}
	if state, _ := ending(t, ctx); state != "approved" {
		t.Fatalf("after approval the page is %q", state)
	}
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#dashboard a").href`))
	if err != nil || href != accessURL || textOf(t, ctx, "#dashboard") == "" {
		t.Fatalf("dashboard link %q %v", href, err)
	}

	// An open-ended consent, read as a bank's app reads the request.
	cc := ccToken(t, nil, nil, basicID, basicSecret)
	r := consentCall(t, client(nil), http.MethodPost, consentsURL, cc, `{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`)
	id := r.body["Data"].(map[string]any)["ConsentId"].(string)
	if ack := bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "alice@example.com", "openbanking_intent_id", id); ack.status != http.StatusOK {
		t.Fatalf("bc-authorize: %d %s", ack.status, ack.raw)
	}
	open := notification(t, hook)
	req, _ := http.NewRequest(http.MethodGet, open.DecisionURL, nil)
	req.Header.Set("Authorization", "Bearer "+pageToken(open))
	view := do(t, client(nil), req)
	if view.str("access_lasts") != "until you withdraw it" || view.str("transaction_window") != "" {
		t.Fatalf("open-ended consent: %s", view.raw)
	}
}

// TestLogo: the logo is served with its type, nosniff and, for SVG, a sandbox.
func TestLogo(t *testing.T) {
	_, _, _ = accessGateway(t)
	r := get(t, client(nil), httpBase+op.PathLogo)
	want, _ := os.ReadFile("../examples/bank-logo.svg")
	if r.status != http.StatusOK || r.raw != string(want) || r.header.Get("Content-Type") != "image/svg+xml" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("logo: %d %v", r.status, r.header)
	}
}

// TestAccessDashboardRefusalsInBrowser: the refusals as a phone meets them. A withdraw
// form stripped of its CSRF token, or pointed at another customer's consent, changes
// nothing; a session left alone ends; five wrong passwords on the dashboard lock the
// approval page too.
func TestAccessDashboardRefusalsInBrowser(t *testing.T) {
	accessIdle.Store(int64(8 * time.Second))
	t.Cleanup(func() { accessIdle.Store(0) })
	hook, _, _ := accessGateway(t)
	newTab := phone(t)
	mine, _ := consentFor(t, consentBody, "sub-alice", "acc-1")
	daves, _ := consentFor(t, consentBody, "sub-dave", "acc-9")
	ctx := newTab(t)
	signIn := func(password string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(accessURL),
			chromedp.WaitVisible(chromedp.CSS("#sign-in")),
			chromedp.SendKeys(chromedp.CSS("#login"), "alice@example.com"),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
		); err != nil {
			t.Fatal(err)
		}
		if err := submit(ctx, "#sign-in-button"); err != nil {
			t.Fatal(err)
		}
	}
	// edit changes the withdraw form with DevTools, as a forger would, and sends it. The
	// last answer's error goes first, so that only the next page's can be waited for.
	edit := func(script string) string {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(f => { document.getElementById("error")?.remove(); `+script+`; return true })(document.querySelector("#consent-`+mine+` form.withdraw"))`)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#consent-"+mine+" form.withdraw button")), chromedp.WaitVisible(chromedp.CSS("#error"))); err != nil {
			t.Fatal(err)
		}
		return textOf(t, ctx, "#error")
	}
	signIn(alicePIN)
	if got := edit(`f.querySelector("[name=csrf]").remove(); f.querySelector("[name=action]").value = "withdraw"`); !strings.Contains(got, "expired") {
		t.Errorf("a form without its CSRF token: %q", got)
	}
	if got := edit(`f.querySelector("[name=consent]").value = "` + daves + `"`); got != "There is no such access." {
		t.Errorf("another customer's consent: %q", got)
	}
	for _, id := range []string{mine, daves} {
		if c, _ := activeApp(t).provider.Consents.Get(id); c.Status != consent.Authorised {
			t.Fatalf("a refused form changed %s", id)
		}
	}

	time.Sleep(8500 * time.Millisecond)
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#sign-in"))); err != nil {
		t.Fatalf("an idle session still shows the list: %v", err)
	}

	_, _, n := startForAlice(t, hook)
	for range 5 {
		signIn("not-her-pin")
		if got := textOf(t, ctx, "#error"); got == "" {
			t.Fatal("a wrong password was not refused")
		}
	}
	page := newTab(t)
	if err := chromedp.Do(page,
		chromedp.Navigate(n.DeviceURL),
		chromedp.WaitVisible(chromedp.CSS("#request")),
		chromedp.Click(chromedp.CSS(`#accounts input[value="acc-1"]`)),
		chromedp.SendKeys(chromedp.CSS("#password"), alicePIN),
		chromedp.Click(chromedp.CSS("#approve")),
		chromedp.WaitVisible(chromedp.CSS("#error")),
	); err != nil {
		t.Fatal(err)
	}
	if got := textOf(t, page, "#error"); !strings.Contains(got, "too many wrong passwords") {
		t.Fatalf("the approval page after five wrong passwords on the dashboard: %q", got)
	}
}
