package caddyciba

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/op/devicepage"
	"github.com/caddyciba/gateway/internal/testsmtp"
	"github.com/caddyciba/gateway/notifier"
)

// pageToken is the token in a device link's fragment.
func pageToken(n *notifier.Notification) string {
	return n.DeviceURL[strings.Index(n.DeviceURL, "#t=")+3:]
}

// deviceGet reads the device URL with the given headers (name, value pairs).
func deviceGet(t *testing.T, n *notifier.Notification, kv ...string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.DecisionURL, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	return do(t, client(nil), req)
}

// TestDevicePage: the page is one self-contained document behind a strict CSP that holds
// no token; the request view answers either token, says when the password is needed, and
// refuses cross-site calls.
func TestDevicePage(t *testing.T) {
	hook := cibaGateway(t, "")
	_, n := startBasic(t, hook, "binding_message", "Approve 4F2Q")

	page := deviceGet(t, n)
	h := page.header
	if page.status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
		h.Get("Content-Security-Policy") != devicepage.CSP || h.Get("Referrer-Policy") != "no-referrer" ||
		h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("page: %d %v", page.status, h)
	}
	if strings.Contains(page.raw, pageToken(n)) || strings.Contains(page.raw, n.DeviceToken) {
		t.Fatal("the page carries a token")
	}

	view := deviceGet(t, n, "Authorization", "Bearer "+pageToken(n))
	accounts, _ := view.body["accounts"].([]any)
	perms, _ := view.body["permissions"].([]any)
	if view.status != http.StatusOK || view.str("client_name") != "Basic TPP" || view.str("binding_message") != "Approve 4F2Q" ||
		view.body["password_required"] != true || len(accounts) != 2 || len(perms) == 0 || view.str("expires_at") == "" {
		t.Fatalf("view with the page token: %d %s", view.status, view.raw)
	}
	if first := accounts[0].(map[string]any); first["id"] != "acc-1" || first["name"] != "Current" {
		t.Fatalf("account view %v", first)
	}
	if p := perms[0].(map[string]any); p["code"] == "" || p["text"] == "" {
		t.Fatalf("permission view %v", p)
	}
	if app := deviceGet(t, n, "Authorization", "Bearer "+n.DeviceToken); app.status != http.StatusOK || app.body["password_required"] != false {
		t.Fatalf("view with the app token: %d %s", app.status, app.raw)
	}
	for name, headers := range map[string][]string{
		"wrong token": {"Authorization", "Bearer " + strings.Repeat("A", 43)},
		"cross-site":  {"Authorization", "Bearer " + pageToken(n), "Sec-Fetch-Site", "cross-site"},
	} {
		if r := deviceGet(t, n, headers...); r.status != http.StatusUnauthorized && r.status != http.StatusForbidden {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, n.DecisionURL, nil)
	if r := do(t, client(nil), req); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", r.status)
	}
}

// TestDevicePagePassword: an approval with the page token needs the user's password;
// wrong ones count down to a lock that holds even for the right password and for the
// user's next request, while the bank's app (app token) and a denial need none, and a
// user without a password approves without one.
func TestDevicePagePassword(t *testing.T) {
	hook := cibaGateway(t, "password_attempts 3\n\t\tpassword_lockout 10m")
	_, n := startBasic(t, hook)
	page := pageToken(n)
	approveWith := func(password string) string {
		return `{"decision":"approve","accounts":["acc-1"],"password":"` + password + `"}`
	}
	steps := []struct {
		body   string
		status int
		code   string
		says   string
	}{
		{`{"decision":"approve","accounts":["acc-1"]}`, 400, "password_required", ""},
		{approveWith("guess-1"), 403, "wrong_password", "2 tries left"},
		{approveWith("guess-2"), 403, "wrong_password", "1 tries left"},
		{approveWith("guess-3"), 403, "wrong_password", "locked"},
		{approveWith(alicePIN), 429, "password_locked", "try again after"},
	}
	for i, s := range steps {
		r := decide(t, n, page, s.body)
		if r.status != s.status || r.str("error") != s.code || !strings.Contains(r.str("error_description"), s.says) {
			t.Fatalf("step %d: %d %s, want %d %s %q", i, r.status, r.raw, s.status, s.code, s.says)
		}
	}
	if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-1"]}`); r.status != http.StatusNoContent {
		t.Fatalf("the bank's app while the password is locked: %d %s", r.status, r.raw)
	}

	_, next := startBasic(t, hook)
	if r := decide(t, next, pageToken(next), approveWith(alicePIN)); r.status != http.StatusTooManyRequests {
		t.Fatalf("the lock does not hold for the next request: %d %s", r.status, r.raw)
	}
	if r := decide(t, next, pageToken(next), `{"decision":"deny"}`); r.status != http.StatusNoContent {
		t.Fatalf("deny without a password: %d %s", r.status, r.raw)
	}

	consentID := newConsent(t, basicID, basicSecret)
	if ack := bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "carol@example.com",
		"openbanking_intent_id", consentID); ack.status != http.StatusOK {
		t.Fatalf("bc-authorize for carol: %d %s", ack.status, ack.raw)
	}
	carol := notification(t, hook)
	if r := decide(t, carol, pageToken(carol), `{"decision":"approve","accounts":["acc-4"]}`); r.status != http.StatusNoContent {
		t.Fatalf("carol without a password: %d %s", r.status, r.raw)
	}
}

var deviceLinkInMail = regexp.MustCompile(`http://\S+/ciba/device/\S+#t=\S+`)

// TestSMTPChannel: with a real relay (STARTTLS, AUTH) first and the webhook second, alice's
// request arrives by mail with the link and the binding message, the link works (view,
// approval with her password, tokens at the poll), and the webhook is not used; dave, who
// has no mail address, is reached through the webhook instead.
func TestSMTPChannel(t *testing.T) {
	relay := testsmtp.Start(t, false)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "relay-ca.pem")
	certPath, _, err := relay.CA.WritePEM(dir, "relay-ca")
	if err != nil || os.Rename(certPath, caFile) != nil {
		t.Fatal(err)
	}
	usersFile := writeUsers(t)
	list, _ := os.ReadFile(usersFile)
	dave := `,{"subject":"sub-dave","login_hints":["dave"],"accounts":[{"AccountId":"acc-9"}]}]`
	if err := os.WriteFile(usersFile, []byte(strings.TrimSuffix(strings.TrimSpace(string(list)), "]")+dave), 0o600); err != nil {
		t.Fatal(err)
	}
	hook := newReceiver(t, nil)
	startGateway(t, gatewayConfig(t.TempDir(), `users `+usersFile+`
		poll_interval 1s
		notifier smtp `+relay.Addr+` {
			username `+testsmtp.Username+`
			password `+testsmtp.Password+`
			from     "Test Bank <no-reply@bank.example>"
			ca_file  `+caFile+`
		}
		notifier webhook `+hook.URL+` {
			secret `+webhookSecret+`
		}`))

	authReqID, _ := startFor(t, "alice@example.com", "binding_message", "Approve 4F2Q")
	mail := relay.Next(t)
	link := deviceLinkInMail.FindString(mail.Body)
	if len(mail.To) != 1 || mail.To[0] != "alice@example.com" || link == "" || !strings.Contains(mail.Body, "Approve 4F2Q") {
		t.Fatalf("mail to %v:\n%s", mail.To, mail.Body)
	}
	id, token, _ := strings.Cut(strings.TrimPrefix(link, httpBase+"/ciba/device/"), "#t=")
	viaMail := &notifier.Notification{DecisionURL: httpBase + "/ciba/device/" + id, DeviceURL: link}
	if r := deviceGet(t, viaMail, "Authorization", "Bearer "+token); r.status != http.StatusOK || r.str("binding_message") != "Approve 4F2Q" {
		t.Fatalf("the mailed link's view: %d %s", r.status, r.raw)
	}
	if r := decide(t, viaMail, token, `{"decision":"approve","accounts":["acc-2"],"password":"`+alicePIN+`"}`); r.status != http.StatusNoContent {
		t.Fatalf("approval through the mailed link: %d %s", r.status, r.raw)
	}
	time.Sleep(1100 * time.Millisecond)
	if r := pollBasic(t, basicID, basicSecret, authReqID); r.status != http.StatusOK {
		t.Fatalf("poll: %d %s", r.status, r.raw)
	}

	startFor(t, "dave")
	if got := notification(t, hook); got.Subject != "sub-dave" || got.Email != "" {
		t.Fatalf("webhook for dave: %+v", got)
	}
	if relay.Count() != 1 {
		t.Fatalf("%d mails; the webhook should have been used for dave only", relay.Count())
	}
}

// startFor starts a request of tpp-basic for the login hint on a new consent.
// It returns the auth_req_id and the consent.
func startFor(t *testing.T, hint string, kv ...string) (string, string) {
	t.Helper()
	consentID := newConsent(t, basicID, basicSecret)
	form := append([]string{"scope", "openid accounts", "login_hint", hint, "openbanking_intent_id", consentID}, kv...)
	ack := bcBasic(t, basicID, basicSecret, form...)
	if ack.status != http.StatusOK {
		t.Fatalf("bc-authorize for %s: %d %s", hint, ack.status, ack.raw)
	}
	return ack.str("auth_req_id"), consentID
}
