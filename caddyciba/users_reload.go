package caddyciba

import (
	"context"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/caddyciba/gateway/internal/users"
)

// usersCheckInterval is how often the users file is checked for changes: a stat, cheap.
const usersCheckInterval = time.Second

// fileStamp is what tells a changed file apart.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, false
	}
	return fileStamp{st.ModTime(), st.Size()}, true
}

// watchUsers reloads the users file when it changes, until ctx ends. A file that does not
// parse is logged and the last good directory stays in service.
func (a *App) watchUsers(ctx context.Context, path string, live *users.Live) {
	last, _ := stampOf(path)
	tick := time.NewTicker(usersCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now, ok := stampOf(path)
		if !ok || now == last {
			continue
		}
		last = now
		dir, err := users.LoadFile(path)
		if err != nil {
			a.logger.Error("users file not reloaded; the previous one stays in service", zap.String("file", path), zap.Error(err))
			continue
		}
		live.Swap(dir)
		a.logger.Info("users file reloaded", zap.String("file", path), zap.Int("users", dir.Len()))
	}
}
