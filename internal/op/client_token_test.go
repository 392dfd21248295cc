package op

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/testpg"
	"github.com/caddyciba/gateway/internal/testpki"
	"github.com/caddyciba/gateway/internal/token"
)

// ccProvider is a provider over s with three clients: "tpp" (accounts and payments),
// "other" (accounts) and "bound", whose tokens are bound to its TLS certificate.
func ccProvider(t testing.TB, s store.Store) *Provider {
	t.Helper()
	ring, err := keys.LoadOrCreate(s, jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	var list []*clients.Client
	for _, c := range []*clients.Client{
		{ID: "tpp", Method: clients.SecretBasic, Scopes: []string{"openid", "accounts", "payments"}},
		{ID: "other", Method: clients.SecretBasic, Scopes: []string{"accounts"}},
		{ID: "bound", Method: clients.SecretBasic, CertificateBound: true, Scopes: []string{"accounts"}},
	} {
		c.DeliveryMode = clients.Poll
		if err := c.SetSecret("secret"); err != nil {
			t.Fatal(err)
		}
		list = append(list, c)
	}
	reg, err := clients.NewRegistry(list, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Issuer: "https://bank.example", AuthReqTTL: 60e9, MaxAuthReqTTL: 600e9, PollInterval: 5e9, AccessTokenTTL: 600e9}, s, ring, reg)
	t.Cleanup(p.Close)
	return p
}

func openBadger(t testing.TB) store.Store {
	t.Helper()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// oauthCall posts a form to an OAuth endpoint of p as client, over cs when not nil.
func oauthCall(p *Provider, handler http.HandlerFunc, client string, cs *tls.ConnectionState, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "https://bank.example/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(client, "secret")
	r.TLS = cs
	w := httptest.NewRecorder()
	handler(w, r)
	return w
}

func ccToken(t *testing.T, p *Provider, client, scope string, cs *tls.ConnectionState) TokenResponse {
	t.Helper()
	w := oauthCall(p, p.ServeToken, client, cs, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
	var out TokenResponse
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		t.Fatalf("token for %s: %d %s", client, w.Code, w.Body)
	}
	return out
}

// readConsentWith calls GET on a consent that does not exist: a token the endpoint takes
// gets 400 (UK.OBIE.Resource.NotFound), one it refuses 401 or 403.
func readConsentWith(p *Provider, tok string, cs *tls.ConnectionState) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "https://bank.example"+PathConsents+"/aac-none", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Accept", "application/json")
	r.TLS = cs
	w := httptest.NewRecorder()
	p.ServeConsents(w, r)
	return w
}

func ccIntrospectActive(t *testing.T, p *Provider, client, tok string, cs *tls.ConnectionState) bool {
	t.Helper()
	w := oauthCall(p, p.ServeIntrospection, client, cs, url.Values{"token": {tok}})
	var out Introspection
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		t.Fatalf("introspection: %d %s", w.Code, w.Body)
	}
	return out.Active
}

// tamper changes the token's scope and keeps its MAC.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	claims["scope"] = "accounts payments"
	changed, _ := json.Marshal(claims)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(changed) + "." + parts[2]
}

// withoutMAC is the token with an alg none header and no signature.
func withoutMAC(tok string) string {
	parts := strings.Split(tok, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."
}

func TestClientCredentialsTokenIsSelfContained(t *testing.T) {
	s := openBadger(t)
	p := ccProvider(t, s)
	ccToken(t, p, "tpp", "accounts", nil) // the first makes the gateway's key
	before := countKeys(t, p, "")
	resp := ccToken(t, p, "tpp", "accounts", nil)
	if resp.TokenType != "Bearer" || resp.ExpiresIn != 600 || resp.Scope != "accounts" || resp.RefreshToken != "" {
		t.Fatalf("answer %+v", resp)
	}
	if after := countKeys(t, p, ""); after != before {
		t.Fatalf("minting stored %d records", after-before)
	}
	parts := strings.Split(resp.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", resp.AccessToken)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var h map[string]any
	var c map[string]any
	if json.Unmarshal(header, &h) != nil || json.Unmarshal(payload, &c) != nil {
		t.Fatalf("header %s payload %s", header, payload)
	}
	if h["alg"] != "HS256" || h["typ"] != "at+jwt" || h["kid"] == "" {
		t.Errorf("header %s", header)
	}
	jti, _ := c["jti"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(raw) < 32 {
		t.Errorf("jti %q has fewer than 256 bits", jti)
	}
	if c["client_id"] != "tpp" || c["sub"] != "tpp" || c["scope"] != "accounts" || c["iss"] != "https://bank.example" ||
		c["exp"].(float64)-c["iat"].(float64) != 600 {
		t.Errorf("claims %s", payload)
	}
	if w := readConsentWith(p, resp.AccessToken, nil); w.Code != http.StatusBadRequest {
		t.Fatalf("a good token at the consent API: %d %s", w.Code, w.Body)
	}
	if !ccIntrospectActive(t, p, "tpp", resp.AccessToken, nil) {
		t.Fatal("a good token introspects inactive")
	}
	if ccIntrospectActive(t, p, "other", resp.AccessToken, nil) {
		t.Fatal("another client's token introspects active")
	}
}

// TestClientCredentialsTokenRefusals is every way a self-contained token stops being
// taken, at the consent API (401 or 403), at introspection (inactive) and at the gate
// (401, or 403 insufficient_scope for a good one).
func TestClientCredentialsTokenRefusals(t *testing.T) {
	ca, err := testpki.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := ca.Client(pkix.Name{CommonName: "bound"})
	otherCert, _ := ca.Client(pkix.Name{CommonName: "bound"})
	over := func(c *testpki.Cert) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c.Leaf}}
	}

	s := openBadger(t)
	p := ccProvider(t, s)
	elsewhere := ccProvider(t, openBadger(t)) // another gateway: another key
	now := time.Now()
	p.Now = func() time.Time { return now }

	type tc struct {
		name      string
		tok       func() string
		cs        *tls.ConnectionState
		consents  int  // status at the consent API
		active    bool // introspection
		gate      int  // status at the account API
		gateScope bool // the gate's challenge says insufficient_scope
	}
	for _, c := range []tc{
		{name: "good", tok: func() string { return ccToken(t, p, "tpp", "accounts", nil).AccessToken },
			consents: 400, active: true, gate: 403, gateScope: true},
		{name: "bound, over its certificate", tok: func() string { return ccToken(t, p, "bound", "accounts", over(cert)).AccessToken },
			cs: over(cert), consents: 400, active: true, gate: 403, gateScope: true},
		{name: "tampered", tok: func() string { return tamper(t, ccToken(t, p, "tpp", "accounts", nil).AccessToken) },
			consents: 401, gate: 401},
		{name: "alg none", tok: func() string { return withoutMAC(ccToken(t, p, "tpp", "accounts", nil).AccessToken) },
			consents: 401, gate: 401},
		{name: "another gateway's key", tok: func() string { return ccToken(t, elsewhere, "tpp", "accounts", nil).AccessToken },
			consents: 401, gate: 401},
		{name: "expired", tok: func() string {
			p.Now = func() time.Time { return now.Add(-601 * time.Second) }
			defer func() { p.Now = func() time.Time { return now } }()
			return ccToken(t, p, "tpp", "accounts", nil).AccessToken
		}, consents: 401, gate: 401},
		{name: "revoked", tok: func() string {
			tok := ccToken(t, p, "tpp", "accounts", nil).AccessToken
			if w := oauthCall(p, p.ServeRevocation, "tpp", nil, url.Values{"token": {tok}}); w.Code != http.StatusOK {
				t.Fatalf("revoke: %d %s", w.Code, w.Body)
			}
			return tok
		}, consents: 401, gate: 401},
		{name: "bound, without a certificate", tok: func() string { return ccToken(t, p, "bound", "accounts", over(cert)).AccessToken },
			consents: 401, active: true, gate: 401},
		{name: "bound, over another certificate", tok: func() string { return ccToken(t, p, "bound", "accounts", over(cert)).AccessToken },
			cs: over(otherCert), consents: 401, active: true, gate: 401},
		{name: "another scope", tok: func() string { return ccToken(t, p, "tpp", "payments", nil).AccessToken },
			consents: 403, active: true, gate: 403, gateScope: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := c.tok()
			if w := readConsentWith(p, tok, c.cs); w.Code != c.consents {
				t.Errorf("consent API: %d %s, want %d", w.Code, w.Body, c.consents)
			}
			client, clientTLS := "tpp", (*tls.ConnectionState)(nil)
			if strings.HasPrefix(c.name, "bound") {
				client, clientTLS = "bound", over(cert)
			}
			if got := ccIntrospectActive(t, p, client, tok, clientTLS); got != c.active {
				t.Errorf("introspection active=%v, want %v", got, c.active)
			}
			r := httptest.NewRequest("GET", "https://bank.example/open-banking/v3.1/aisp/accounts", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			r.TLS = c.cs
			_, refusal := p.Admit(r)
			if refusal == nil || refusal.Status != c.gate {
				t.Fatalf("gate: %+v, want %d", refusal, c.gate)
			}
			if got := strings.Contains(refusal.Challenge, "insufficient_scope"); got != c.gateScope {
				t.Errorf("gate challenge %q", refusal.Challenge)
			}
		})
	}
}

// TestClientCredentialsTokenAcrossInstances: two providers on one store share the key, and a
// revocation made through one is refused at once by the other.
func TestClientCredentialsTokenAcrossInstances(t *testing.T) {
	s := openBadger(t)
	ccAcrossInstances(t, s, s)
}

// TestClientCredentialsTokenAcrossInstancesPostgres: the same with two instances, each
// with its own pool to one PostgreSQL database.
func TestClientCredentialsTokenAcrossInstancesPostgres(t *testing.T) {
	dsn := testpg.DSN(t)
	ccAcrossInstances(t, openPostgres(t, dsn), openPostgres(t, dsn))
}

func ccAcrossInstances(t *testing.T, sa, sb store.Store) {
	a, b := ccProvider(t, sa), ccProvider(t, sb)
	tok := ccToken(t, a, "tpp", "accounts", nil).AccessToken
	if w := readConsentWith(b, tok, nil); w.Code != http.StatusBadRequest {
		t.Fatalf("the other instance refused a good token: %d %s", w.Code, w.Body)
	}
	if w := oauthCall(b, b.ServeRevocation, "other", nil, url.Values{"token": {tok}}); w.Code != http.StatusBadRequest {
		t.Fatalf("another client revoked the token: %d %s", w.Code, w.Body)
	}
	if w := readConsentWith(a, tok, nil); w.Code != http.StatusBadRequest {
		t.Fatalf("refused after another client's revocation: %d %s", w.Code, w.Body)
	}
	if w := oauthCall(b, b.ServeRevocation, "tpp", nil, url.Values{"token": {tok}}); w.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if w := readConsentWith(a, tok, nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("the first instance took a token revoked through the second: %d %s", w.Code, w.Body)
	}
	if ccIntrospectActive(t, a, "tpp", tok, nil) {
		t.Fatal("a revoked token introspects active")
	}
	if w := oauthCall(a, a.ServeRevocation, "tpp", nil, url.Values{"token": {tok}}); w.Code != http.StatusOK {
		t.Fatalf("revoking again: %d %s", w.Code, w.Body)
	}
}

// TestClientKeyDecidedOnce: instances starting together on one store end with one key.
func TestClientKeyDecidedOnce(t *testing.T) {
	s := openBadger(t)
	clientKeyDecidedOnce(t, func() store.Store { return s })
}

// TestClientKeyDecidedOncePostgres: the same with instances of their own pools.
func TestClientKeyDecidedOncePostgres(t *testing.T) {
	dsn := testpg.DSN(t)
	clientKeyDecidedOnce(t, func() store.Store { return openPostgres(t, dsn) })
}

func clientKeyDecidedOnce(t *testing.T, open func() store.Store) {
	const n = 8
	providers := make([]*Provider, n)
	for i := range providers {
		providers[i] = ccProvider(t, open())
	}
	toks := make([]string, n)
	var wg sync.WaitGroup
	for i, p := range providers {
		wg.Go(func() {
			k, err := p.clientKey()
			if err == nil {
				toks[i], err = k.Mint(&token.Access{ClientID: "tpp", Grant: token.ClientCredentials, Scope: "accounts",
					IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(time.Minute).Unix()})
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, tok := range toks {
		for j, p := range providers {
			if _, err := p.LookupAccess(tok, time.Now()); err != nil {
				t.Fatalf("instance %d refused the token of instance %d: %v", j, i, err)
			}
		}
	}
}

// TestStoredClientTokenStillTaken: a client-credentials token minted before tokens were
// self-contained keeps working until it expires, and is revoked as before.
func TestStoredClientTokenStillTaken(t *testing.T) {
	p := ccProvider(t, openBadger(t))
	now := time.Now()
	var tok string
	err := p.Store.Update(func(tx store.Txn) error {
		var err error
		tok, err = token.MintAccess(tx, &token.Access{ClientID: "tpp", Grant: token.ClientCredentials, Scope: "accounts",
			IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Minute).Unix()}, time.Minute)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := readConsentWith(p, tok, nil); w.Code != http.StatusBadRequest {
		t.Fatalf("a stored token was refused: %d %s", w.Code, w.Body)
	}
	if !ccIntrospectActive(t, p, "tpp", tok, nil) {
		t.Fatal("a stored token introspects inactive")
	}
	if w := oauthCall(p, p.ServeRevocation, "tpp", nil, url.Values{"token": {tok}}); w.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if w := readConsentWith(p, tok, nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("a revoked stored token was taken: %d %s", w.Code, w.Body)
	}
}

// BenchmarkClientCredentialsToken is /token with the client-credentials grant, client
// authentication (client_secret_basic) included, over Badger.
func BenchmarkClientCredentialsToken(b *testing.B) {
	p := ccProvider(b, openBadger(b))
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "https://bank.example/token", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("tpp", "secret")
		w := httptest.NewRecorder()
		p.ServeToken(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkClientCredentialsMint is the token alone: claims, MAC, serialisation.
func BenchmarkClientCredentialsMint(b *testing.B) {
	p := ccProvider(b, openBadger(b))
	k, err := p.clientKey()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Mint(&token.Access{ClientID: "tpp", Grant: token.ClientCredentials, Scope: "accounts",
			CertThumbprint: "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg", IssuedAt: now.Unix(), ExpiresAt: now.Unix() + 600}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientCredentialsLookup is what each use of a token costs: MAC, claims and the
// read of its revocation record.
func BenchmarkClientCredentialsLookup(b *testing.B) {
	p := ccProvider(b, openBadger(b))
	k, err := p.clientKey()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok, err := k.Mint(&token.Access{ClientID: "tpp", Grant: token.ClientCredentials, Scope: "accounts", IssuedAt: now.Unix(), ExpiresAt: now.Unix() + 600})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.LookupAccess(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
