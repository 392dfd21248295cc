package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The bank behind the gateway answers by the request's X-Bench-Shape header, which
// reverse_proxy passes on: the same path serves every scenario's answer.
const shapeHeader, idHeader = "X-Bench-Shape", "X-Bench-Id"

// kept is the consented account; every other item is some other customer's.
const kept = "22289"

// item is one UK OB transaction of the account, about 400 bytes.
func item(b *bytes.Buffer, account, id string) {
	fmt.Fprintf(b, `{"AccountId":"%s","TransactionId":"%s","BookingDateTime":"2026-11-01T10:00:00+00:00",`+
		`"Amount":{"Amount":"12.00","Currency":"GBP"},"CreditDebitIndicator":"Debit","Status":"Booked",`+
		`"TransactionInformation":"card payment %s, a description long enough to be typical",`+
		`"DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345"}}`, account, id, id)
}

const (
	head = `{"Data":{"Transaction":[`
	tail = `]},"Links":{"Self":"https://bank.example/transactions"},"Meta":{"TotalPages":1}}`
)

// list is a valid transactions answer of about size bytes, 1 % of its items kept.
func list(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 1024)
	b.WriteString(head)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		account := fmt.Sprint(50000 + i%100)
		if i%100 == 7 {
			account = kept
		}
		item(&b, account, fmt.Sprint("t-", i))
	}
	b.WriteString(tail)
	return b.Bytes()
}

// hugeItem is an answer whose one kept item carries a size-byte string.
func hugeItem(size int) []byte {
	return []byte(head + `{"AccountId":"` + kept + `","TransactionId":"h","TransactionInformation":"` +
		strings.Repeat("x", size) + `"}` + tail)
}

// hugeMeta is an answer of one small item and a size-byte Meta member.
func hugeMeta(size int) []byte {
	var b bytes.Buffer
	b.WriteString(head)
	item(&b, kept, "m")
	b.WriteString(`]},"Links":{"Self":"/t"},"Meta":{"TotalPages":1,"Note":"` + strings.Repeat("y", size) + `"}}`)
	return b.Bytes()
}

// bank is the upstream: fixed answers by shape and trickled answers that note when the
// kept item left.
type bank struct {
	addr   string
	bodies map[string][]byte

	mu   sync.Mutex
	sent map[string]time.Time // trickle id → when the kept item was flushed
}

func startBank(bodies map[string][]byte) (*bank, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &bank{addr: l.Addr().String(), bodies: bodies, sent: map[string]time.Time{}}
	go http.Serve(l, b)
	return b, nil
}

func (b *bank) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	shape := r.Header.Get(shapeHeader)
	if shape == "trickle" {
		b.trickle(w, r.Header.Get(idHeader))
		return
	}
	body, ok := b.bodies[shape]
	if !ok {
		http.Error(w, "unknown shape", http.StatusBadRequest)
		return
	}
	w.Write(body)
}

// Trickle pacing: 10 KB every 100 ms is 100 KB/s; the kept item follows 20 KB of other
// customers' items and 200 KB more follow it.
const (
	trickleChunk  = 10_000
	trickleTick   = 100 * time.Millisecond
	trickleBefore = 2
	trickleAfter  = 20
)

func marker(id string) string { return "kept-marker-" + id }

func (b *bank) trickle(w http.ResponseWriter, id string) {
	rc := http.NewResponseController(w)
	chunk := func(n int) []byte {
		var c bytes.Buffer
		for i := 0; c.Len() < trickleChunk; i++ {
			c.WriteByte(',')
			item(&c, "60001", fmt.Sprintf("d-%d-%d", n, i))
		}
		return c.Bytes()
	}
	send := func(p []byte) bool {
		if _, err := w.Write(p); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	var first bytes.Buffer
	first.WriteString(head)
	item(&first, "60001", "d-first")
	if !send(first.Bytes()) {
		return
	}
	for n := range trickleBefore {
		time.Sleep(trickleTick)
		if !send(chunk(n)) {
			return
		}
	}
	time.Sleep(trickleTick)
	var k bytes.Buffer
	k.WriteByte(',')
	item(&k, kept, marker(id))
	if !send(k.Bytes()) {
		return
	}
	b.mu.Lock()
	b.sent[id] = time.Now()
	b.mu.Unlock()
	for n := range trickleAfter {
		time.Sleep(trickleTick)
		if !send(chunk(trickleBefore + n)) {
			return
		}
	}
	send([]byte(tail))
}

func (b *bank) sentAt(id string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.sent[id]
	return t, ok
}

// blackHole accepts connections and never answers; it counts them and holds them open
// until closed.
type blackHole struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startBlackHole() (*blackHole, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &blackHole{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	return h, nil
}

func (h *blackHole) URL() string { return "http://" + h.l.Addr().String() + "/" }

func (h *blackHole) accepted() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

func (h *blackHole) Close() {
	h.l.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
}
