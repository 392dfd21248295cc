package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/caddyciba/gateway/internal/backoff"
)

// Postgres is the Store that several gateway instances share: one table of keys, values
// and expiry times in a PostgreSQL database.
//
// Keys are bytea, so that their order is the bytes' order whatever the database's
// collation (as in Badger) and any key can be stored. Expiry is the database's clock:
// instances whose clocks differ still agree on what has expired.
type Postgres struct {
	pool *pgxpool.Pool
	stop context.CancelFunc
	done chan struct{}
}

// PostgresOptions tune OpenPostgres; the zero value is the production setting.
type PostgresOptions struct {
	// MaxConns caps the connections of this instance's pool; 0 is pgx's default
	// (the greater of 4 and the number of CPUs), unless the DSN sets pool_max_conns.
	MaxConns int
	// JanitorEvery is how often expired rows are deleted; default one minute.
	JanitorEvery time.Duration
}

const (
	// opTimeout bounds one operation, so a database that stops answering fails the
	// request instead of holding it forever.
	opTimeout = 15 * time.Second
	// scanBatch is how many rows a Scan reads per query: bounded memory, and no
	// connection held while the caller's function runs.
	scanBatch = 500
	// janitorBatch bounds the rows one janitor statement deletes (and locks).
	janitorBatch = 1000
)

// OpenPostgres connects to the database named by dsn (a PostgreSQL URL or key=value
// string, as pgx reads it), creates or migrates the schema and starts the janitor.
func OpenPostgres(dsn string, o PostgresOptions) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors quote the DSN, password included: say only what is wrong.
		return nil, errors.New("postgres: the dsn does not parse")
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = int32(min(o.MaxConns, math.MaxInt32))
	}
	// An acknowledged write must survive the database's crash, whatever the role's or the
	// server's default.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	cfg.ConnConfig.RuntimeParams["application_name"] = "caddyciba"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	every := o.JanitorEvery
	if every <= 0 {
		every = time.Minute
	}
	jctx, stop := context.WithCancel(context.Background())
	p := &Postgres{pool: pool, stop: stop, done: make(chan struct{})}
	go p.janitor(jctx, every)
	return p, nil
}

// Close stops the janitor and closes the connections.
func (p *Postgres) Close() error {
	p.stop()
	<-p.done
	p.pool.Close()
	return nil
}

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// live is the condition of a row that has not expired, by the database's clock.
const live = `(expires_at IS NULL OR expires_at > now())`

const (
	getSQL     = `SELECT val FROM ciba_kv WHERE key = $1 AND ` + live
	getManySQL = `SELECT key, val FROM ciba_kv WHERE key = ANY($1) AND ` + live
	putSQL     = `INSERT INTO ciba_kv (key, val, expires_at)
		VALUES ($1, $2, CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 microsecond' END)
		ON CONFLICT (key) DO UPDATE SET val = excluded.val, expires_at = excluded.expires_at`
	// putNewSQL inserts, or replaces a row only if it has expired: the row lock ON
	// CONFLICT takes makes the check and the write one step, so of two racing PutNews
	// exactly one changes a row.
	putNewSQL = putSQL + `
		WHERE ciba_kv.expires_at IS NOT NULL AND ciba_kv.expires_at <= now()`
	deleteSQL = `DELETE FROM ciba_kv WHERE key = $1`
)

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func pgGet(ctx context.Context, q querier, key string) ([]byte, error) {
	var val []byte
	err := q.QueryRow(ctx, getSQL, []byte(key)).Scan(&val)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if val == nil {
		val = []byte{}
	}
	return val, nil
}

func pgPut(ctx context.Context, q querier, key string, val []byte, ttl time.Duration) error {
	if val == nil {
		val = []byte{}
	}
	if _, err := q.Exec(ctx, putSQL, []byte(key), val, max(ttl, 0).Microseconds()); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

func pgDelete(ctx context.Context, q querier, key string) error {
	if _, err := q.Exec(ctx, deleteSQL, []byte(key)); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

func (p *Postgres) Get(key string) ([]byte, error) {
	ctx, cancel := opContext()
	defer cancel()
	return pgGet(ctx, p.pool, key)
}

func (p *Postgres) GetMany(keys []string, vals [][]byte) error {
	ctx, cancel := opContext()
	defer cancel()
	clear(vals)
	args := make([][]byte, len(keys))
	for i, k := range keys {
		args[i] = []byte(k)
	}
	rows, err := p.pool.Query(ctx, getManySQL, args)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer rows.Close()
	var key, val []byte
	for rows.Next() {
		if err := rows.Scan(&key, &val); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if val == nil {
			val = []byte{}
		}
		// A key asked for twice is answered in each place.
		for i, k := range keys {
			if k == string(key) {
				vals[i] = val
			}
		}
		key, val = nil, nil
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// Put, PutNew and Delete are single statements: a blind write cannot be half of a
// serialization anomaly, and one that collides with a serializable Update makes that
// Update retry.
func (p *Postgres) Put(key string, val []byte, ttl time.Duration) error {
	return p.retry(func(ctx context.Context) error { return pgPut(ctx, p.pool, key, val, ttl) })
}

func (p *Postgres) PutNew(key string, val []byte, ttl time.Duration) error {
	if val == nil {
		val = []byte{}
	}
	return p.retry(func(ctx context.Context) error {
		tag, err := p.pool.Exec(ctx, putNewSQL, []byte(key), val, max(ttl, 0).Microseconds())
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrExists
		}
		return nil
	})
}

func (p *Postgres) Delete(key string) error {
	return p.retry(func(ctx context.Context) error { return pgDelete(ctx, p.pool, key) })
}

// Forget is Delete: a commit that skipped the wait for the disk (synchronous_commit off)
// would need a transaction around the statement, three more round trips than it saves.
func (p *Postgres) Forget(key string) error { return p.Delete(key) }

// Update runs fn in a SERIALIZABLE transaction, again while PostgreSQL reports that it
// lost a race, until conflictDeadline.
func (p *Postgres) Update(fn func(Txn) error) error {
	return p.retry(func(ctx context.Context) error {
		tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		defer tx.Rollback(context.Background())
		t := &pgTxn{ctx: ctx, tx: tx}
		if err := fn(t); err != nil {
			// fn may have wrapped or swallowed the statement's error: a lost race
			// seen by any statement is what makes this attempt worth another.
			if t.lost != nil {
				return t.lost
			}
			return err
		}
		if t.lost != nil {
			return t.lost
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return nil
	})
}

// retry runs attempt until it succeeds, fails for a reason other than a lost race, or
// conflictDeadline passes. Each attempt has its own opTimeout.
func (p *Postgres) retry(attempt func(ctx context.Context) error) error {
	deadline := time.Now().Add(conflictDeadline)
	for n := 1; ; n++ {
		ctx, cancel := opContext()
		err := attempt(ctx)
		cancel()
		if !Retryable(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(backoff.Wait(200*time.Microsecond, 20*time.Millisecond, n))
	}
}

// Retryable reports whether err is PostgreSQL's word that a transaction lost a race and
// would succeed if run again: a serialization failure, a deadlock, or a unique key that
// a concurrent transaction inserted first.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01", "23505":
		return true
	}
	return false
}

type pgTxn struct {
	ctx  context.Context
	tx   pgx.Tx
	lost error
}

func (t *pgTxn) note(err error) error {
	if t.lost == nil && Retryable(err) {
		t.lost = err
	}
	return err
}

func (t *pgTxn) Get(key string) ([]byte, error) {
	val, err := pgGet(t.ctx, t.tx, key)
	return val, t.note(err)
}

func (t *pgTxn) Put(key string, val []byte, ttl time.Duration) error {
	return t.note(pgPut(t.ctx, t.tx, key, val, ttl))
}

func (t *pgTxn) Delete(key string) error { return t.note(pgDelete(t.ctx, t.tx, key)) }

// Scan reads the prefix's keys in batches of scanBatch, each after the last key of the
// one before (keyset pagination): every batch is a fresh snapshot, so a Scan that runs
// while others write sees each key as it is when its batch is read.
func (p *Postgres) Scan(prefix string, fn func(key string, val []byte) error) error {
	lower, upper := []byte(prefix), prefixEnd([]byte(prefix))
	first := true
	for {
		batch, err := p.scanBatch(lower, upper, first)
		if err != nil {
			return err
		}
		for _, kv := range batch {
			if err := fn(string(kv.key), kv.val); err != nil {
				return err
			}
		}
		if len(batch) < scanBatch {
			return nil
		}
		lower, first = batch[len(batch)-1].key, false
	}
}

type kv struct{ key, val []byte }

func (p *Postgres) scanBatch(lower, upper []byte, first bool) ([]kv, error) {
	from := `key > $1`
	if first {
		from = `key >= $1`
	}
	// A NULL upper bound (a prefix of 0xff bytes only, or none) leaves the range open.
	sql := `SELECT key, val FROM ciba_kv WHERE ` + from + ` AND ($2::bytea IS NULL OR key < $2) AND ` + live +
		` ORDER BY key LIMIT ` + fmt.Sprint(scanBatch)
	ctx, cancel := opContext()
	defer cancel()
	rows, err := p.pool.Query(ctx, sql, lower, upper)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	out := make([]kv, 0, 16)
	for rows.Next() {
		var r kv
		if err := rows.Scan(&r.key, &r.val); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: %w", err)
		}
		if r.val == nil {
			r.val = []byte{}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return out, nil
}

// prefixEnd is the least key greater than every key with the prefix, or nil when there
// is none (an empty prefix, or one of 0xff bytes only).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// janitor deletes expired rows every interval until ctx ends. Rows are already invisible
// once expired; this only gives the space back. Batches are small and skip rows another
// instance's janitor (or a writer) holds, so any number of instances can run it.
func (p *Postgres) janitor(ctx context.Context, every time.Duration) {
	defer close(p.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for ctx.Err() == nil {
			n, err := p.sweep(ctx)
			if err != nil || n < janitorBatch {
				break
			}
		}
	}
}

// sweep deletes one batch of expired rows and returns how many.
func (p *Postgres) sweep(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	// The outer condition is checked again on the locked row: a row rewritten with a new
	// expiry between the two reads stays.
	tag, err := p.pool.Exec(ctx, `DELETE FROM ciba_kv k USING (
			SELECT key FROM ciba_kv WHERE expires_at <= now() LIMIT `+fmt.Sprint(janitorBatch)+` FOR UPDATE SKIP LOCKED
		) e WHERE k.key = e.key AND k.expires_at <= now()`)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
