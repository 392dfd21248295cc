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
		old := live.Swap(dir)
		a.logger.Info("users file reloaded", zap.String("file", path), zap.Int("users", dir.Len()))
		a.endBarred(dir.Barred(old))
	}
}

// endBarred ends the pending requests of users the reloaded file disabled or dropped, at
// once rather than at their next poll, so ping and push clients hear of it too. A failure
// is logged: such a request still cannot be approved (the decision checks the user).
func (a *App) endBarred(subjects []string) {
	for _, sub := range subjects {
		n, err := a.provider.WithdrawUser(sub)
		if err != nil {
			a.logger.Error("pending requests of a disabled user not ended", zap.Error(err))
			continue
		}
		if n > 0 {
			a.logger.Info("pending requests of a disabled user ended", zap.Int("requests", n))
		}
	}
}
