package op

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/notifier"
)

// Deliveries (device notifications, ping and push callbacks) wait in the store, not in
// goroutines: one record per delivery under delivery/q/<due>/<id>, so a scan in key order
// meets the due ones first. A fixed pool of workers claims a due record by moving it to
// now+leaseTTL in one transaction — two workers, or two instances on one store, never
// make the same attempt at once, and a worker that dies leaves the record due again
// after the lease. The payload carries one-time tokens (device link, push tokens,
// notification token), so it is sealed with a key kept in the store: a record read alone
// (a log, a dump of the prefix) does not reveal them.

// DefaultMaxDeliveries is the worker pool's size when the config sets none: attempts
// mostly wait on the network, so a few per core.
const DefaultMaxDeliveries = 16

const (
	// leaseTTL outlasts one attempt, so a record is claimed again only after its worker
	// gave up on it.
	leaseTTL = notifier.AttemptTimeout + 5*time.Second
	// deliveryPoll is how often an idle worker looks for records made by another instance
	// or come due after a backoff.
	deliveryPoll = 500 * time.Millisecond
	// claimBatch bounds the due keys one scan collects.
	claimBatch = 16
)

// Kinds of delivery.
const (
	kindDevice   = "device"
	kindCallback = "callback"
)

// delivery is one queued delivery. Due is in the key, not here, so a claim rewrites only the key.
type delivery struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Attempts    int       `json:"attempts,omitempty"`
	Channel     int       `json:"channel,omitempty"`
	Expires     time.Time `json:"exp"`
	ClientID    string    `json:"client_id"`
	ConsentID   string    `json:"consent_id,omitempty"`
	Mode        string    `json:"mode,omitempty"`
	Interaction string    `json:"interaction,omitempty"`
	Sealed      []byte    `json:"sealed"`
}

// callbackPayload is the sealed part of a ping or push.
type callbackPayload struct {
	Bearer string          `json:"bearer"`
	Body   json.RawMessage `json:"body"`
}

// deliveryQueue is the provider's side of the queue: the pool and the sealing key.
type deliveryQueue struct {
	once sync.Once
	wake chan struct{}
	// free holds one token per attempt in flight and work carries leased records to the
	// pool; handMu and closed keep a hand-off from meeting a pool that has stopped.
	free   chan struct{}
	work   chan claimed
	handMu sync.Mutex
	closed bool
	mu     sync.Mutex
	aead   cipher.AEAD
	// attemptTimeout bounds one attempt; notifier.AttemptTimeout when zero (tests shorten it).
	attemptTimeout time.Duration
}

// StartDeliveries starts the worker pool; records left by an earlier config or instance
// are picked up from the store. It is also started by the first delivery.
func (p *Provider) StartDeliveries() {
	q := &p.deliveries
	q.once.Do(func() {
		n := p.MaxDeliveries
		if n <= 0 {
			n = DefaultMaxDeliveries
		}
		q.wake = make(chan struct{}, 1)
		q.free, q.work = make(chan struct{}, n), make(chan claimed, n)
		if p.background.Err() != nil {
			q.closed = true
			return
		}
		p.inflight.Add(1)
		go p.dispatch(n)
	})
}

// enqueue stores a delivery leased to this instance and hands it to a worker: a failure
// is logged, the flow goes on without it.
func (p *Provider) enqueue(d *delivery, payload any) {
	aead, err := p.deliveryAEAD()
	var c claimed
	if err == nil {
		err = p.Store.Update(func(t store.Txn) error {
			var err error
			c, err = queueLeased(t, aead, d, payload, p.Now())
			return err
		})
	}
	if err != nil {
		p.deliveryLog.Error("delivery not queued", zap.String("kind", d.Kind),
			zap.String("client_id", d.ClientID), zap.Error(err))
		return
	}
	p.handOff(c)
}

// queueLeased seals the payload into d and writes the record in t, already leased to this
// instance: the first attempt needs no claim, so no second write waits on the disk before
// it. Should the instance die before handing it off, the lease runs out and any instance
// makes the attempt.
func queueLeased(t store.Txn, aead cipher.AEAD, d *delivery, payload any, now time.Time) (claimed, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return claimed{}, err
	}
	d.ID = base64.RawURLEncoding.EncodeToString(id[:])
	plain, err := json.Marshal(payload)
	if err != nil {
		return claimed{}, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return claimed{}, err
	}
	d.Sealed = aead.Seal(nonce, nonce, plain, []byte(d.ID))
	leased := now.Add(leaseTTL)
	return claimed{d: d, leased: deliveryKey(leased, d.ID)}, deliveries.put(t, d, leased, now)
}

// handOff gives a record this instance has just leased to a free worker; with none free,
// or the pool stopped (a reload), the record is made due now for whichever worker or
// instance is free first.
func (p *Provider) handOff(c claimed) {
	p.StartDeliveries()
	q := &p.deliveries
	q.handMu.Lock()
	handed := false
	if !q.closed {
		select {
		case q.free <- struct{}{}:
			q.work <- c // never blocks: free bounds what is in flight
			handed = true
		default:
		}
	}
	q.handMu.Unlock()
	if handed {
		return
	}
	now := p.Now()
	if err := deliveries.reschedule(p.Store, c.leased, c.d, now, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.deliveryLog.Error("delivery queue", zap.Error(err))
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// deliveryAEAD loads, or makes once for every instance on the store, the sealing key.
func (p *Provider) deliveryAEAD() (cipher.AEAD, error) {
	q := &p.deliveries
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.aead != nil {
		return q.aead, nil
	}
	key, err := deliveries.sealingKey(p.Store)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if q.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return q.aead, nil
}

func (p *Provider) open(d *delivery, into any) error {
	aead, err := p.deliveryAEAD()
	if err != nil {
		return err
	}
	if len(d.Sealed) < aead.NonceSize() {
		return errors.New("sealed payload too short")
	}
	plain, err := aead.Open(nil, d.Sealed[:aead.NonceSize()], d.Sealed[aead.NonceSize():], []byte(d.ID))
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, into)
}

// claimed is a leased record handed from the dispatcher to a worker.
type claimed struct {
	d      *delivery
	leased string
}

// dispatch is the one goroutine that scans the queue: it claims a due record only when a
// worker is free, so at most n records are leased by this instance at a time, and the
// scans (and the store's prefetching under them) do not multiply with the pool.
func (p *Provider) dispatch(n int) {
	defer p.inflight.Done()
	q := &p.deliveries
	free, work := q.free, q.work
	p.inflight.Add(n)
	for range n {
		go p.deliveryWorker(work, free)
	}
	defer func() {
		// Records handed off but not begun are attempted by the workers as closed, which
		// makes them due now for the next config or another instance.
		q.handMu.Lock()
		q.closed = true
		close(work)
		q.handMu.Unlock()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var due []string
	for {
		select {
		case free <- struct{}{}:
		case <-p.background.Done():
			return
		}
		for {
			if p.background.Err() != nil {
				return
			}
			var next time.Time
			if len(due) == 0 {
				var err error
				if due, next, err = p.dueKeys(); err != nil && p.background.Err() == nil {
					p.deliveryLog.Error("delivery queue", zap.Error(err))
				}
			}
			var c claimed
			for len(due) > 0 && c.d == nil {
				var err error
				c.d, c.leased, err = p.claim(due[0], p.Now())
				due = due[1:]
				if err != nil && p.background.Err() == nil {
					p.deliveryLog.Error("delivery queue", zap.Error(err))
				}
			}
			if c.d != nil {
				work <- c // never blocks: free bounds what is in flight
				break
			}
			if len(due) > 0 {
				continue
			}
			wait := deliveryPoll
			if !next.IsZero() {
				wait = min(wait, next.Sub(p.Now()))
			}
			timer.Reset(max(wait, time.Millisecond))
			select {
			case <-p.background.Done():
				return
			case <-p.deliveries.wake:
			case <-timer.C:
			}
		}
	}
}

// deliveryWorker attempts what the dispatcher hands it until the provider closes.
func (p *Provider) deliveryWorker(work <-chan claimed, free <-chan struct{}) {
	defer p.inflight.Done()
	for c := range work {
		p.attemptDelivery(c.d, c.leased)
		<-free
	}
}

// dueKeys lists up to claimBatch due keys in due order; with none, when the next is due.
// Expired records met on the way are dropped together in one transaction.
func (p *Provider) dueKeys() (due []string, next time.Time, err error) {
	now := p.Now()
	due, expired, next, err := deliveries.scanDue(p.Store, now, claimBatch)
	if len(expired) > 0 {
		p.dropExpired(expired, now)
		if len(due) == 0 {
			next = now // more may follow
		}
	}
	return due, next, err
}

// dropExpired deletes the expired records among keys that are still there.
func (p *Provider) dropExpired(keys []string, now time.Time) {
	gone, err := deliveries.dropExpired(p.Store, keys, now)
	if err != nil {
		p.deliveryLog.Error("delivery queue", zap.Error(err))
		return
	}
	for i := range gone {
		p.logDelivery(&gone[i], "expired", nil)
	}
}

// claim moves one record to now+leaseTTL; nil when another instance took it first or it
// expired (then it is dropped).
func (p *Provider) claim(key string, now time.Time) (*delivery, string, error) {
	d, leased, expired, err := deliveries.claim(p.Store, key, now)
	if err != nil {
		return nil, "", err
	}
	if expired {
		p.logDelivery(d, "expired", nil)
		return nil, "", nil
	}
	if leased == "" {
		return nil, "", nil
	}
	return d, leased, nil
}

// attemptDelivery makes one attempt and then deletes the record, or moves it to its next
// due time: after the backoff, or at once to the next channel after a final refusal.
func (p *Provider) attemptDelivery(d *delivery, leased string) {
	timeout := p.deliveries.attemptTimeout
	if timeout <= 0 {
		timeout = notifier.AttemptTimeout
	}
	ctx, cancel := context.WithDeadline(p.background, minTime(d.Expires, p.Now().Add(timeout)))
	defer cancel()
	var retry bool
	var backoff time.Duration
	var err error
	done := false
	switch d.Kind {
	case kindDevice:
		retry, backoff, err = p.attemptDevice(ctx, d)
		if err != nil && !retry && d.Channel+1 < len(p.Channels) && p.background.Err() == nil {
			// Refused for good by this channel: the next one is tried at once.
			p.logDelivery(d, "failed", err)
			d.Channel, d.Attempts, retry, backoff = d.Channel+1, 0, true, 0
		}
	case kindCallback:
		retry, backoff, err = p.attemptCallback(ctx, d)
	default:
		err = fmt.Errorf("unknown delivery kind %q", d.Kind)
	}
	now := p.Now()
	switch {
	case err == nil:
		done = true
	case p.background.Err() != nil:
		// Closed mid-attempt (a reload): the attempt does not count, the next config's
		// workers make it at once.
		retry, backoff = true, 0
		d.Attempts--
	case !retry || !now.Add(backoff).Before(d.Expires):
		p.logDelivery(d, "failed", err)
		done = true
	}
	if done {
		if err == nil {
			p.logDelivery(d, "delivered", nil)
		}
		if derr := deliveries.remove(p.Store, leased); derr != nil {
			p.deliveryLog.Error("delivery queue", zap.Error(derr))
		}
		return
	}
	d.Attempts++
	uerr := deliveries.reschedule(p.Store, leased, d, now.Add(backoff), now)
	if uerr != nil && !errors.Is(uerr, store.ErrNotFound) {
		p.deliveryLog.Error("delivery queue", zap.Error(uerr))
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (p *Provider) attemptDevice(ctx context.Context, d *delivery) (bool, time.Duration, error) {
	if d.Channel >= len(p.Channels) {
		return false, 0, errors.New("no channel left")
	}
	var n notifier.Notification
	if err := p.open(d, &n); err != nil {
		return false, 0, err
	}
	ch := p.Channels[d.Channel]
	a, ok := ch.(notifier.Attempter)
	if !ok {
		// A channel that keeps its own retries gets one attempt's time.
		return false, 0, ch.Notify(ctx, &n)
	}
	retry, err := a.Attempt(ctx, &n)
	return retry, a.Backoff(d.Attempts + 1), err
}

func (p *Provider) attemptCallback(ctx context.Context, d *delivery) (bool, time.Duration, error) {
	c := p.Clients.Lookup(d.ClientID)
	if c == nil || c.NotificationEndpoint == "" {
		return false, 0, errors.New("the client has no notification endpoint any more")
	}
	var cb callbackPayload
	if err := p.open(d, &cb); err != nil {
		return false, 0, err
	}
	retry, err := p.callback.Attempt(ctx, c.NotificationEndpoint, cb.Bearer, cb.Body)
	return retry, p.callback.Backoff(d.Attempts + 1), err
}

// logDelivery records an outcome the way the flow log and the metrics always have.
func (p *Provider) logDelivery(d *delivery, outcome string, err error) {
	ctx := WithInteraction(context.Background(), d.Interaction)
	switch d.Kind {
	case kindDevice:
		name := "none"
		if d.Channel < len(p.Channels) {
			name = p.Channels[d.Channel].Name()
		}
		fields := []zap.Field{zap.String("channel", name)}
		step, level := "ok", zapcore.InfoLevel
		if err != nil || outcome != "delivered" {
			step, level = "failed", zapcore.WarnLevel
			if err != nil {
				fields = append(fields, zap.Error(err))
			}
		}
		notifierDeliveries.WithLabelValues(name, map[bool]string{true: "delivered", false: "failed"}[step == "ok"]).Inc()
		p.logOutcome(ctx, level, "device_notify", d.ClientID, d.ConsentID, step, fields...)
	case kindCallback:
		if err != nil {
			outcome = err.Error()
		}
		p.deliveryLog.Info("client notification", zap.String("mode", d.Mode),
			zap.String("interaction_id", interactionOf(ctx)),
			zap.String("client_id", d.ClientID), zap.String("consent_id", d.ConsentID),
			zap.String("outcome", outcome))
	}
}
