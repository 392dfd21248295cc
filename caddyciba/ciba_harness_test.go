package caddyciba

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddyciba/gateway/notifier"
)

// The webhook channel's signing key, in the Standard Webhooks form.
var (
	webhookKey    = []byte("caddyciba-test-webhook-key-32byt")
	webhookSecret = "whsec_" + base64.StdEncoding.EncodeToString(webhookKey)
)

const (
	alicePIN    = "alice-pin-4821"
	basicID     = "tpp-basic"
	basicSecret = "b@sic secret+/:~"
)

// captured is one request a receiver got.
type captured struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP endpoint on 127.0.0.1 that records what it gets: the bank's
// push service for webhooks, a TPP's notification endpoint for pings and pushes.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []captured
	arrive chan struct{}
	// answer writes the response to the n-th request (from 0); default 204.
	answer func(n int, w http.ResponseWriter)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *receiver {
	rc := &receiver{arrive: make(chan struct{}, 100), answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, captured{header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(n, w)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		rc.arrive <- struct{}{}
	}))
	t.Cleanup(rc.Close)
	return rc
}

// next waits for the next request.
func (rc *receiver) next(t *testing.T) captured {
	t.Helper()
	select {
	case <-rc.arrive:
	case <-time.After(15 * time.Second):
		t.Fatal("the receiver got nothing")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.got[len(rc.got)-1]
}

func (rc *receiver) count() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.got) }

// writeUsers writes the users file: alice with a PIN and two accounts, bob disabled,
// carol without a password.
func writeUsers(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(alicePIN), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := []map[string]any{
		{"subject": "sub-alice", "login_hints": []string{"alice@example.com", "+447700900001"}, "name": "Alice",
			"password_hash": string(hash), "accounts": []map[string]any{
				{"AccountId": "acc-1", "Nickname": "Current"}, {"AccountId": "acc-2", "Nickname": "Savings"}}},
		{"subject": "sub-bob", "login_hints": []string{"bob@example.com"}, "disabled": true,
			"accounts": []map[string]any{{"AccountId": "acc-3"}}},
		{"subject": "sub-carol", "login_hints": []string{"carol@example.com"},
			"accounts": []map[string]any{{"AccountId": "acc-4"}}},
	}
	b, _ := json.Marshal(users)
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cibaGateway starts the gateway with the users file, a webhook notifier to a receiver it
// returns, a 1s poll interval and the extra options (more clients).
func cibaGateway(t *testing.T, extra string) *receiver {
	t.Helper()
	hook := newReceiver(t, nil)
	startGateway(t, gatewayConfig(t.TempDir(), fmt.Sprintf(`users %s
		poll_interval 1s
		notifier webhook %s {
			secret %s
		}
		%s`, writeUsers(t), hook.URL, webhookSecret, extra)))
	return hook
}

// notification reads the next webhook and checks its Standard Webhooks signature.
func notification(t *testing.T, hook *receiver) *notifier.Notification {
	t.Helper()
	got := hook.next(t)
	id, ts := got.header.Get("webhook-id"), got.header.Get("webhook-timestamp")
	if want := "v1," + notifier.Sign(webhookKey, id, ts, got.body); got.header.Get("webhook-signature") != want {
		t.Fatalf("webhook signature %q, want %q", got.header.Get("webhook-signature"), want)
	}
	var n notifier.Notification
	if err := json.Unmarshal(got.body, &n); err != nil {
		t.Fatalf("webhook body %s: %v", got.body, err)
	}
	return &n
}

// newConsent creates an account-access consent for a secret client and returns its id.
func newConsent(t *testing.T, basic ...string) string {
	t.Helper()
	tok := ccToken(t, nil, nil, basic...)
	resp := consentCall(t, client(nil), http.MethodPost, consentsURL, tok, consentBody)
	if resp.status != http.StatusCreated {
		t.Fatalf("consent: %d %s", resp.status, resp.raw)
	}
	return resp.body["Data"].(map[string]any)["ConsentId"].(string)
}

// requestClaims are the claims of a good signed request; tests edit them.
func requestClaims(clientID, consentID string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": clientID, "aud": httpBase, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": uuid.NewString(), "scope": "openid accounts", "login_hint": "alice@example.com", "binding_message": "1234",
		"openbanking_intent_id": map[string]any{"value": consentID, "essential": true},
	}
}

// signRequest signs claims as a request object with key, typ as given ("" for none).
func signRequest(t *testing.T, key jwk.Key, alg jwa.SignatureAlgorithm, typ string, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	if typ != "" {
		_ = hdr.Set(jws.TypeKey, typ)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// pkjForm is the client authentication of tpp-pkj at an endpoint, plus the request.
func pkjForm(t *testing.T, endpoint string, kv ...string) map[string][]string {
	f := formOf(kv...)
	f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	f.Set("client_assertion", assertion(t, fx.pkjKey, jwa.ES256, "tpp-pkj", endpoint, nil))
	return f
}

// bcSigned sends a signed request for tpp-pkj.
func bcSigned(t *testing.T, request string) response {
	t.Helper()
	return postForm(t, client(nil), httpBase+"/bc-authorize", pkjForm(t, httpBase+"/bc-authorize", "request", request))
}

// bcBasic sends an unsigned request for a client_secret_basic client.
func bcBasic(t *testing.T, id, secret string, kv ...string) response {
	t.Helper()
	return postForm(t, client(nil), httpBase+"/bc-authorize", formOf(kv...), id, secret)
}

// pollBasic polls the token endpoint for a client_secret_basic client.
func pollBasic(t *testing.T, id, secret, authReqID string) response {
	t.Helper()
	return postForm(t, client(nil), httpBase+"/token",
		formOf("grant_type", "urn:openid:params:grant-type:ciba", "auth_req_id", authReqID), id, secret)
}

// decide answers a notification through the decision API.
func decide(t *testing.T, n *notifier.Notification, bearer, body string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.DecisionURL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(t, client(nil), req)
}

// errorOnly checks an OAuth error answer: the status, the code, and nothing but error,
// error_description and error_uri in the body (CIBA conformance).
func errorOnly(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
	for k := range r.body {
		if k != "error" && k != "error_description" && k != "error_uri" {
			t.Fatalf("error body has %q: %s", k, r.raw)
		}
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("error without Cache-Control: no-store")
	}
}
