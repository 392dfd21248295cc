package token

import (
	"errors"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

func openBadger(t *testing.T) *store.Badger {
	t.Helper()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRevokeRefreshEndsItsAccessTokens: revoking a refresh token deletes every access
// token issued under it (RFC 7009 §2.1), so the gate needs no read of the refresh token.
func TestRevokeRefreshEndsItsAccessTokens(t *testing.T) {
	s := openBadger(t)
	now := time.Now()
	var rt string
	var access []string
	mintUnder := func(t *testing.T, ttl time.Duration) {
		t.Helper()
		err := s.Update(func(tx store.Txn) error {
			at, err := Accesses{}.Mint(tx, &Access{ClientID: "c", Grant: CIBA, ExpiresAt: now.Add(ttl).Unix()}, ttl)
			if err != nil {
				return err
			}
			access = append(access, at)
			return LinkAccess(tx, RefreshKey(rt), AccessKey(at), now.Add(ttl).Unix(), now)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.Update(func(tx store.Txn) error {
		var err error
		rt, err = Refreshes{}.Mint(tx, &Refresh{ClientID: "c", ExpiresAt: now.Add(time.Hour).Unix()}, time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mintUnder(t, time.Minute)
	mintUnder(t, 2*time.Minute)
	rec, err := Refreshes{}.Lookup(s, rt, now)
	if err != nil || len(rec.Access) != 2 {
		t.Fatalf("refresh record %+v, %v: want two access tokens listed", rec, err)
	}
	// An access token may not outlive the refresh token it is revoked with.
	err = s.Update(func(tx store.Txn) error {
		return LinkAccess(tx, RefreshKey(rt), AccessKey("x"), now.Add(2*time.Hour).Unix(), now)
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("linking an access token outliving the refresh token: %v, want ErrInvalid", err)
	}
	// Expired entries leave the list when the next token is linked.
	later := now.Add(90 * time.Second)
	err = s.Update(func(tx store.Txn) error {
		return LinkAccess(tx, RefreshKey(rt), AccessKey("y"), later.Add(time.Minute).Unix(), later)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec, _ := (Refreshes{}).Lookup(s, rt, now); len(rec.Access) != 2 || rec.Access[0].Key != AccessKey(access[1]) {
		t.Fatalf("after an expiry: %+v, want the second token and y", rec.Access)
	}

	if err := s.Update(func(tx store.Txn) error { return RevokeRefresh(tx, rt) }); err != nil {
		t.Fatal(err)
	}
	if _, err := (Refreshes{}).Lookup(s, rt, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("refresh token after revocation: %v", err)
	}
	// The first expired at later by its own time; the second was live and is revoked.
	for _, at := range access {
		if _, err := (Accesses{}).Lookup(s, at, later); !errors.Is(err, ErrInvalid) {
			t.Fatalf("access token after its refresh token's revocation: %v, want ErrInvalid", err)
		}
	}
	// Revoking what is already gone is no error (RFC 7009 §2.2).
	if err := s.Update(func(tx store.Txn) error { return RevokeRefresh(tx, rt) }); err != nil {
		t.Fatal(err)
	}
}
