package consent

import (
	"errors"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

func newRepo(t *testing.T) *Repo {
	t.Helper()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &Repo{Store: s, Now: func() time.Time { return now }}
}

func TestRepo(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	req, err := ParseRequest([]byte(`{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`), now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Create("tpp-1", req)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ID) > 128 || len(c.ID) < 36 || c.Status != AwaitingAuthorisation {
		t.Fatalf("created %+v", c)
	}
	if got, err := r.GetFor("tpp-1", c.ID); err != nil || got.ID != c.ID || got.Permissions[0] != ReadAccountsBasic {
		t.Fatalf("GetFor owner: %+v %v", got, err)
	}
	if _, err := r.GetFor("tpp-2", c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetFor another client: %v", err)
	}
	if err := r.Delete("tpp-2", c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete by another client: %v", err)
	}

	err = r.Store.Update(func(tx store.Txn) error {
		_, err := Change(tx, c.ID, now, func(c *Consent) error { return c.Authorise("psu", []string{"22289"}, now) })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Get(c.ID); got.Status != Authorised || got.Subject != "psu" || !got.HasAccount("22289") {
		t.Fatalf("after Change: %+v", got)
	}
	// A refused transition writes nothing.
	err = r.Store.Update(func(tx store.Txn) error {
		_, err := Change(tx, c.ID, now, func(c *Consent) error { return c.Reject(now) })
		return err
	})
	if !errors.Is(err, ErrNotAwaiting) {
		t.Fatalf("illegal Change: %v", err)
	}
	if got, _ := r.Get(c.ID); got.Status != Authorised {
		t.Fatalf("illegal Change wrote %s", got.Status)
	}

	if err := r.Delete("tpp-1", c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
	if err := r.Delete("tpp-1", c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	for _, bad := range []string{"", string(make([]byte, 129))} {
		if _, err := r.Get(bad); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(%q): %v", bad, err)
		}
	}
}
