// Package multi runs several gateway processes on one PostgreSQL database and checks that
// they are one gateway: what one issues, decides or revokes, the other knows at once.
package multi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/bench/flow"
	"github.com/caddyciba/gateway/internal/bench/gateway"
	"github.com/caddyciba/gateway/internal/testpg"
	"github.com/caddyciba/gateway/notifier"
)

func TestMain(m *testing.M) {
	code := testpg.Main(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	bin       string
	buildErr  error
)

// build compiles the gateway once for the package's tests.
func build() (string, error) {
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "caddyciba-multi-"); buildErr == nil {
			bin, buildErr = gateway.Build(binDir)
		}
	})
	return bin, buildErr
}

// balances is the bank's answer behind the gate.
const balances = `{"Data":{"Balance":[{"AccountId":"22289","Amount":{"Amount":"1.00","Currency":"GBP"},` +
	`"CreditDebitIndicator":"Credit","Type":"InterimAvailable","DateTime":"2026-01-01T00:00:00Z"}]},` +
	`"Links":{"Self":"/accounts/22289/balances"},"Meta":{"TotalPages":1}}`

const gatedPath = "/open-banking/v3.1/aisp/accounts/22289/balances"

type instance struct {
	name  string
	g     *gateway.Gateway
	tpp   *flow.TPP
	admin string
}

// startInstances builds the gateway and starts n processes on one fresh database, each
// with its own port, admin endpoint and directory (for its Caddyfile and users file).
func startInstances(t *testing.T, n int, phoneURL string, options ...string) []*instance {
	t.Helper()
	dir := t.TempDir()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	upstream, err := gateway.StartUpstream(balances)
	if err != nil {
		t.Fatal(err)
	}
	storage := fmt.Sprintf("postgres {\n\t\t\tdsn %s\n\t\t\tmax_conns 8\n\t\t}", testpg.DSN(t))
	out := make([]*instance, n)
	for i := range n {
		name := string(rune('A' + i))
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		admin := fmt.Sprintf("127.0.0.1:%d", gateway.FreePort())
		g, err := gateway.Start(gateway.Config{Bin: bin, Dir: d, Port: gateway.FreePort(), WebhookURL: phoneURL,
			Users: 4, Admin: admin, Storage: storage, Options: strings.Join(options, "\n\t\t"), Gated: "ciba_gate\n\t\treverse_proxy " + upstream})
		if err != nil {
			t.Fatalf("instance %s: %v", name, err)
		}
		t.Cleanup(g.Stop)
		out[i] = &instance{name: name, g: g, admin: admin,
			tpp: &flow.TPP{Base: g.URL, ID: gateway.ClientID, Secret: gateway.ClientSecret, HTTP: flow.NewHTTPClient(8)}}
	}
	return out
}

// gated is the status of a gated account request through the instance.
func (in *instance) gated(t *testing.T, access string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, in.g.URL+gatedPath, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := in.tpp.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// via points a URL of one instance at another: the load balancer's choice.
func via(raw string, in *instance) string {
	u, _ := url.Parse(raw)
	b, _ := url.Parse(in.g.URL)
	u.Host = b.Host
	return u.String()
}

// authorize runs bc-authorize through start, the decision through decide, and polls
// through poll; it returns the access token.
func authorize(t *testing.T, phone *flow.Phone, start, decide, poll *instance, consentID, hint string) string {
	t.Helper()
	authReqID, err := start.tpp.Backchannel(hint, consentID)
	if err != nil {
		t.Fatalf("bc-authorize through %s: %v", start.name, err)
	}
	n, err := phone.Await(consentID, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n.DecisionURL = via(n.DecisionURL, decide)
	if err := flow.Approve(decide.tpp.HTTP, n, "22289"); err != nil {
		t.Fatalf("decision through %s: %v", decide.name, err)
	}
	access, err := poll.tpp.PollUntil(authReqID, time.Second, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatalf("poll through %s: %v", poll.name, err)
	}
	return access
}

// TestInstancesAreOneGateway: three gateway processes on one database.
func TestInstancesAreOneGateway(t *testing.T) {
	phone, err := flow.StartPhone()
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	in := startInstances(t, 3, phone.URL)
	a, b, c := in[0], in[1], in[2]

	// A client-credentials token minted on A is accepted on B.
	cc, err := a.tpp.ClientCredentials()
	if err != nil {
		t.Fatal(err)
	}
	consentID, err := b.tpp.Consent(cc)
	if err != nil {
		t.Fatalf("consent through B with A's token: %v", err)
	}

	// bc-authorize on A, the decision through B, the poll on C.
	access := authorize(t, phone, a, b, c, consentID, "user-0")
	for _, i := range in {
		if status := i.gated(t, access); status != http.StatusOK {
			t.Fatalf("gated request through %s: %d", i.name, status)
		}
	}

	// A revocation through B is refused at the very next gated request through A.
	if err := b.tpp.Revoke(access); err != nil {
		t.Fatal(err)
	}
	if status := a.gated(t, access); status != http.StatusUnauthorized {
		t.Fatalf("gated request through A right after the revocation through B: %d", status)
	}

	// A consent DELETE through A is refused at the very next gated request through B.
	consent2, err := a.tpp.Consent(cc)
	if err != nil {
		t.Fatal(err)
	}
	access2 := authorize(t, phone, b, a, b, consent2, "user-1")
	if status := b.gated(t, access2); status != http.StatusOK {
		t.Fatalf("gated request through B: %d", status)
	}
	if err := a.tpp.DeleteConsent(cc, consent2); err != nil {
		t.Fatal(err)
	}
	if status := b.gated(t, access2); status != http.StatusUnauthorized {
		t.Fatalf("gated request through B right after the consent DELETE through A: %d", status)
	}
}

// TestPollRaceAcrossInstances: 100 concurrent polls of one approved request, through both
// instances, redeem it once; a replay then revokes what it minted on both. Rounds: 5, or
// CADDYCIBA_MULTI_ROUNDS.
func TestPollRaceAcrossInstances(t *testing.T) {
	phone, err := flow.StartPhone()
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	in := startInstances(t, 2, phone.URL)
	cc, err := in[0].tpp.ClientCredentials()
	if err != nil {
		t.Fatal(err)
	}
	const polls = 100
	rounds := 5
	if n, err := strconv.Atoi(os.Getenv("CADDYCIBA_MULTI_ROUNDS")); err == nil && n > 0 {
		rounds = n // e.g. 1000, with -timeout 1h
	}
	for round := range rounds {
		consentID, err := in[round%2].tpp.Consent(cc)
		if err != nil {
			t.Fatal(err)
		}
		authReqID, err := in[0].tpp.Backchannel(fmt.Sprintf("user-%d", round%4), consentID)
		if err != nil {
			t.Fatal(err)
		}
		n, err := phone.Await(consentID, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		n.DecisionURL = via(n.DecisionURL, in[1])
		if err := flow.Approve(in[1].tpp.HTTP, n, "22289"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var issued []string
		for p := range polls {
			wg.Go(func() {
				tok, err := in[p%2].tpp.PollTokens(authReqID)
				var oe *flow.OAuthError
				switch {
				case err == nil:
					mu.Lock()
					issued = append(issued, tok.Access)
					mu.Unlock()
				case errors.Is(err, flow.ErrPending), errors.As(err, &oe) && oe.Status == http.StatusBadRequest:
				default:
					t.Errorf("round %d: poll through %s: %v", round, in[p%2].name, err)
				}
			})
		}
		wg.Wait()
		if len(issued) != 1 {
			t.Fatalf("round %d: %d token sets issued for one request", round, len(issued))
		}
		// One more poll is a replay: refused, and what the request minted is revoked on
		// both instances.
		var oe *flow.OAuthError
		if _, err := in[1-round%2].tpp.PollTokens(authReqID); !errors.As(err, &oe) || oe.Code != "invalid_grant" {
			t.Fatalf("round %d: a replayed poll: %v", round, err)
		}
		for _, i := range in {
			if status := i.gated(t, issued[0]); status != http.StatusUnauthorized {
				t.Fatalf("round %d: the token of a replayed auth_req_id through %s: %d", round, i.name, status)
			}
		}
	}
}

type keyInfo struct {
	KeyID   string `json:"kid"`
	Signing bool   `json:"signing"`
}

func (in *instance) adminKeys(t *testing.T, method, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+in.admin+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s on %s: %d %s", method, path, in.name, resp.StatusCode, body)
	}
	return body
}

func (in *instance) jwksKids(t *testing.T) []string {
	t.Helper()
	resp, err := in.tpp.HTTP.Get(in.g.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestKeyRotationAcrossInstances: a key rotated through A's admin API is published by B
// (within its ten-second reload) while neither signs with it yet, and B's key ring is
// A's: one ring, rotated once.
func TestKeyRotationAcrossInstances(t *testing.T) {
	in := startInstances(t, 2, "http://127.0.0.1:1/unused")
	a, b := in[0], in[1]
	var before []keyInfo
	if err := json.Unmarshal(b.adminKeys(t, http.MethodGet, "/ciba/keys"), &before); err != nil || len(before) != 1 {
		t.Fatalf("B's keys before: %v %v", before, err)
	}
	var rotated struct {
		KeyID string `json:"kid"`
	}
	if err := json.Unmarshal(a.adminKeys(t, http.MethodPost, "/ciba/keys/rotate"), &rotated); err != nil || rotated.KeyID == "" {
		t.Fatalf("rotate through A: %v %+v", err, rotated)
	}
	deadline := time.Now().Add(25 * time.Second)
	for !slices.Contains(b.jwksKids(t), rotated.KeyID) {
		if time.Now().After(deadline) {
			t.Fatalf("B does not publish the key rotated through A (%s): %v", rotated.KeyID, b.jwksKids(t))
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, i := range in {
		var ks []keyInfo
		if err := json.Unmarshal(i.adminKeys(t, http.MethodGet, "/ciba/keys"), &ks); err != nil {
			t.Fatal(err)
		}
		if len(ks) != 2 || ks[0].KeyID != before[0].KeyID || !ks[0].Signing || ks[1].KeyID != rotated.KeyID || ks[1].Signing {
			t.Fatalf("%s's ring = %+v; want the old key signing and %s published, not signing", i.name, ks, rotated.KeyID)
		}
	}
}

// TestKeyPublishedBeforeSigning: with a short publish lead, a key rotated through A is
// in both instances' JWKS before either signs with it, and then both sign with it.
func TestKeyPublishedBeforeSigning(t *testing.T) {
	in := startInstances(t, 2, "http://127.0.0.1:1/unused", "key_publish_lead 2s")
	var rotated struct {
		KeyID string `json:"kid"`
	}
	if err := json.Unmarshal(in[0].adminKeys(t, http.MethodPost, "/ciba/keys/rotate"), &rotated); err != nil || rotated.KeyID == "" {
		t.Fatalf("rotate through A: %v %+v", err, rotated)
	}
	published := map[string]bool{}
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, i := range in {
			if slices.Contains(i.jwksKids(t), rotated.KeyID) {
				published[i.name] = true
			}
		}
		signing := 0
		for _, i := range in {
			var ks []keyInfo
			if err := json.Unmarshal(i.adminKeys(t, http.MethodGet, "/ciba/keys"), &ks); err != nil {
				t.Fatal(err)
			}
			for _, k := range ks {
				if k.KeyID != rotated.KeyID || !k.Signing {
					continue
				}
				if !published["A"] || !published["B"] {
					t.Fatalf("%s signs with %s while published on %v only", i.name, rotated.KeyID, published)
				}
				signing++
			}
		}
		if signing == len(in) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d instances sign with the new key after 15 s (published on %v)", signing, len(in), published)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// decide posts a decision with the page token (the link's fragment) through in.
func (in *instance) decide(t *testing.T, n *notifier.Notification, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, via(n.DecisionURL, in), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+n.DeviceURL[strings.Index(n.DeviceURL, "#t=")+3:])
	resp, err := in.tpp.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestPasswordLockoutAcrossInstances: wrong passwords on the approval page, alternately
// through A and B, count towards one lockout, which then holds on both.
func TestPasswordLockoutAcrossInstances(t *testing.T) {
	phone, err := flow.StartPhone()
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	in := startInstances(t, 2, phone.URL, "password_attempts 4", "password_lockout 10m")
	cc, err := in[0].tpp.ClientCredentials()
	if err != nil {
		t.Fatal(err)
	}
	consentID, err := in[0].tpp.Consent(cc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in[0].tpp.Backchannel("user-2", consentID); err != nil {
		t.Fatal(err)
	}
	n, err := phone.Await(consentID, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wrong := `{"decision":"approve","accounts":["22289"],"password":"guess"}`
	for i, want := range []string{"3 tries left", "2 tries left", "1 tries left", "locked"} {
		through := in[i%2]
		status, body := through.decide(t, n, wrong)
		if status != http.StatusForbidden || !strings.Contains(body, want) {
			t.Fatalf("wrong password %d through %s: %d %s, want 403 %q", i+1, through.name, status, body, want)
		}
	}
	right := `{"decision":"approve","accounts":["22289"],"password":"` + gateway.UserPassword + `"}`
	for _, i := range in {
		if status, body := i.decide(t, n, right); status != http.StatusTooManyRequests {
			t.Fatalf("the right password through %s while locked: %d %s", i.name, status, body)
		}
	}
}

// TestPendingCapAcrossInstances: concurrent bc-authorize requests for one user, spread over
// two instances, are held to one cap (max_pending_per_user 4: one client holds at most 2).
func TestPendingCapAcrossInstances(t *testing.T) {
	phone, err := flow.StartPhone()
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	in := startInstances(t, 2, phone.URL, "max_pending_per_user 4")
	cc, err := in[0].tpp.ClientCredentials()
	if err != nil {
		t.Fatal(err)
	}
	const tries = 20
	consents := make([]string, tries)
	for i := range consents {
		if consents[i], err = in[i%2].tpp.Consent(cc); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted int
		refused  []string
	)
	for i, id := range consents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := in[i%2].tpp.Backchannel("user-3", id)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				accepted++
			} else {
				refused = append(refused, err.Error())
			}
		}()
	}
	wg.Wait()
	if accepted != 2 {
		t.Fatalf("%d of %d concurrent requests accepted across two instances, want 2 (the client's share of 4)", accepted, tries)
	}
	for _, r := range refused {
		if !strings.Contains(r, "400") || !strings.Contains(r, "invalid_request") {
			t.Fatalf("a request over the cap answered %s, want 400 invalid_request", r)
		}
	}
}
