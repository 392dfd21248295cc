package caddyciba

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/caddyciba/gateway/notifier"
)

// send is do for goroutines: it reports a transport failure instead of stopping the test.
func send(c *http.Client, req *http.Request) (response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err == nil && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		err = json.Unmarshal(raw, &out.body)
	}
	return out, err
}

func formRequest(target string, form url.Values, id, secret string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req
}

// concurrently sends n requests at once and tallies the answers by "status error".
func concurrently(t *testing.T, n int, request func(i int) *http.Request) map[string]int {
	t.Helper()
	var mu sync.Mutex
	tally := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	c := client(nil)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := request(i)
			<-start
			r, err := send(c, req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				tally["transport: "+err.Error()]++
				return
			}
			tally[fmt.Sprintf("%d %s", r.status, r.str("error"))]++
		}()
	}
	close(start)
	wg.Wait()
	return tally
}

// counted is how many password attempts of the user the store holds in the current run.
func counted(t *testing.T, subject string) int {
	t.Helper()
	a := activeApp(t)
	n, err := a.provider.Lockout.Counted(a.Store(), subject)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// userCodeRequest is tpp-code's request for alice with a user code.
func userCodeRequest(code, consentID string) *http.Request {
	return formRequest(httpBase+"/bc-authorize", formOf("scope", "openid accounts", "login_hint", "alice@example.com",
		"user_code", code, "openbanking_intent_id", consentID), "tpp-code", "code-secret")
}

// TestPasswordGuessesConcurrent: 50 wrong passwords sent at once, on the approval page or
// as user_code at /bc-authorize, are checked at most password_attempts (5) times: the
// store counts exactly 5, and then alice's right password is refused in both places,
// since the page and user_code share one lockout counter. At /bc-authorize a locked user
// hears the same answer as a wrong code, so the endpoint is no oracle.
func TestPasswordGuessesConcurrent(t *testing.T) {
	const guesses, attempts = 50, 5
	approveWith := func(password string) string {
		return `{"decision":"approve","accounts":["acc-1"],"password":"` + password + `"}`
	}
	pageRequest := func(n *notifier.Notification, body string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, n.DecisionURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+pageToken(n))
		return req
	}
	for _, tc := range []struct {
		name string
		// flood sends the concurrent wrong guesses and returns the tally of answers.
		flood func(t *testing.T, hook *receiver) map[string]int
		want  map[string]int
	}{
		{"approval page", func(t *testing.T, hook *receiver) map[string]int {
			_, n := startBasic(t, hook)
			return concurrently(t, guesses, func(i int) *http.Request { return pageRequest(n, approveWith(fmt.Sprintf("guess-%d", i))) })
		}, map[string]int{"403 wrong_password": attempts, "429 password_locked": guesses - attempts}},
		{"user_code", func(t *testing.T, hook *receiver) map[string]int {
			// A right code first: it takes back its own count and leaves nothing counted.
			if r, err := send(client(nil), userCodeRequest(alicePIN, newConsent(t, "tpp-code", "code-secret"))); err != nil || r.status != http.StatusOK {
				t.Fatalf("right user code: %d %s %v", r.status, r.raw, err)
			}
			notification(t, hook)
			consentID := newConsent(t, "tpp-code", "code-secret")
			return concurrently(t, guesses, func(i int) *http.Request { return userCodeRequest(fmt.Sprintf("%04d", i), consentID) })
		}, map[string]int{"400 invalid_user_code": guesses}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook := cibaGateway(t, extraClients+fmt.Sprintf("\n\t\tpassword_attempts %d\n\t\tmax_pending_per_user 20", attempts))
			tally := tc.flood(t, hook)
			if fmt.Sprint(tally) != fmt.Sprint(tc.want) {
				t.Fatalf("answers %v, want %v", tally, tc.want)
			}
			if n := counted(t, "sub-alice"); n != attempts {
				t.Fatalf("the store counts %d attempts, want exactly %d", n, attempts)
			}

			// Locked: the right code at /bc-authorize answers like a wrong one ...
			wrong, err := send(client(nil), userCodeRequest("0000", newConsent(t, "tpp-code", "code-secret")))
			if err != nil {
				t.Fatal(err)
			}
			right, err := send(client(nil), userCodeRequest(alicePIN, newConsent(t, "tpp-code", "code-secret")))
			if err != nil {
				t.Fatal(err)
			}
			errorOnly(t, right, http.StatusBadRequest, "invalid_user_code")
			if right.raw != wrong.raw {
				t.Fatalf("a locked user's right code answers %s, a wrong one %s", right.raw, wrong.raw)
			}
			// ... and the page refuses the right password.
			_, n := startBasic(t, hook)
			if r := decide(t, n, pageToken(n), approveWith(alicePIN)); r.status != http.StatusTooManyRequests || r.str("error") != "password_locked" {
				t.Fatalf("right password on the page while locked: %d %s", r.status, r.raw)
			}
			if n := counted(t, "sub-alice"); n != attempts {
				t.Fatalf("attempts while locked were counted: %d", n)
			}
		})
	}
}
