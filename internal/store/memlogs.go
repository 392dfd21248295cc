package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// memLogs syncs Badger's memtable logs without listing the directory on every sync (a
// listing of a store's directory cost a tenth of the CPU at one connection). Badger names
// them %05d.mem and numbers each new memtable one more than the last, flushes them to
// tables in that order, and deletes a log once its table is synced. So the logs that can
// hold a commit not yet in a synced table are the newest one known and any that follow.
type memLogs struct {
	dir    string
	mu     sync.Mutex
	fid    int
	newest *os.File // nil until the first sync lists the directory
	closed bool     // after close, a sync keeps no file open
}

func (m *memLogs) path(fid int) string {
	return filepath.Join(m.dir, fmt.Sprintf("%05d.mem", fid))
}

// sync makes every commit in a memtable log durable.
func (m *memLogs) sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.newest != nil {
		if _, err := os.Stat(m.path(m.fid)); os.IsNotExist(err) {
			// Flushed and deleted: the logs after it may be too, so they are listed anew.
			m.newest.Close()
			m.newest = nil
		}
	}
	if m.newest == nil {
		if err := m.list(); err != nil || m.newest == nil {
			return err
		}
	}
	if m.closed {
		defer func() { m.newest.Close(); m.newest = nil }()
	}
	for {
		next, err := os.OpenFile(m.path(m.fid+1), os.O_RDWR, 0)
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			return err
		}
		// A memtable replaced since the last sync may hold the last commits made to it.
		if err := m.newest.Sync(); err != nil {
			next.Close()
			return err
		}
		m.newest.Close()
		m.newest, m.fid = next, m.fid+1
	}
	return m.newest.Sync()
}

// list syncs every log but the newest, which it keeps open.
func (m *memLogs) list() error {
	names, err := filepath.Glob(filepath.Join(m.dir, "*.mem"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	for i, name := range names {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if os.IsNotExist(err) {
			continue // flushed and removed meanwhile: its contents are in a synced table
		}
		if err != nil {
			return err
		}
		if i < len(names)-1 {
			err = f.Sync()
			f.Close()
			if err != nil {
				return err
			}
			continue
		}
		fid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(name), ".mem"))
		if err != nil {
			f.Close()
			return fmt.Errorf("memtable log %s: %w", name, err)
		}
		m.newest, m.fid = f, fid
	}
	return nil
}

// close releases the open log; a later sync lists the directory again and keeps nothing open.
func (m *memLogs) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	if m.newest != nil {
		m.newest.Close()
		m.newest = nil
	}
}
