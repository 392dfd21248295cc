package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyciba/gateway/notifier"
)

func TestTokenAnswer(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	for _, tc := range []struct {
		name   string
		status int
		body   map[string]any
		err    error
		tokens Tokens
		want   error // ErrPending, boom, or an *OAuthError's text
	}{
		{"tokens", 200, map[string]any{"access_token": "at", "refresh_token": "rt"}, nil, Tokens{"at", "rt"}, nil},
		{"no refresh token", 200, map[string]any{"access_token": "at"}, nil, Tokens{Access: "at"}, nil},
		{"pending", 400, map[string]any{"error": "authorization_pending"}, nil, Tokens{}, ErrPending},
		{"slow down", 400, map[string]any{"error": "slow_down"}, nil, Tokens{}, ErrPending},
		{"denied", 400, map[string]any{"error": "access_denied"}, nil, Tokens{}, &OAuthError{400, "access_denied"}},
		{"no body", 502, nil, nil, Tokens{}, &OAuthError{502, ""}},
		{"transport", 0, nil, boom, Tokens{}, boom},
	} {
		got, err := tokenAnswer(tc.status, tc.body, tc.err)
		if got != tc.tokens {
			t.Errorf("%s: tokens %+v, want %+v", tc.name, got, tc.tokens)
		}
		var want *OAuthError
		if errors.As(tc.want, &want) {
			var oe *OAuthError
			if !errors.As(err, &oe) || *oe != *want || err.Error() != want.Error() {
				t.Errorf("%s: err %v, want %v", tc.name, err, want)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

// gatewayStub answers the token endpoint the way the gateway does, recording the forms,
// so the TPP's requests (form encoding, Basic credentials escaped per RFC 6749 §2.3.1)
// can be checked over real HTTP.
type gatewayStub struct {
	mu    sync.Mutex
	polls int
	forms []url.Values
}

func (g *gatewayStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if u, _ := url.QueryUnescape(id); !ok || u != "tpp:1" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if s, _ := url.QueryUnescape(secret); s != "s3cret/+&" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	_ = r.ParseForm()
	g.mu.Lock()
	g.forms = append(g.forms, r.PostForm)
	g.polls++
	n := g.polls
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		w.Write([]byte(`{"access_token":"cc"}`))
	case "urn:openid:params:grant-type:ciba":
		if n < 3 {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"authorization_pending"}`))
			return
		}
		w.Write([]byte(`{"access_token":"at","refresh_token":"rt"}`))
	default:
		w.WriteHeader(400)
		w.Write([]byte(`{"error":"unsupported_grant_type"}`))
	}
}

func TestTPP(t *testing.T) {
	t.Parallel()
	stub := &gatewayStub{}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	tpp := &TPP{Base: srv.URL, ID: "tpp:1", Secret: "s3cret/+&", HTTP: NewHTTPClient(2)}
	if tok, err := tpp.ClientCredentials(); err != nil || tok != "cc" {
		t.Fatalf("ClientCredentials = %q, %v", tok, err)
	}
	at, err := tpp.PollUntil("req-1", time.Millisecond, time.Now().Add(5*time.Second))
	if err != nil || at != "at" {
		t.Fatalf("PollUntil = %q, %v", at, err)
	}
	if _, err := tpp.Refresh("rt"); err == nil || err.Error() != "400 unsupported_grant_type" {
		t.Errorf("Refresh = %v", err)
	}
	stub.mu.Lock()
	defer stub.mu.Unlock()
	if len(stub.forms) != 4 || stub.forms[0].Get("scope") != "accounts" || stub.forms[1].Get("auth_req_id") != "req-1" ||
		stub.forms[3].Get("refresh_token") != "rt" {
		t.Errorf("forms %v", stub.forms)
	}
	wrong := &TPP{Base: srv.URL, ID: "tpp:1", Secret: "guess", HTTP: NewHTTPClient(1)}
	if _, err := wrong.ClientCredentials(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a refused client got %v", err)
	}
}

// TestPhone: notifications are handed out by consent id, whichever arrives first.
func TestPhone(t *testing.T) {
	t.Parallel()
	p, err := StartPhone()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	post := func(body []byte) int {
		resp, err := http.Post(p.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, id := range []string{"aac-2", "aac-1"} {
		var n notifier.Notification
		n.Consent.ConsentID = id
		n.DecisionURL = "https://bank.example/ciba/device/" + id
		b, _ := json.Marshal(n)
		if status := post(b); status != http.StatusNoContent {
			t.Fatalf("webhook answered %d", status)
		}
	}
	if status := post([]byte("not json")); status != http.StatusBadRequest {
		t.Errorf("a broken webhook answered %d", status)
	}
	for _, id := range []string{"aac-1", "aac-2"} {
		n, err := p.Await(id, 5*time.Second)
		if err != nil || n.DecisionURL != "https://bank.example/ciba/device/"+id {
			t.Errorf("Await(%s) = %+v, %v", id, n, err)
		}
	}
	if _, err := p.Await("aac-3", 20*time.Millisecond); err == nil {
		t.Error("Await of a consent with no notification returned")
	}
}

// TestApprove: the decision goes to the notification's URL with its device token.
func TestApprove(t *testing.T) {
	t.Parallel()
	var got struct {
		auth, body string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.auth, got.body = r.Header.Get("Authorization"), string(b)
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	n := &notifier.Notification{DecisionURL: srv.URL + "/ok", DeviceToken: "dev-tok"}
	if err := Approve(srv.Client(), n, "22289"); err != nil {
		t.Fatal(err)
	}
	if got.auth != "Bearer dev-tok" || got.body != `{"decision":"approve","accounts":["22289"]}` {
		t.Errorf("%+v", got)
	}
	n.DecisionURL = srv.URL + "/gone"
	if err := Approve(srv.Client(), n, "22289"); err == nil || err.Error() != "decision: 410" {
		t.Errorf("Approve on 410 = %v", err)
	}
}
