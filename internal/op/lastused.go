package op

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// A consent's last use is noted at most once a minute per gateway instance: the dashboard
// tells the customer when the TPP last read their data, to the minute, and a busy TPP costs
// no store write per request.
const (
	useEvery = time.Minute
	// useNotesCap bounds the notes an instance keeps of when it last wrote; past it they
	// are forgotten, which costs one extra write per consent.
	useNotesCap = 65536
	// useKeep is how long a last-use record is kept after the last use.
	useKeep = 400 * 24 * time.Hour
)

type useNotes struct {
	mu   sync.RWMutex
	last map[string]int64 // consent id → unix seconds of the last write
}

// due tells whether a write is due for the consent at now, and if so notes it as written.
func (n *useNotes) due(consentID string, now int64) bool {
	n.mu.RLock()
	prev, ok := n.last[consentID]
	n.mu.RUnlock()
	if ok && now-prev < int64(useEvery/time.Second) {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Another request may have noted it in between.
	if prev, ok := n.last[consentID]; ok && now-prev < int64(useEvery/time.Second) {
		return false
	}
	if n.last == nil || len(n.last) >= useNotesCap {
		n.last = make(map[string]int64)
	}
	n.last[consentID] = now
	return true
}

// consentUses keeps each consent's last use at the gate under "consentuse/<ConsentId>",
// as decimal unix seconds, for useKeep after the use.
type consentUses struct{}

func useKey(consentID string) string { return "consentuse/" + consentID }

func (consentUses) note(t store.Txn, consentID string, at time.Time) error {
	return t.Put(useKey(consentID), strconv.AppendInt(nil, at.Unix(), 10), useKeep)
}

// last is the consent's last noted use; store.ErrNotFound when none is kept.
func (consentUses) last(rd store.Reader, consentID string) (time.Time, error) {
	buf, err := rd.Get(useKey(consentID))
	if err != nil {
		return time.Time{}, err
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(buf)), 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(sec, 0), nil
}

// NoteUse records that the consent's token was admitted at the gate. It never waits for
// the store: the write, when one is due, runs after the answer, and a failed write only
// leaves the previous time showing. It allocates nothing when no write is due.
func (p *Provider) NoteUse(consentID string) {
	now := p.Now()
	if !p.customer.uses.due(consentID, now.Unix()) {
		return
	}
	if p.background.Err() != nil {
		return
	}
	p.inflight.Add(1)
	go func() {
		defer p.inflight.Done()
		_ = uses.note(p.Store, consentID, now)
	}()
}

// LastUse is when the consent was last admitted at the gate, to the minute, or the zero
// time.
func (p *Provider) LastUse(consentID string) time.Time {
	at, err := uses.last(p.Store, consentID)
	if err != nil {
		return time.Time{}
	}
	return at
}
