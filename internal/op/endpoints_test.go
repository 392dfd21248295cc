package op

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// TestHandler: the gateway's own paths are routed to their endpoint, everything else —
// the APIs behind the gate, a consent's sub-resources — is not.
func TestHandler(t *testing.T) {
	p := fuzzProvider(t)
	for _, tc := range []struct {
		path string
		want http.HandlerFunc // nil: not the gateway's
	}{
		{PathDiscovery, nil}, // getOnly wraps it; checked below by method
		{PathToken, p.ServeToken},
		{PathBackchannel, p.ServeBackchannel},
		{PathRevocation, p.ServeRevocation},
		{PathIntrospection, p.ServeIntrospection},
		{PathAccess, p.ServeAccess},
		{PathLogo, p.ServeLogo},
		{PathDevice + "abc", p.ServeDevice},
		{PathConsents, p.ServeConsents},
		{PathConsents + "/aac-1", p.ServeConsents},
		{PathPaymentConsents, p.ServePaymentConsents},
		{PathPaymentConsents + "/pdc-1", p.ServePaymentConsents},
		{PathFundsConsents + "/fcc-1", p.ServeFundsConsents},
	} {
		h, ok := p.Handler(tc.path)
		if !ok {
			t.Errorf("%s: not routed", tc.path)
			continue
		}
		if tc.want != nil && reflect.ValueOf(h).Pointer() != reflect.ValueOf(tc.want).Pointer() {
			t.Errorf("%s: routed to another endpoint", tc.path)
		}
	}
	for _, path := range []string{
		"/", "/open-banking/v3.1/aisp/accounts", PathPaymentConsents + "/pdc-1/funds-confirmation",
		"/open-banking/v3.1/pisp/domestic-payments", "/token/", "/jwks/x", "/.well-known/",
	} {
		if _, ok := p.Handler(path); ok {
			t.Errorf("%s: routed to an endpoint; it belongs behind the gate or nowhere", path)
		}
	}
	h, _ := p.Handler(PathJWKS)
	w := httptest.NewRecorder()
	h(w, httptest.NewRequest(http.MethodPost, PathJWKS, nil))
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST %s: %d, Allow %q", PathJWKS, w.Code, w.Header().Get("Allow"))
	}
}

// TestDiscoveryFromTheTable: every endpoint the table names for discovery is advertised
// at its URL, and the mTLS aliases are exactly its mTLS endpoints.
func TestDiscoveryFromTheTable(t *testing.T) {
	p := fuzzProvider(t)
	p.MTLSBase = "https://mtls.bank.example"
	md := p.Metadata()
	aliases, _ := md["mtls_endpoint_aliases"].(map[string]string)
	n := 0
	for _, e := range p.endpoints() {
		if e.metadata == "" {
			continue
		}
		if md[e.metadata] != p.URL(e.path) {
			t.Errorf("%s: %v, want %s", e.metadata, md[e.metadata], p.URL(e.path))
		}
		if e.mtls {
			n++
			if aliases[e.metadata] != p.MTLSURL(e.path) {
				t.Errorf("mtls alias %s: %q", e.metadata, aliases[e.metadata])
			}
		}
	}
	if len(aliases) != n || n != 4 {
		t.Errorf("%d mtls aliases for %d mTLS endpoints: %v", len(aliases), n, aliases)
	}
}
