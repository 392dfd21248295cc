package store

import (
	"sync"
	"sync/atomic"

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
	// valueLog is set when a commit may have written to the value log since the last sync.
	valueLog atomic.Bool
	logs     memLogs
}

func newGroupSync(db *badger.DB, dir string) *groupSync {
	// Unbuffered: a waiter is either taken by the loop, which then answers it, or sees
	// the loop stopped and syncs on its own; none can be left in a queue nobody reads.
	g := &groupSync{db: db, dir: dir, logs: memLogs{dir: dir}, waiters: make(chan chan error), stopped: make(chan struct{})}
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

// largeValue is the value size from which a commit may use Badger's value log: Badger
// keeps values below its ValueThreshold (1 MiB, the default the store keeps) in the
// memtable and its log, and writes only larger ones to the value log. The margin costs
// nothing: such values are rare.
const largeValue = 64 << 10

// wroteLarge notes a value of largeValue or more, before its transaction commits: the next
// sync covers the value log too.
func (g *groupSync) wroteLarge() { g.valueLog.Store(true) }

// syncAll syncs the memtables' logs (memLogs) and, only when a commit may have written to
// it, the value log: DB.Sync would sync the value log every time, and an fsync costs a
// disk flush even on a file with no dirty page, which doubled every commit's wait.
func (g *groupSync) syncAll() error {
	if g.valueLog.Swap(false) {
		if err := g.db.Sync(); err != nil {
			g.valueLog.Store(true)
			return err
		}
	}
	return g.logs.sync()
}

// stop ends the loop; later waits sync on their own.
func (g *groupSync) stop() {
	g.once.Do(func() { close(g.stopped) })
	g.logs.close()
}
