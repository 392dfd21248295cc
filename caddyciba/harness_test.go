package caddyciba

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddyciba/gateway/internal/testpg"
	"github.com/caddyciba/gateway/internal/testpki"
)

// The gateway's ports are free ones, asked of the kernel when the test binary starts: two
// runs of this package at once (test/race's subprocess beside `go test ./...`, a second
// terminal) each get their own, so neither waits for nor takes over the other's. They are
// fixed for the process, so a test's URLs stay valid across the configs it loads.
var (
	ports                                    = freePorts(4)
	httpPort, httpsPort, adminPort, bankPort = ports[0], ports[1], ports[2], ports[3]

	httpBase  = fmt.Sprintf("http://localhost:%d", httpPort)
	httpsBase = fmt.Sprintf("https://localhost:%d", httpsPort)
	adminBase = fmt.Sprintf("http://localhost:%d", adminPort)
)

// freePorts asks the kernel for n distinct free TCP ports, holding each until all are
// known so none comes back twice. Caddy binds them later: a port is free in between only
// if no other process on the host binds it in that moment, which the kernel's ephemeral
// allocation makes unlikely.
func freePorts(n int) []int {
	out := make([]int, n)
	for i := range out {
		l, err := net.Listen("tcp", ":0") // the wildcard address, as Caddy's http_port binds
		if err != nil {
			panic(err)
		}
		defer l.Close()
		out[i] = l.Addr().(*net.TCPAddr).Port
	}
	return out
}

// fixture is the key material every integration test shares, made once in TestMain.
type fixture struct {
	dir                     string
	ca, server              *testpki.Cert
	mtlsCert, otherCACert   *testpki.Cert // CA-issued client certificates
	selfCert, otherSelf     *testpki.Cert // self-signed client certificates
	forgedMTLS              *testpki.Cert // self-signed, with tpp-mtls's subject
	pkjKey, otherKey, rsKey jwk.Key       // private keys; pkjKey and rsKey are registered
	serverCert, serverKey   string
	caFile                  string
}

var fx *fixture

func TestMain(m *testing.M) {
	// caddytest talks to (and starts) the in-process Caddy on its admin port.
	caddytest.Default.AdminPort = adminPort
	dir, err := os.MkdirTemp("", "caddyciba-test-")
	if err != nil {
		panic(err)
	}
	// Keep Caddy's own data (autosave, local CA) out of the developer's home.
	os.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	fx, err = newFixture(dir)
	if err != nil {
		panic(err)
	}
	code := testpg.Main(m) // runs the tests, then stops their PostgreSQL if one was started
	os.RemoveAll(dir)
	os.Exit(code)
}

func newFixture(dir string) (*fixture, error) {
	f := &fixture{dir: dir}
	var err error
	must := func(c *testpki.Cert, e error) *testpki.Cert {
		if e != nil && err == nil {
			err = e
		}
		return c
	}
	f.ca = must(testpki.NewCA("caddyciba test CA"))
	if err != nil {
		return nil, err
	}
	f.server = must(f.ca.Server())
	f.mtlsCert = must(f.ca.Client(pkix.Name{CommonName: "tpp-mtls", Organization: []string{"TPP Ltd"}}))
	f.otherCACert = must(f.ca.Client(pkix.Name{CommonName: "other", Organization: []string{"Other Ltd"}}))
	f.selfCert = must(testpki.SelfSigned(pkix.Name{CommonName: "tpp-self"}))
	f.otherSelf = must(testpki.SelfSigned(pkix.Name{CommonName: "tpp-self"}))
	f.forgedMTLS = must(testpki.SelfSigned(pkix.Name{CommonName: "tpp-mtls", Organization: []string{"TPP Ltd"}}))
	if err != nil {
		return nil, err
	}
	if f.serverCert, f.serverKey, err = f.server.WritePEM(dir, "server"); err != nil {
		return nil, err
	}
	if f.caFile, _, err = f.ca.WritePEM(dir, "ca"); err != nil {
		return nil, err
	}
	if f.pkjKey, err = privateJWK(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)); err != nil {
		return nil, err
	}
	if f.otherKey, err = privateJWK(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)); err != nil {
		return nil, err
	}
	if f.rsKey, err = privateJWK(rsa.GenerateKey(rand.Reader, 2048)); err != nil {
		return nil, err
	}
	// psu-1 is the user of the gate tests' tokens: a token is good only while its user is.
	if err := os.WriteFile(filepath.Join(dir, "users.json"), []byte(`[{"subject":"psu-1","login_hints":["psu-1@example.com"],`+
		`"accounts":[{"AccountId":"22289"},{"AccountId":"31820"}]}]`), 0o600); err != nil {
		return nil, err
	}
	// The RSA key is registered without alg, so only the algorithm allow-list can refuse RS256.
	if err := writeJWKS(filepath.Join(dir, "pkj.jwks.json"), f.pkjKey, f.rsKey); err != nil {
		return nil, err
	}
	selfKey, err := jwk.FromRaw(f.selfCert.Public())
	if err != nil {
		return nil, err
	}
	return f, writeJWKS(filepath.Join(dir, "self.jwks.json"), selfKey)
}

func privateJWK[K any](raw K, err error) (jwk.Key, error) {
	if err != nil {
		return nil, err
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	return k, jwk.AssignKeyID(k)
}

func writeJWKS(path string, keys ...jwk.Key) error {
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := k.PublicKey()
		if err != nil {
			return err
		}
		if err := set.AddKey(pub); err != nil {
			return err
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// accountAPI stands for the bank's account API in gatewayConfig: an empty OB answer, which
// the gate's filter reads; tests replace it with a reverse_proxy to their own bank.
const accountAPI = "header Content-Type application/json\n\t\trespond `{\"Data\":{},\"Links\":{\"Self\":\"x\"},\"Meta\":{}}` 200"

// gatewayConfig is a Caddyfile with the ciba app, every kind of client, an HTTP site and
// an HTTPS site that asks for client certificates.
func gatewayConfig(storage, extra string) string {
	return fmt.Sprintf(`{
	skip_install_trust
	admin localhost:%[10]d
	http_port %[11]d
	https_port %[12]d
	grace_period 1ns
	log {
		level ERROR
	}
	ciba {
		issuer    %[1]s
		mtls_base %[2]s
		storage   %[3]s
		client_ca %[4]s
		client tpp-basic {
			name   "Basic TPP"
			auth   client_secret_basic
			secret "b@sic secret+/:~"
			scopes openid accounts payments
		}
		client tpp-post {
			auth   client_secret_post
			secret post-secret
			scopes accounts
		}
		client tpp-pkj {
			auth      private_key_jwt
			jwks_file %[5]s/pkj.jwks.json
			scopes    openid accounts
		}
		client tpp-pkj-bound {
			auth      private_key_jwt
			jwks_file %[5]s/pkj.jwks.json
			scopes    accounts
			certificate_bound
		}
		client tpp-mtls {
			auth        tls_client_auth
			tls_subject "CN=tpp-mtls, O=TPP Ltd"
			scopes      accounts
		}
		client tpp-self {
			auth      self_signed_tls_client_auth
			jwks_file %[5]s/self.jwks.json
			scopes    accounts
		}
		users %[5]s/users.json
		%[6]s
	}
}

%[1]s {
	ciba_endpoints
	route /open-banking/v3.1/aisp/* {
		ciba_gate
		%[9]s
	}
}

%[2]s {
	tls %[7]s %[8]s {
		client_auth {
			mode request
		}
	}
	ciba_endpoints
	route /open-banking/v3.1/aisp/* {
		ciba_gate
		%[9]s
	}
}
`, httpBase, httpsBase, storageOption(storage), fx.caFile, fx.dir, extra, fx.serverCert, fx.serverKey, accountAPI,
		adminPort, httpPort, httpsPort)
}

// startGateway loads cfg into the test binary's Caddy and unloads it when the test ends,
// before the test's temp dirs go (Badger must be closed before its directory is removed).
// Caddy's config is one per process, so a test that calls it never calls t.Parallel: the
// gateway tests run one after another, while the tests that only adapt or build config
// run in parallel, after them (Go holds parallel tests until the serial ones are done).
func startGateway(t *testing.T, cfg string) *caddytest.Tester {
	t.Helper()
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	t.Cleanup(func() { unloadGateway(t) })
	return tester
}

func unloadGateway(t *testing.T) {
	caddytest.NewTester(t).InitServer(fmt.Sprintf("{\n\tskip_install_trust\n\tadmin localhost:%d\n\tlog {\n\t\tlevel ERROR\n\t}\n}\n", adminPort), "caddyfile")
}

// activeApp is the ciba app of the running config.
func activeApp(t *testing.T) *App {
	t.Helper()
	app, err := caddy.ActiveContext().AppIfConfigured("ciba")
	if err != nil {
		t.Fatalf("ciba app: %v", err)
	}
	return app.(*App)
}

// client returns an HTTP client trusting the test CA, presenting cert when not nil.
func client(cert *testpki.Cert) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(fx.ca.Leaf)
	conf := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != nil {
		c := cert.TLS()
		conf.Certificates = []tls.Certificate{c}
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: conf,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return dialer.DialContext(ctx, network, "127.0.0.1:"+port)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r response) str(k string) string { s, _ := r.body[k].(string); return s }

func do(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %q", req.Method, req.URL, raw)
		}
	}
	return out
}

func postForm(t *testing.T, c *http.Client, target string, form url.Values, basic ...string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	return do(t, c, req)
}

func get(t *testing.T, c *http.Client, target string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	return do(t, c, req)
}

// assertion makes a private_key_jwt client assertion; edit changes its claims.
func assertion(t *testing.T, key jwk.Key, alg jwa.SignatureAlgorithm, clientID, aud string, edit func(jwt.Token)) string {
	t.Helper()
	now := time.Now()
	tok := jwt.New()
	for k, v := range map[string]any{
		jwt.IssuerKey: clientID, jwt.SubjectKey: clientID, jwt.AudienceKey: aud,
		jwt.JwtIDKey: uuid.NewString(), jwt.IssuedAtKey: now, jwt.ExpirationKey: now.Add(time.Minute),
	} {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(tok)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func assertionForm(a string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {a},
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func formOf(kv ...string) url.Values {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}
