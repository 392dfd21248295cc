// Package testpg runs a real PostgreSQL server for tests: Debian's binaries
// (/usr/lib/postgresql/<version>/bin), initdb into a short temporary directory, the
// server on 127.0.0.1 on a free port, one per test binary, and a fresh database owned by
// a non-superuser role for each test.
//
// A package that uses it runs Main from its TestMain, so the server is stopped when the
// tests end. CIBA_PG_DSN names an existing server instead (a role that may CREATE
// DATABASE and CREATE ROLE). Without either, the tests fail: there is no skipping.
package testpg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Role is the non-superuser role the tests' databases belong to.
const Role = "ciba_test"

// Server is a running PostgreSQL.
type Server struct {
	// Admin is a superuser DSN (a role with CREATEDB and CREATEROLE for CIBA_PG_DSN).
	Admin string
	host  string
	port  string
	pass  string
	dir   string
	bin   string
	data  string
	cred  *syscall.Credential
	cmd   *exec.Cmd
	done  chan struct{}
}

var (
	once      sync.Once
	shared    *Server
	sharedErr error
	dbSeq     atomic.Int64
)

// Main runs the tests and stops the server if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Shared is the test binary's server, started on first use.
func Shared() (*Server, error) {
	once.Do(func() {
		if dsn := os.Getenv("CIBA_PG_DSN"); dsn != "" {
			shared, sharedErr = external(dsn)
			return
		}
		shared, sharedErr = Start()
	})
	return shared, sharedErr
}

// DSN makes a new, empty database owned by the non-superuser Role and returns a DSN
// that connects to it as that role. The database is dropped in t's cleanup.
func DSN(t testing.TB) string {
	t.Helper()
	s, err := Shared()
	if err != nil {
		t.Fatalf("PostgreSQL for the tests: %v", err)
	}
	dsn, err := s.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.dropDatabase(dsn) })
	return dsn
}

// Bin finds Debian's PostgreSQL binaries, the newest version first.
func Bin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/postgres): apt-get install postgresql, or set CIBA_PG_DSN")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start runs initdb and starts a server. PostgreSQL refuses to run as root, so as root
// it runs as the postgres user, which owns the directory.
func Start() (*Server, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	s, err := newServer(bin, "127.0.0.1", randomHex())
	if err != nil {
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.data, "-U", "postgres", "--auth-local=trust",
		"--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	initdb.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(s.dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	if err := s.admin(fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' NOSUPERUSER NOCREATEDB NOCREATEROLE`, Role, s.pass)); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// newServer sets out a server's directory (short: Unix socket paths are limited to 107
// bytes), owner and port, before its data directory is made.
func newServer(bin, host, pass string) (*Server, error) {
	dir, err := os.MkdirTemp("/tmp", "pg")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{dir: dir, host: host, pass: pass, bin: bin, data: filepath.Join(dir, "data"), cred: cred, port: strconv.Itoa(port)}
	s.Admin = fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable", dir, s.port)
	return s, nil
}

// start runs the server on its data directory and waits until it answers; a server that
// does not is stopped.
func (s *Server) start() error {
	if err := s.run(); err != nil {
		s.Stop()
		return err
	}
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// run starts the postmaster in its own process group, from a thread that stays for the
// life of the test binary: the parent-death signal (SIGKILL) then ends the server if the
// test binary dies without stopping it (a test timeout, a kill).
func (s *Server) run() error {
	bin, data, cred := s.bin, s.data, s.cred
	started := make(chan error, 1)
	s.done = make(chan struct{})
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the server
		defer close(s.done)
		cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
			"-c", "listen_addresses=127.0.0.1", "-c", "port="+s.port,
			"-c", "unix_socket_directories="+s.dir, "-c", "fsync=on", "-c", "synchronous_commit=on",
			"-c", "max_connections=200", "-c", "shared_buffers=32MB")
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		s.cmd = cmd
		started <- nil
		cmd.Wait()
		logf.Close()
	}()
	return <-started
}

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, s.Admin)
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("postgres exited:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within %v: %v", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Crash stops the server the way `pg_ctl stop -m immediate` does (SIGQUIT: no
// checkpoint, recovery from the WAL at the next start), or with SIGKILL of its process
// group if kill is set.
func (s *Server) Crash(kill bool) {
	if kill {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	} else {
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	// Children the postmaster left (after SIGKILL) end with their group. A signal is
	// delivered asynchronously, so wait until they have exited: a backend still exiting
	// holds the shared memory and a restart refuses with "pre-existing shared memory
	// block is still in use" (seen when the host is loaded).
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	for deadline := time.Now().Add(10 * time.Second); groupAlive(s.cmd.Process.Pid) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

// groupAlive tells whether a process of the group is still running (zombies, which have
// released their memory, do not count).
func groupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so read after its ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// Restart starts a crashed or stopped server again on its data and port.
func (s *Server) Restart() error {
	if s.bin == "" {
		return errors.New("testpg: only a server this package started can restart")
	}
	if err := s.run(); err != nil {
		return err
	}
	return s.waitReady(60 * time.Second)
}

// Stop ends the server (fast shutdown, then SIGKILL of its process group) and removes
// its directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// Port is the server's TCP port.
func (s *Server) Port() string { return s.port }

// NewDatabase creates an empty database owned by Role and returns its DSN.
func (s *Server) NewDatabase() (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := s.admin(`CREATE DATABASE ` + name + ` OWNER ` + Role + ` TEMPLATE template0`); err != nil {
		return "", err
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(Role, s.pass), Host: net.JoinHostPort(s.host, s.port),
		Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String(), nil
}

func (s *Server) dropDatabase(dsn string) {
	u, err := url.Parse(dsn)
	if err != nil {
		return
	}
	_ = s.admin(`DROP DATABASE IF EXISTS ` + strings.TrimPrefix(u.Path, "/") + ` WITH (FORCE)`)
}

// Exec runs a statement as the superuser, in database db ("" for the admin DSN's).
func (s *Server) Exec(db, sql string) error {
	cfg, err := pgx.ParseConfig(s.Admin)
	if err != nil {
		return err
	}
	if db != "" {
		cfg.Database = db
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql)
	return err
}

func (s *Server) admin(sql string) error { return s.Exec("", sql) }

// external uses an existing server: it makes the test role if it is missing.
func external(dsn string) (*Server, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("CIBA_PG_DSN does not parse")
	}
	// A fixed password: test binaries of several packages share the role at once.
	s := &Server{Admin: dsn, host: cfg.Host, port: strconv.Itoa(int(cfg.Port)), pass: "ciba-test-role"}
	err = s.admin(fmt.Sprintf(`DO $$ BEGIN
		IF EXISTS (SELECT FROM pg_roles WHERE rolname = '%[1]s') THEN
			ALTER ROLE %[1]s LOGIN PASSWORD '%[2]s';
		ELSE
			CREATE ROLE %[1]s LOGIN PASSWORD '%[2]s' NOSUPERUSER NOCREATEDB NOCREATEROLE;
		END IF;
	END $$`, Role, s.pass))
	if err != nil {
		// Another package's test binary may have made the role at the same moment.
		time.Sleep(100 * time.Millisecond)
		err = s.admin(fmt.Sprintf(`ALTER ROLE %s LOGIN PASSWORD '%s'`, Role, s.pass))
	}
	if err != nil {
		return nil, fmt.Errorf("CIBA_PG_DSN: %w", err)
	}
	return s, nil
}

// credential is who runs the server: the postgres user when we are root (which then owns
// dir), else nobody else (nil).
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
