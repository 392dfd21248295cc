package storetest

import (
	"testing"

	"github.com/caddyciba/gateway/internal/store"
)

// TestSuiteOnBadger: the contract holds for the reference backend, a real Badger in a
// temp dir, so a failure elsewhere is the backend's and not the suite's.
func TestSuiteOnBadger(t *testing.T) {
	t.Parallel()
	Run(t, func(t *testing.T) store.Store {
		b, err := store.OpenBadger(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}
