package caddyciba

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyciba/gateway/internal/testpki"
)

func TestLoadCertPool(t *testing.T) {
	dir := t.TempDir()
	ca, err := testpki.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	caPath, _, err := ca.WritePEM(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		wantPool bool
		wantErr  string
	}{
		{path: "", wantPool: false},
		{path: caPath, wantPool: true},
		{path: notPEM, wantErr: "ciba: client_ca " + notPEM + " holds no PEM certificate"},
		{path: filepath.Join(dir, "absent.pem"), wantErr: "ciba: client_ca: "},
	}
	for _, tt := range tests {
		pool, err := loadCertPool("client_ca", tt.path)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.path, err, tt.wantErr)
			}
			continue
		}
		if err != nil || (pool != nil) != tt.wantPool {
			t.Errorf("%q: pool %v, error %v", tt.path, pool, err)
		}
	}
}
