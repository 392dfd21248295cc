package caddyciba

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/notifier"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// phone starts headless Chromium for the test and returns a context that emulates an
// iPhone 12 Pro (390×844) in a fresh tab.
func phone(t *testing.T) (newTab func(t *testing.T) context.Context) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Debian's chromium (apt-get install chromium; .ci/run does): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	return func(t *testing.T) context.Context {
		tab, cancelTab := chromedp.NewContext(browser)
		ctx, cancel := context.WithTimeout(tab, 45*time.Second)
		t.Cleanup(func() { cancel(); cancelTab() })
		if err := chromedp.Do(ctx, chromedp.Emulate(device.IPhone12Pro)); err != nil {
			t.Fatal(err)
		}
		return ctx
	}
}

// startForAlice starts a request of tpp-basic for alice on a new consent and returns the
// auth_req_id, the consent and the device's notification.
func startForAlice(t *testing.T, hook *receiver, kv ...string) (string, string, *notifier.Notification) {
	t.Helper()
	authReqID, consentID := startFor(t, "alice@example.com", append([]string{"binding_message", "Approve 4F2Q"}, kv...)...)
	return authReqID, consentID, notification(t, hook)
}

// ending waits for the page's closing message and returns its state and title.
func ending(t *testing.T, ctx context.Context) (state, title string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#message"))); err != nil {
		t.Fatalf("waiting for the closing message: %v", err)
	}
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#message"), "data-state"))
	if err != nil {
		t.Fatal(err)
	}
	return attr.Value, textOf(t, ctx, "#message-title")
}

// textOf is the text of the element the CSS selector finds.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// screenshot keeps a PNG of the page, and a copy in $CADDYCIBA_SCREENSHOTS when set, since
// the test's temp dir goes with the test.
func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, png, 0o600)
	}
	if keep := os.Getenv("CADDYCIBA_SCREENSHOTS"); err == nil && keep != "" {
		err = os.WriteFile(filepath.Join(keep, filepath.Base(path)), png, 0o600)
	}
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
}

// TestApprovalPage drives the approval page in headless Chromium at a phone's size: it
// shows the binding message, the client and the permissions; a wrong password is refused
// on the page; with the right one and one of two accounts picked the TPP's poll gets
// tokens whose consent holds exactly that account. Then deny, a reused link, an expired
// link and an unknown one, each with its own page; the device token never reaches the
// access log, and the screenshots are kept in the test's temp dir.
func TestApprovalPage(t *testing.T) {
	accessLog := filepath.Join(t.TempDir(), "access.log")
	hook := newReceiver(t, nil)
	cfg := gatewayConfig(t.TempDir(), "users "+writeUsers(t)+"\n\t\tpoll_interval 1s\n\t\tnotifier webhook "+hook.URL+
		" {\n\t\t\tsecret "+webhookSecret+"\n\t\t}")
	cfg = strings.Replace(cfg, "\tciba_endpoints\n", "\tlog {\n\t\toutput file "+accessLog+"\n\t}\n\tciba_endpoints\n", 1)
	startGateway(t, cfg)
	newTab := phone(t)
	shots := t.TempDir()

	authReqID, consentID, n := startForAlice(t, hook)
	t.Run("approve", func(t *testing.T) {
		ctx := newTab(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(n.DeviceURL), chromedp.WaitVisible(chromedp.CSS("#request"))); err != nil {
			t.Fatal(err)
		}
		location, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		permissions, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#permissions li"), li => li.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		binding, clientName := textOf(t, ctx, "#binding-message"), textOf(t, ctx, "#client")
		screenshot(t, ctx, filepath.Join(shots, "approval-request.png"))
		if bank := textOf(t, ctx, "#bank-name"); bank != "Your bank" {
			t.Fatalf("without branding the bank is %q", bank)
		}
		if binding != "Approve 4F2Q" || clientName != "Basic TPP" || strings.Contains(location, "#t=") {
			t.Fatalf("binding %q, client %q, location %q", binding, clientName, location)
		}
		if !slices.Contains(permissions, consent.ReadAccountsDetail.Describe()) || !slices.Contains(permissions, consent.ReadBalances.Describe()) {
			t.Fatalf("permissions shown: %q", permissions)
		}

		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#accounts input[value="acc-2"]`)),
			chromedp.SendKeys(chromedp.CSS("#password"), "not-the-pin"),
			chromedp.Click(chromedp.CSS("#approve")),
			chromedp.WaitVisible(chromedp.CSS("#error")),
		); err != nil {
			t.Fatal(err)
		}
		if refusal := textOf(t, ctx, "#error"); !strings.Contains(refusal, "wrong password") {
			t.Fatalf("after a wrong password the page says %q", refusal)
		}
		errorOnly(t, pollBasic(t, basicID, basicSecret, authReqID), http.StatusBadRequest, "authorization_pending")

		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#password"), alicePIN),
			chromedp.Click(chromedp.CSS("#approve")),
		); err != nil {
			t.Fatal(err)
		}
		if state, _ := ending(t, ctx); state != "approved" {
			t.Fatalf("after approval the page is %q", state)
		}
		screenshot(t, ctx, filepath.Join(shots, "approval-done.png"))
		t.Logf("screenshots in %s", shots)

		time.Sleep(1100 * time.Millisecond)
		tokens := pollBasic(t, basicID, basicSecret, authReqID)
		if tokens.status != http.StatusOK || tokens.str("access_token") == "" {
			t.Fatalf("poll after approval: %d %s", tokens.status, tokens.raw)
		}
		c, err := activeApp(t).provider.Consents.Get(consentID)
		if err != nil || c.Status != consent.Authorised || !slices.Equal(c.AccountIDs, []string{"acc-2"}) {
			t.Fatalf("consent %+v, %v", c, err)
		}
	})

	t.Run("reused link", func(t *testing.T) {
		ctx := newTab(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(n.DeviceURL)); err != nil {
			t.Fatal(err)
		}
		if state, title := ending(t, ctx); state != "used" || !strings.Contains(title, "already answered") {
			t.Fatalf("reused link: %q %q", state, title)
		}
	})

	t.Run("deny", func(t *testing.T) {
		authReqID, consentID, n := startForAlice(t, hook)
		ctx := newTab(t)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(n.DeviceURL),
			chromedp.WaitVisible(chromedp.CSS("#request")),
			chromedp.Click(chromedp.CSS("#deny")),
		); err != nil {
			t.Fatal(err)
		}
		if state, _ := ending(t, ctx); state != "denied" {
			t.Fatalf("after denial the page is %q", state)
		}
		time.Sleep(1100 * time.Millisecond)
		errorOnly(t, pollBasic(t, basicID, basicSecret, authReqID), http.StatusBadRequest, "access_denied")
		if c, err := activeApp(t).provider.Consents.Get(consentID); err != nil || c.Status != consent.Rejected {
			t.Fatalf("consent after denial %+v, %v", c, err)
		}
	})

	t.Run("expired link", func(t *testing.T) {
		_, _, n := startForAlice(t, hook, "requested_expiry", "2")
		time.Sleep(2100 * time.Millisecond)
		ctx := newTab(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(n.DeviceURL)); err != nil {
			t.Fatal(err)
		}
		if state, title := ending(t, ctx); state != "expired" || !strings.Contains(title, "expired") {
			t.Fatalf("expired link: %q %q", state, title)
		}
	})

	t.Run("unknown link", func(t *testing.T) {
		ctx := newTab(t)
		forged := n.DeviceURL[:strings.Index(n.DeviceURL, "#t=")] + "#t=" + strings.Repeat("x", 43)
		if err := chromedp.Do(ctx, chromedp.Navigate(forged)); err != nil {
			t.Fatal(err)
		}
		if state, title := ending(t, ctx); state != "unknown" || !strings.Contains(title, "not valid") {
			t.Fatalf("unknown link: %q %q", state, title)
		}
	})

	logged, err := os.ReadFile(accessLog)
	if err != nil || !strings.Contains(string(logged), "/ciba/device/") {
		t.Fatalf("access log %s: %v", logged, err)
	}
	token := n.DeviceURL[strings.Index(n.DeviceURL, "#t=")+3:]
	if strings.Contains(string(logged), token) {
		t.Fatal("the device token is in the access log")
	}
}
