package notifier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr"

// receiver is a real HTTP endpoint that records what it gets and answers from a script.
type receiver struct {
	mu       sync.Mutex
	got      []*http.Request
	bodies   [][]byte
	statuses []int // answered in order; the last repeats
	delay    time.Duration
	srv      *httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	rc := &receiver{statuses: statuses}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, r)
		rc.bodies = append(rc.bodies, body)
		status := rc.statuses[min(n, len(rc.statuses)-1)]
		delay := rc.delay
		rc.mu.Unlock()
		if n == 0 && delay > 0 {
			time.Sleep(delay)
		}
		if status == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) count() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.got) }

func fastWebhook(t *testing.T, target string) *Webhook {
	w, err := NewWebhook(target, secret)
	if err != nil {
		t.Fatal(err)
	}
	w.FirstBackoff, w.MaxBackoff = 10*time.Millisecond, 40*time.Millisecond
	return w
}

func sample() *Notification {
	return &Notification{ID: "msg_2c1f", Subject: "psu-1", LoginHint: "alice", ClientID: "tpp-1", ClientName: "Budget Buddy",
		BindingMessage: "W4K9", Scope: "openid accounts",
		Consent:   ConsentSummary{ConsentID: "aac-1", Permissions: []string{"ReadAccountsBasic"}},
		Accounts:  []any{map[string]any{"AccountId": "22289"}},
		DeviceURL: "https://bank.example/ciba/device/r1#t=secret", DecisionURL: "https://bank.example/ciba/device/r1",
		DeviceToken: "secret", ExpiresAt: time.Now().Add(time.Minute)}
}

// verify checks a request the way a Standard Webhooks receiver does.
func verify(t *testing.T, r *http.Request, body []byte) {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := r.Header.Get("webhook-signature"); got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
	ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Fatalf("webhook-timestamp %q", r.Header.Get("webhook-timestamp"))
	}
}

func TestWebhookRetriesServerErrorsThenDelivers(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, 503, 500, 204)
	if err := fastWebhook(t, rc.srv.URL).Notify(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if rc.count() != 3 {
		t.Fatalf("%d attempts, want 3", rc.count())
	}
	for i, r := range rc.got {
		verify(t, r, rc.bodies[i])
		if r.Header.Get("webhook-id") != "msg_2c1f" || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("attempt %d headers %v", i, r.Header)
		}
	}
	var body map[string]any
	json.Unmarshal(rc.bodies[2], &body)
	for _, k := range []string{"id", "subject", "login_hint", "client_id", "client_name", "binding_message", "scope",
		"consent", "accounts", "device_url", "decision_url", "device_token", "expires_at"} {
		if _, ok := body[k]; !ok {
			t.Errorf("payload lacks %s", k)
		}
	}
	if c := body["consent"].(map[string]any); c["ConsentId"] != "aac-1" || c["Permissions"] == nil {
		t.Errorf("consent = %v", c)
	}
}

func TestWebhookFinalAnswers(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 404, 410} {
		rc := newReceiver(t, status)
		err := fastWebhook(t, rc.srv.URL).Notify(context.Background(), sample())
		if !errors.Is(err, ErrRefused) || rc.count() != 1 {
			t.Fatalf("%d: err %v after %d attempts; want one attempt, refused", status, err, rc.count())
		}
	}
}

func TestWebhookFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	elsewhere := newReceiver(t, 204)
	rc := newReceiver(t, http.StatusFound)
	rc.srv.Config.Handler = http.RedirectHandler(elsewhere.srv.URL, http.StatusFound)
	if err := fastWebhook(t, rc.srv.URL).Notify(context.Background(), sample()); !errors.Is(err, ErrRefused) {
		t.Fatalf("redirect: %v", err)
	}
	if elsewhere.count() != 0 {
		t.Fatal("the redirect target was called")
	}
}

func TestWebhookRetriesTimeouts(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, 204)
	rc.delay = 500 * time.Millisecond
	w := fastWebhook(t, rc.srv.URL)
	w.client.Timeout = 100 * time.Millisecond
	if err := w.Notify(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if rc.count() != 2 {
		t.Fatalf("%d attempts, want 2", rc.count())
	}
}

func TestWebhookStopsAtDeadline(t *testing.T) {
	rc := newReceiver(t, 502)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := fastWebhook(t, rc.srv.URL).Notify(ctx, sample())
	if !errors.Is(err, context.DeadlineExceeded) || rc.count() < 2 || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %d attempts in %v", err, rc.count(), time.Since(start))
	}
}

func TestNewWebhookRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ target, secret string }{
		{"http://push.bank.example/ciba", secret},
		{"ftp://127.0.0.1/x", secret},
		{"https://user:pw@push.bank.example/", secret},
		{"https://push.bank.example/ciba", "hunter2"},
		{"https://push.bank.example/ciba", "whsec_!!!"},
		{"https://push.bank.example/ciba", "whsec_c2hvcnQ="},
	} {
		if _, err := NewWebhook(tc.target, tc.secret); err == nil {
			t.Errorf("NewWebhook(%q, %q) accepted", tc.target, tc.secret)
		}
	}
}

func TestAllowedTarget(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"https://tpp.example/cb":  true,
		"http://127.0.0.1:9/cb":   true,
		"http://localhost/cb":     true,
		"http://[::1]:8080/cb":    true,
		"http://tpp.example/cb":   false,
		"http://10.0.0.1/cb":      false,
		"http://127.0.0.1.nip.io": false,
		"https:///nohost":         false,
	} {
		u, _ := url.Parse(raw)
		if got := AllowedTarget(u); got != want {
			t.Errorf("AllowedTarget(%s) = %v", raw, got)
		}
	}
}
