package testpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Standby makes a streaming standby of s (pg_basebackup -R) on a port and directory of
// its own, and makes it synchronous: from then on s acknowledges a commit only once the
// standby has it too.
func (s *Server) Standby() (*Server, error) {
	if s.bin == "" {
		return nil, errors.New("testpg: only a server this package started can have a standby")
	}
	sb, err := newServer(s.bin, s.host, s.pass)
	if err != nil {
		return nil, err
	}
	backup := exec.Command(filepath.Join(s.bin, "pg_basebackup"), "-D", sb.data, "-R", "-X", "stream",
		"-c", "fast", "-h", s.dir, "-p", s.port, "-U", "postgres")
	backup.SysProcAttr = &syscall.SysProcAttr{Credential: sb.cred}
	if out, err := backup.CombinedOutput(); err != nil {
		os.RemoveAll(sb.dir)
		return nil, fmt.Errorf("pg_basebackup: %v\n%s", err, out)
	}
	if err := sb.start(); err != nil {
		return nil, err
	}
	if err := s.admin(`ALTER SYSTEM SET synchronous_standby_names = '*'`); err != nil {
		sb.Stop()
		return nil, err
	}
	if err := s.admin(`SELECT pg_reload_conf()`); err != nil {
		sb.Stop()
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := s.count(`SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'`)
		if err == nil && n == 1 {
			return sb, nil
		}
		if time.Now().After(deadline) {
			sb.Stop()
			return nil, fmt.Errorf("the standby is not synchronous after 30 s: %d, %v", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Promote makes a standby the primary and returns once it accepts writes.
func (s *Server) Promote() error { return s.admin(`SELECT pg_promote(true, 30)`) }

func (s *Server) count(sql string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.Admin)
	if err != nil {
		return 0, err
	}
	defer c.Close(context.Background())
	var n int64
	err = c.QueryRow(ctx, sql).Scan(&n)
	return n, err
}

// Failover is dsn (from NewDatabase) with the hosts of servers in turn, connecting to the
// one that accepts writes: what a gateway in front of a primary and its standbys uses.
func Failover(dsn string, servers ...*Server) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	hosts := make([]string, len(servers))
	for i, s := range servers {
		hosts[i] = net.JoinHostPort(s.host, s.port)
	}
	u.Host = strings.Join(hosts, ",")
	q := u.Query()
	q.Set("target_session_attrs", "read-write")
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	return u.String()
}
