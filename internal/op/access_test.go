package op

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/users"
)

// TestNoteUse: a consent's use is written once per minute per instance, after the answer;
// a use that writes nothing allocates nothing.
func TestNoteUse(t *testing.T) {
	p := fuzzProvider(t)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	p.Now = func() time.Time { return now }
	p.NoteUse("aac-1")
	p.inflight.Wait()
	if got := p.LastUse("aac-1"); !got.Equal(now) {
		t.Fatalf("last use %v, want %v", got, now)
	}
	later := now.Add(59 * time.Second)
	p.Now = func() time.Time { return later }
	if allocs := testing.AllocsPerRun(100, func() { p.NoteUse("aac-1") }); allocs != 0 {
		t.Errorf("a use within the minute allocates %.0f times", allocs)
	}
	p.inflight.Wait()
	if got := p.LastUse("aac-1"); !got.Equal(now) {
		t.Fatalf("a use within the minute was written: %v", got)
	}
	later = now.Add(61 * time.Second)
	p.NoteUse("aac-1")
	p.inflight.Wait()
	if got := p.LastUse("aac-1"); !got.Equal(later.Truncate(time.Second)) {
		t.Fatalf("a use a minute later: %v", got)
	}
	if !p.LastUse("aac-never").IsZero() {
		t.Fatal("an unused consent has a last use")
	}
}

func TestMaskedNumber(t *testing.T) {
	t.Parallel()
	dir, err := users.Parse([]byte(`[{"subject":"s","login_hints":["h"],"accounts":[
		{"AccountId":"1","Account":[{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200112345698"}]},
		{"AccountId":"2","Account":{"Identification":"GB29 NWBK 6016 1331 9268 19"}},
		{"AccountId":"3"},
		{"AccountId":"4","Account":[{"Identification":"123"}]},
		{"AccountId":"5","Account":[]},
		{"AccountId":"6","Account":"80200112345698"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"••••5698", "••••6819", "", "", "", ""}
	for i, a := range dir.BySubject("s").Accounts {
		if got := maskedNumber(a); got != want[i] {
			t.Errorf("account %s: %q, want %q", a.AccountID, got, want[i])
		}
	}
}

// TestSessionCookieSecure: the session cookie is Secure everywhere but plain HTTP to a
// loopback host, where a browser would never send a Secure cookie back.
func TestSessionCookieSecure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host   string
		tls    bool
		secure bool
	}{
		{"localhost:8080", false, false},
		{"127.0.0.1:8080", false, false},
		{"[::1]:8080", false, false},
		{"localhost", true, true},
		{"bank.example", false, true},
		{"localhost.bank.example", false, true},
		{"10.0.0.1:80", false, true},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://"+tc.host+PathAccess, nil)
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := !loopbackHTTP(r); got != tc.secure {
			t.Errorf("%s (TLS %v): Secure %v, want %v", tc.host, tc.tls, got, tc.secure)
		}
	}
}

// TestUseNotesConcurrent: of many gated requests of one consent at once, one writes.
func TestUseNotesConcurrent(t *testing.T) {
	t.Parallel()
	var n useNotes
	var wg sync.WaitGroup
	var writes atomic.Int32
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n.due("aac-1", 1000) {
				writes.Add(1)
			}
		}()
	}
	wg.Wait()
	if writes.Load() != 1 {
		t.Fatalf("%d writes", writes.Load())
	}
}
