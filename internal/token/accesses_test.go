package token

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// TestAccesses: a minted token is found while live and only then, its record is keyed by
// the token's hash and never holds the token, and a revoked one is gone.
func TestAccesses(t *testing.T) {
	s := openBadger(t)
	var as Accesses
	now := time.Now()
	mint := func(exp time.Time) string {
		var tok string
		err := s.Update(func(tx store.Txn) error {
			var err error
			tok, err = as.Mint(tx, &Access{ClientID: "c", Grant: ClientCredentials, ExpiresAt: exp.Unix()}, time.Hour)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	live, lapsed, revoked := mint(now.Add(time.Minute)), mint(now.Add(-time.Second)), mint(now.Add(time.Minute))
	if err := s.Update(func(tx store.Txn) error { return as.Revoke(tx, revoked) }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tok  string
		err  error
	}{
		{"live", live, nil},
		{"expired by the caller's clock", lapsed, ErrInvalid},
		{"revoked", revoked, ErrInvalid},
		{"unknown", "nope", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := as.Lookup(s, tc.tok, now)
			if !errors.Is(err, tc.err) || (err == nil && a.ClientID != "c") {
				t.Fatalf("lookup %+v, %v; want %v", a, err, tc.err)
			}
		})
	}
	buf, err := s.Get(as.Key(live))
	if err != nil || bytes.Contains(buf, []byte(live)) || bytes.Contains([]byte(as.Key(live)), []byte(live)) {
		t.Fatalf("record at %q holds the token or is missing: %v", as.Key(live), err)
	}
	if a, err := as.Decode(buf); err != nil || a.ClientID != "c" {
		t.Fatalf("decode %+v: %v", a, err)
	}
}
