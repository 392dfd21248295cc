package testpki

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net"
	"os"
	"testing"
)

// TestChains: what each maker issues verifies as what it is for, and only that.
func TestChains(t *testing.T) {
	t.Parallel()
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Server()
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Client(pkix.Name{CommonName: "tpp", Organization: []string{"TPP Ltd"}})
	if err != nil {
		t.Fatal(err)
	}
	self, err := SelfSigned(pkix.Name{CommonName: "tpp-self"})
	if err != nil {
		t.Fatal(err)
	}
	pool := func(c *Cert) *x509.CertPool { p := x509.NewCertPool(); p.AddCert(c.Leaf); return p }
	for _, tc := range []struct {
		name   string
		cert   *Cert
		roots  *x509.CertPool
		usage  x509.ExtKeyUsage
		dns    string
		verify bool
	}{
		{"server for localhost", server, pool(ca), x509.ExtKeyUsageServerAuth, "localhost", true},
		{"server for 127.0.0.1", server, pool(ca), x509.ExtKeyUsageServerAuth, "127.0.0.1", true},
		{"server for ::1", server, pool(ca), x509.ExtKeyUsageServerAuth, "::1", true},
		{"server for another name", server, pool(ca), x509.ExtKeyUsageServerAuth, "bank.example", false},
		{"server under another CA", server, pool(other), x509.ExtKeyUsageServerAuth, "localhost", false},
		{"server as a client", server, pool(ca), x509.ExtKeyUsageClientAuth, "", false},
		{"client", client, pool(ca), x509.ExtKeyUsageClientAuth, "", true},
		{"client as a server", client, pool(ca), x509.ExtKeyUsageServerAuth, "", false},
		{"self-signed under the CA", self, pool(ca), x509.ExtKeyUsageClientAuth, "", false},
		{"self-signed under itself", self, pool(self), x509.ExtKeyUsageClientAuth, "", true},
	} {
		_, err := tc.cert.Leaf.Verify(x509.VerifyOptions{Roots: tc.roots, DNSName: tc.dns, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
		if (err == nil) != tc.verify {
			t.Errorf("%s: verify error %v, want verified %v", tc.name, err, tc.verify)
		}
	}
	if !ca.Leaf.IsCA || client.Leaf.IsCA || self.Leaf.IsCA {
		t.Error("only the CA may be a CA")
	}
	if got := client.Leaf.Subject.String(); got != "CN=tpp,O=TPP Ltd" {
		t.Errorf("client subject %q", got)
	}
	if !client.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(client.Public()) {
		t.Error("Public is not the certificate's key")
	}
}

// TestWritePEMServesTLS: the written pair loads with crypto/tls and a client trusting the
// CA completes a handshake with a client certificate the server requires.
func TestWritePEMServesTLS(t *testing.T) {
	t.Parallel()
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Server()
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Client(pkix.Name{CommonName: "tpp"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath, err := server.WritePEM(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v", fi, err)
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Leaf)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			peer <- err.Error()
			return
		}
		peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		_, _ = io.WriteString(c, "ok")
	}()
	conn, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost",
		Certificates: []tls.Certificate{client.TLS()}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := <-peer; got != "tpp" {
		t.Errorf("the server saw %q", got)
	}
	if _, _, err := net.SplitHostPort(l.Addr().String()); err != nil {
		t.Fatal(err)
	}
}
