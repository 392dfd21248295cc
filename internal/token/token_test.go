package token

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"testing"

	"github.com/caddyciba/gateway/internal/testpki"
)

func TestPresentedOver(t *testing.T) {
	mine, err := testpki.SelfSigned(pkix.Name{CommonName: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := testpki.SelfSigned(pkix.Name{CommonName: "other"})
	over := func(c *testpki.Cert) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c.Leaf}}
	}
	bound := &Access{CertThumbprint: Thumbprint(mine.Leaf)}
	if len(bound.CertThumbprint) != 43 {
		t.Fatalf("x5t#S256 %q", bound.CertThumbprint)
	}
	for _, tc := range []struct {
		name string
		a    *Access
		cs   *tls.ConnectionState
		want bool
	}{
		{"bound, its certificate", bound, over(mine), true},
		{"bound, another certificate", bound, over(other), false},
		{"bound, TLS without a certificate", bound, &tls.ConnectionState{}, false},
		{"bound, plain HTTP", bound, nil, false},
		{"unbound, plain HTTP", &Access{}, nil, true},
		{"unbound, any certificate", &Access{}, over(other), true},
	} {
		if got := tc.a.PresentedOver(tc.cs); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
	cs := over(mine)
	if n := testing.AllocsPerRun(100, func() { bound.PresentedOver(cs) }); n != 0 {
		t.Fatalf("PresentedOver allocates %v times", n)
	}
}

// TestKey: a key is the kind and the unpadded URL-safe base64 of the token's SHA-256, made
// with one allocation (it is computed on every gated request).
func TestKey(t *testing.T) {
	sum := sha256.Sum256([]byte("tok"))
	if got, want := Key("at", "tok"), "at/"+base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { AccessKey("some-token") }); n > 1 {
		t.Fatalf("AccessKey allocates %v times", n)
	}
}
