// Package flow is the benchmark's TPP and phone: it creates consents, starts backchannel
// requests, receives the webhook, approves through the decision API and polls for tokens,
// all over real HTTP.
package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/caddyciba/gateway/notifier"
)

// TPP talks to the gateway as one client_secret_basic client.
type TPP struct {
	Base, ID, Secret string
	HTTP             *http.Client
}

// NewHTTPClient keeps up to conns connections alive to one host.
func NewHTTPClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute,
	}}
}

func (t *TPP) post(path string, form url.Values) (int, map[string]any, error) {
	req, _ := http.NewRequest(http.MethodPost, t.Base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(t.ID), url.QueryEscape(t.Secret))
	return t.do(req)
}

func (t *TPP) do(req *http.Request) (int, map[string]any, error) {
	resp, err := t.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var body map[string]any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &body)
	}
	return resp.StatusCode, body, nil
}

// ClientCredentials gets an accounts token.
func (t *TPP) ClientCredentials() (string, error) {
	status, body, err := t.post("/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}})
	if err != nil || status != 200 {
		return "", fmt.Errorf("client_credentials: %d %v %v", status, body, err)
	}
	return body["access_token"].(string), nil
}

// Consent creates an account-access consent and returns its id.
func (t *TPP) Consent(ccToken string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, t.Base+"/open-banking/v3.1/aisp/account-access-consents",
		strings.NewReader(`{"Data":{"Permissions":["ReadAccountsDetail","ReadBalances","ReadTransactionsDetail","ReadTransactionsCredits","ReadTransactionsDebits"]},"Risk":{}}`))
	req.Header.Set("Authorization", "Bearer "+ccToken)
	req.Header.Set("Content-Type", "application/json")
	status, body, err := t.do(req)
	if err != nil || status != 201 {
		return "", fmt.Errorf("consent: %d %v %v", status, body, err)
	}
	return body["Data"].(map[string]any)["ConsentId"].(string), nil
}

// Backchannel starts a request for the login hint on the consent; it returns auth_req_id.
func (t *TPP) Backchannel(hint, consentID string) (string, error) {
	status, body, err := t.post("/bc-authorize", url.Values{"scope": {"openid accounts"}, "login_hint": {hint},
		"binding_message": {"Bench 1234"}, "openbanking_intent_id": {consentID}})
	if err != nil || status != 200 {
		return "", fmt.Errorf("bc-authorize: %d %v %v", status, body, err)
	}
	return body["auth_req_id"].(string), nil
}

// ErrPending is a poll that found no decision yet (authorization_pending or slow_down).
var ErrPending = errors.New("pending")

// Tokens are what a CIBA poll or a refresh answers.
type Tokens struct {
	Access, Refresh string
}

// OAuthError is an error answer of the token endpoint.
type OAuthError struct {
	Status int
	Code   string
}

func (e *OAuthError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Code) }

func tokenAnswer(status int, body map[string]any, err error) (Tokens, error) {
	if err != nil {
		return Tokens{}, err
	}
	if status == 200 {
		at, _ := body["access_token"].(string)
		rt, _ := body["refresh_token"].(string)
		return Tokens{Access: at, Refresh: rt}, nil
	}
	code, _ := body["error"].(string)
	if code == "authorization_pending" || code == "slow_down" {
		return Tokens{}, ErrPending
	}
	return Tokens{}, &OAuthError{Status: status, Code: code}
}

// PollTokens redeems auth_req_id.
func (t *TPP) PollTokens(authReqID string) (Tokens, error) {
	return tokenAnswer(t.post("/token", url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {authReqID}}))
}

// Refresh uses a refresh token.
func (t *TPP) Refresh(refreshToken string) (Tokens, error) {
	return tokenAnswer(t.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}))
}

// Revoke revokes a token (RFC 7009); nil means the gateway acknowledged it.
func (t *TPP) Revoke(tok string) error {
	status, body, err := t.post("/revoke", url.Values{"token": {tok}})
	if err == nil && status != 200 {
		err = fmt.Errorf("revoke: %d %v", status, body)
	}
	return err
}

// Active asks the introspection endpoint whether a token is live.
func (t *TPP) Active(tok string) (bool, error) {
	status, body, err := t.post("/introspect", url.Values{"token": {tok}})
	if err != nil || status != 200 {
		return false, fmt.Errorf("introspect: %d %v %v", status, body, err)
	}
	active, _ := body["active"].(bool)
	return active, nil
}

// ConsentStatus reads a consent: its Status, or "" with the HTTP status when not found.
func (t *TPP) ConsentStatus(ccToken, id string) (string, int, error) {
	req, _ := http.NewRequest(http.MethodGet, t.Base+"/open-banking/v3.1/aisp/account-access-consents/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+ccToken)
	status, body, err := t.do(req)
	if err != nil || status != 200 {
		return "", status, err
	}
	data, _ := body["Data"].(map[string]any)
	s, _ := data["Status"].(string)
	return s, status, nil
}

// DeleteConsent deletes a consent; nil means 204.
func (t *TPP) DeleteConsent(ccToken, id string) error {
	req, _ := http.NewRequest(http.MethodDelete, t.Base+"/open-banking/v3.1/aisp/account-access-consents/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+ccToken)
	status, _, err := t.do(req)
	if err == nil && status != http.StatusNoContent {
		err = fmt.Errorf("delete consent: %d", status)
	}
	return err
}

// PollUntil polls every interval until tokens come or the deadline passes.
func (t *TPP) PollUntil(authReqID string, interval time.Duration, deadline time.Time) (string, error) {
	for {
		tok, err := t.PollTokens(authReqID)
		if !errors.Is(err, ErrPending) {
			return tok.Access, err
		}
		if time.Now().After(deadline) {
			return "", errors.New("no tokens before the deadline")
		}
		time.Sleep(interval)
	}
}

// Approve answers a notification through the decision API with the app token.
func Approve(h *http.Client, n *notifier.Notification, account string) error {
	req, _ := http.NewRequest(http.MethodPost, n.DecisionURL,
		bytes.NewReader([]byte(`{"decision":"approve","accounts":["`+account+`"]}`)))
	req.Header.Set("Authorization", "Bearer "+n.DeviceToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("decision: %d", resp.StatusCode)
	}
	return nil
}

// Phone receives the webhooks on loopback and hands them out by consent id.
type Phone struct {
	URL string
	srv *http.Server
	mu  sync.Mutex
	got map[string]chan *notifier.Notification
}

// StartPhone listens on a free loopback port.
func StartPhone() (*Phone, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Phone{URL: "http://" + l.Addr().String() + "/", got: map[string]chan *notifier.Notification{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notifier.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		p.box(n.Consent.ConsentID) <- &n
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

func (p *Phone) box(consentID string) chan *notifier.Notification {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.got[consentID]
	if !ok {
		ch = make(chan *notifier.Notification, 1)
		p.got[consentID] = ch
	}
	return ch
}

// Await waits for the notification of the consent's request.
func (p *Phone) Await(consentID string, timeout time.Duration) (*notifier.Notification, error) {
	select {
	case n := <-p.box(consentID):
		p.mu.Lock()
		delete(p.got, consentID)
		p.mu.Unlock()
		return n, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("no notification for consent %s", consentID)
	}
}

// Close stops the receiver.
func (p *Phone) Close() { _ = p.srv.Close() }

// RoundTrip runs the whole flow for one user: consent, backchannel request, approval of
// account 22289 through the decision API, poll; it returns the access token.
func RoundTrip(t *TPP, phone *Phone, ccToken, hint string, pollInterval time.Duration) (string, error) {
	consentID, err := t.Consent(ccToken)
	if err != nil {
		return "", err
	}
	return Authorize(t, phone, consentID, hint, pollInterval)
}

// Authorize is the CIBA part of a round trip on an existing consent: backchannel request,
// approval through the decision API, poll; it returns the access token.
func Authorize(t *TPP, phone *Phone, consentID, hint string, pollInterval time.Duration) (string, error) {
	authReqID, err := t.Backchannel(hint, consentID)
	if err != nil {
		return "", err
	}
	n, err := phone.Await(consentID, 30*time.Second)
	if err != nil {
		return "", err
	}
	if err := Approve(t.HTTP, n, "22289"); err != nil {
		return "", err
	}
	return t.PollUntil(authReqID, pollInterval, time.Now().Add(60*time.Second))
}
