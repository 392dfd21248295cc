package store

import (
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// groupSync makes commits durable together. Badger's SyncWrites syncs its write-ahead log
// once per transaction, in its single writer goroutine, so synced throughput is one
// transaction per disk sync whatever the concurrency. Instead the store commits without
// a sync and then waits here for one sync that began after its commit: every commit that
// waits at the same time shares that sync, and none is acknowledged before it is on disk.
type groupSync struct {
	db      *badger.DB
	dir     string
	waiters chan chan error
	stopped chan struct{}
	once    sync.Once
}

func newGroupSync(db *badger.DB, dir string) *groupSync {
	// Unbuffered: a waiter is either taken by the loop, which then answers it, or sees
	// the loop stopped and syncs on its own; none can be left in a queue nobody reads.
	g := &groupSync{db: db, dir: dir, waiters: make(chan chan error), stopped: make(chan struct{})}
	go g.run()
	return g
}

// wait returns once everything committed before the call is on disk.
func (g *groupSync) wait() error {
	done := make(chan error, 1)
	select {
	case g.waiters <- done:
		return <-done
	case <-g.stopped:
		return g.syncAll()
	}
}

func (g *groupSync) run() {
	for {
		var batch []chan error
		select {
		case w := <-g.waiters:
			batch = append(batch, w)
		case <-g.stopped:
			return
		}
		// Everyone already waiting committed before this sync starts: it covers them all.
	more:
		for {
			select {
			case w := <-g.waiters:
				batch = append(batch, w)
			default:
				break more
			}
		}
		err := g.syncAll()
		for _, w := range batch {
			w <- err
		}
	}
}

// syncAll syncs the active memtable's log and the value log (DB.Sync), and the logs of
// memtables that were replaced but are not yet flushed to a table: Badger syncs only the
// active one, and a commit may sit in the one just replaced. Memtable logs are numbered
// in order, so the active one, already synced, is the last; the others are usually none.
func (g *groupSync) syncAll() error {
	if err := g.db.Sync(); err != nil {
		return err
	}
	logs, _ := filepath.Glob(filepath.Join(g.dir, "*.mem"))
	sort.Strings(logs)
	for _, name := range logs[:max(len(logs)-1, 0)] {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if os.IsNotExist(err) {
			continue // flushed and removed meanwhile: its contents are in a synced table
		}
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// stop ends the loop; later waits sync on their own.
func (g *groupSync) stop() {
	g.once.Do(func() { close(g.stopped) })
}
