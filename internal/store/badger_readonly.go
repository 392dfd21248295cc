package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// ErrNoStore is returned by OpenBadgerReadOnly for a directory that holds no database.
var ErrNoStore = errors.New("no gateway storage")

// OpenBadgerReadOnly opens the database in dir for reading only, for the operator's tools:
// it creates nothing (a directory without a database is ErrNoStore, not a new empty
// store), writes nothing, and shares the directory with other readers but not with a
// running gateway. Its writes fail.
func OpenBadgerReadOnly(dir string) (*Badger, error) {
	// Badger's own message for a missing manifest names neither the directory nor the
	// likely cause, so the check comes first.
	switch _, err := os.Stat(filepath.Join(dir, badger.ManifestFilename)); {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w in %s", ErrNoStore, dir)
	case err != nil:
		return nil, err
	}
	opts := badger.DefaultOptions(dir).
		WithReadOnly(true).
		WithLogger(nil).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(16 << 20).
		WithMemTableSize(16 << 20).
		WithValueLogFileSize(64 << 20)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	close(done) // no garbage collector to wait for
	return &Badger{db: db, synced: newGroupSync(db, dir), stop: func() {}, done: done}, nil
}
