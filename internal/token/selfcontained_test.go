package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

var revocations Revocations

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSelfContained(t *testing.T) {
	s := openStore(t)
	k, err := LoadOrCreateClientKey(s, "https://bank.example")
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateClientKey(s, "https://bank.example")
	if err != nil {
		t.Fatal(err)
	}
	other, err := LoadOrCreateClientKey(openStore(t), "https://bank.example")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a := &Access{ClientID: "tpp", Grant: ClientCredentials, Scope: "accounts", CertThumbprint: strings.Repeat("x", 43),
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Minute).Unix()}
	tok, err := k.Mint(a)
	if err != nil || a.TokenID == "" || !IsSelfContained(tok) {
		t.Fatalf("mint: %q %v", tok, err)
	}
	got, err := again.Verify(tok)
	if err != nil || *got != *a {
		t.Fatalf("verify with the stored key: %+v %v, want %+v", got, err, a)
	}
	if _, err := other.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("another store's key took the token: %v", err)
	}
	for _, bad := range []string{"opaque-token-without-dots", tok + ".", "a.b.c", `{"payload":"e30","signatures":[]}`} {
		if _, err := k.Verify(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Verify(%q) = %v", bad, err)
		}
	}
	if _, err := k.Mint(&Access{ClientID: "tpp", Grant: CIBA}); err == nil {
		t.Error("a CIBA token was made self-contained")
	}

	if revoked, err := revocations.Revoked(s, a.TokenID); err != nil || revoked {
		t.Fatalf("revoked before revocation: %v %v", revoked, err)
	}
	if err := s.Update(func(tx store.Txn) error { return revocations.Revoke(tx, got, now) }); err != nil {
		t.Fatal(err)
	}
	if revoked, err := revocations.Revoked(s, a.TokenID); err != nil || !revoked {
		t.Fatalf("not revoked: %v %v", revoked, err)
	}
	// The record is kept under the jti's hash, not the jti.
	if _, err := s.Get(revokedKind + "/" + a.TokenID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the jti itself is a key: %v", err)
	}
	// An expired token needs no record.
	expired := &Access{TokenID: "expired", ExpiresAt: now.Add(-time.Second).Unix()}
	if err := s.Update(func(tx store.Txn) error { return revocations.Revoke(tx, expired, now) }); err != nil {
		t.Fatal(err)
	}
	if revoked, _ := revocations.Revoked(s, "expired"); revoked {
		t.Error("an expired token's revocation was stored")
	}
}
