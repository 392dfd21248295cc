package caddyciba

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestUsersFileReload: a user added to the file can start a request without a restart,
// and a broken file keeps the last good directory in service.
func TestUsersFileReload(t *testing.T) {
	path := writeUsers(t)
	startGateway(t, gatewayConfig(t.TempDir(), "users "+path+"\n\t\tpoll_interval 1s"))
	start := func() response {
		return bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "dave@example.com",
			"openbanking_intent_id", newConsent(t, basicID, basicSecret))
	}
	errorOnly(t, start(), 400, "unknown_user_id")

	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dave := `,{"subject":"sub-dave","login_hints":["dave@example.com"],"accounts":[{"AccountId":"acc-9"}]}]`
	withDave := strings.TrimSuffix(strings.TrimSpace(string(orig)), "]") + dave
	if err := os.WriteFile(path, []byte(withDave), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return start().status == http.StatusOK })

	if err := os.WriteFile(path, []byte(`[{"subject":`), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if r := start(); r.status != http.StatusOK {
		t.Fatalf("after a broken file: %d %s", r.status, r.raw)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}
