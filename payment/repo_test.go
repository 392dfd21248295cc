package payment

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/store"
)

func newRepo(t testing.TB) *Repo {
	t.Helper()
	s, err := store.OpenBadger(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &Repo{Store: s}
}

func savedDomestic(t *testing.T, r *Repo) *Consent {
	t.Helper()
	c := sampleDomestic(t)
	if err := r.SaveDomestic(c, now); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDomesticLifecycle(t *testing.T) {
	r := newRepo(t)
	c := savedDomestic(t, r)
	if len(c.ID) > 128 || c.Status != AwaitingAuthorisation || !c.CutOff.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("new consent %+v (the CompletionDateTime bounds the cut-off)", c)
	}
	if err := r.SaveDomestic(c, now); !errors.Is(err, store.ErrExists) {
		t.Fatalf("saved twice: %v", err)
	}
	if _, err := r.DomesticFor("tpp-2", c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another client reads it: %v", err)
	}
	if _, _, err := r.Reserve("tpp-1", c.ID, now); !errors.Is(err, ErrNotAuthorised) {
		t.Fatalf("reserve before authorisation: %v", err)
	}
	// The Initiation fixes the debtor: another account is refused, none takes it.
	other := &Account{SchemeName: SchemeSortCodeAccountNumber, Identification: "99999999999999"}
	if _, err := r.AuthoriseDomestic(c.ID, "sub-alice", Debtor{AccountID: "a1", Account: other}, now); !errors.Is(err, ErrDebtorFixed) {
		t.Fatalf("other debtor: %v", err)
	}
	if _, err := r.AuthoriseDomestic(c.ID, "sub-alice", Debtor{}, now); !errors.Is(err, ErrNoDebtor) {
		t.Fatalf("no debtor: %v", err)
	}
	got, err := r.AuthoriseDomestic(c.ID, "sub-alice", Debtor{AccountID: "a1"}, now)
	if err != nil || got.Status != Authorised || got.Debtor.Identification != "11280001234567" || got.DebtorAccountID != "a1" {
		t.Fatalf("authorise: %+v %v", got, err)
	}
	if _, err := r.RejectDomestic(c.ID, now); !errors.Is(err, ErrNotAwaiting) {
		t.Fatalf("reject after authorise: %v", err)
	}
	if _, _, err := r.Reserve("tpp-2", c.ID, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another client reserves: %v", err)
	}
	res, _, err := r.Reserve("tpp-1", c.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Reserve("tpp-1", c.ID, now); !errors.Is(err, ErrReserved) {
		t.Fatalf("second reserve: %v", err)
	}
	// The bank failed: released, reserved again, consumed once.
	if err := r.Release(res, now); err != nil {
		t.Fatal(err)
	}
	if err := r.Release(res, now); !errors.Is(err, ErrNotReserved) {
		t.Fatalf("second release: %v", err)
	}
	res2, _, err := r.Reserve("tpp-1", c.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Consume(res, "p-1", now); !errors.Is(err, ErrNotReserved) {
		t.Fatalf("a stale reservation consumes: %v", err)
	}
	got, err = r.Consume(res2, "p-1", now)
	if err != nil || got.Status != Consumed || got.PaymentID != "p-1" {
		t.Fatalf("consume: %+v %v", got, err)
	}
	if _, _, err := r.Reserve("tpp-1", c.ID, now); !errors.Is(err, ErrNotAuthorised) {
		t.Fatalf("reserve after consume: %v", err)
	}
	if p := Problem(ErrNotAuthorised); p.Items[0].ErrorCode != obie.CodeInvalidConsent {
		t.Fatalf("Problem: %+v", p)
	}
	if stored, _ := r.Domestic(c.ID); stored.Status != Consumed || stored.Reservation != "" {
		t.Fatalf("stored %+v", stored)
	}
}

func TestDomesticCutOff(t *testing.T) {
	r := newRepo(t)
	c := savedDomestic(t, r)
	late := c.CutOff
	if c.StatusAt(late) != Rejected || !c.StatusChangedAt(late).Equal(c.CutOff) {
		t.Fatalf("awaiting past cut-off reads %s", c.StatusAt(late))
	}
	if _, err := r.AuthoriseDomestic(c.ID, "s", Debtor{AccountID: "a1"}, late); !errors.Is(err, ErrAfterCutOff) {
		t.Fatalf("authorise after cut-off: %v", err)
	}
	if _, err := r.AuthoriseDomestic(c.ID, "s", Debtor{AccountID: "a1"}, now); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.Reserve("tpp-1", c.ID, late)
	if !errors.Is(err, ErrAfterCutOff) || Problem(err).Items[0].ErrorCode != obie.CodeAfterCutOff {
		t.Fatalf("reserve after cut-off: %v", err)
	}
	if _, err := r.RejectDomestic("pdc-missing", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

// TestReserveRace: 50 concurrent Reserves of one consent on real Badger, one wins.
func TestReserveRace(t *testing.T) {
	r := newRepo(t)
	c := savedDomestic(t, r)
	if _, err := r.AuthoriseDomestic(c.ID, "s", Debtor{AccountID: "a1"}, now); err != nil {
		t.Fatal(err)
	}
	var won, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, err := r.Reserve("tpp-1", c.ID, now)
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, ErrReserved):
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if won.Load() != 1 || refused.Load() != 49 {
		t.Fatalf("%d reserved, %d refused", won.Load(), refused.Load())
	}
}

func TestIdempotency(t *testing.T) {
	r := newRepo(t)
	k := IdempotencyKey{Endpoint: "payments", ClientID: "tpp-1", Key: "FRESCO.21302.GFX.20"}
	body := []byte(`{"a":1,"b":[2]}`)
	if a, err := r.Claim(k, body, now); a != nil || err != nil {
		t.Fatalf("first claim: %v %v", a, err)
	}
	if _, err := r.Claim(k, []byte(`{"b":[2], "a":1}`), now); !errors.Is(err, ErrInProgress) {
		t.Fatalf("repeat while running (same body, other order): %v", err)
	}
	if _, err := r.Claim(k, []byte(`{"a":2,"b":[2]}`), now); !errors.Is(err, ErrIdempotencyMismatch) {
		t.Fatalf("other body: %v", err)
	}
	// The same key of another client or endpoint is another key.
	for _, other := range []IdempotencyKey{{"payments", "tpp-2", k.Key}, {"consents", "tpp-1", k.Key}} {
		if a, err := r.Claim(other, []byte(`{}`), now); a != nil || err != nil {
			t.Fatalf("%+v: %v %v", other, a, err)
		}
	}
	if err := r.Complete(k, Answer{Status: 201, Body: []byte(`{"x":1}`), Resource: "p-1"}, now); err != nil {
		t.Fatal(err)
	}
	a, err := r.Claim(k, body, now.Add(23*time.Hour))
	if err != nil || a == nil || a.Status != 201 || string(a.Body) != `{"x":1}` || a.Resource != "p-1" {
		t.Fatalf("repeat after the answer: %+v %v", a, err)
	}
	if _, err := r.Claim(k, []byte(`{}`), now); !errors.Is(err, ErrIdempotencyMismatch) {
		t.Fatalf("other body after the answer: %v", err)
	}
	if err := r.Abandon(k); err != nil {
		t.Fatal(err)
	}
	if a, _ := r.Claim(k, body, now); a == nil {
		t.Fatal("Abandon dropped an answered key")
	}

	// A holder that lets go, or whose lease lapses, frees the key.
	k2 := IdempotencyKey{"payments", "tpp-1", "k2"}
	if a, err := r.Claim(k2, body, now); a != nil || err != nil {
		t.Fatal(a, err)
	}
	if err := r.Abandon(k2); err != nil {
		t.Fatal(err)
	}
	if a, err := r.Claim(k2, []byte(`{"other":true}`), now); a != nil || err != nil {
		t.Fatalf("after Abandon: %v %v", a, err)
	}
	if a, err := r.Claim(k2, []byte(`{"other":true}`), now.Add(DefaultLease)); a != nil || err != nil {
		t.Fatalf("after the lease: %v %v", a, err)
	}

	for _, bad := range []string{"", " lead", "trail ", "tab\t", "a\x01b", string(make([]byte, 41)), "x\xffy"} {
		if _, err := r.Claim(IdempotencyKey{"payments", "tpp-1", bad}, body, now); !errors.Is(err, ErrInvalidIdempotencyKey) {
			t.Errorf("key %q: %v", bad, err)
		}
	}
	if !ValidIdempotencyKey("a") || !ValidIdempotencyKey("1234567890123456789012345678901234567890") || !ValidIdempotencyKey("a b") {
		t.Fatal("valid keys refused")
	}
}

// TestClaimRace: 50 concurrent Claims of one key, one holds it; once answered, 50
// concurrent repeats all get the answer.
func TestClaimRace(t *testing.T) {
	r := newRepo(t)
	k := IdempotencyKey{"payments", "tpp-1", "race"}
	body := []byte(`{"Data":{}}`)
	var held, busy atomic.Int32
	race := func(fn func(*Answer, error)) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				fn(r.Claim(k, body, now))
			}()
		}
		close(start)
		wg.Wait()
	}
	race(func(a *Answer, err error) {
		switch {
		case a == nil && err == nil:
			held.Add(1)
		case errors.Is(err, ErrInProgress):
			busy.Add(1)
		default:
			t.Error(a, err)
		}
	})
	if held.Load() != 1 || busy.Load() != 49 {
		t.Fatalf("%d held, %d busy", held.Load(), busy.Load())
	}
	if err := r.Complete(k, Answer{Status: 201, Body: []byte("first")}, now); err != nil {
		t.Fatal(err)
	}
	var same atomic.Int32
	race(func(a *Answer, err error) {
		if err == nil && a != nil && string(a.Body) == "first" {
			same.Add(1)
		}
	})
	if same.Load() != 50 {
		t.Fatalf("%d of 50 repeats got the first answer", same.Load())
	}
}

// TestClaimOrWaitRace: 50 concurrent repeats of one key while the first is running all
// get its answer once it completes; the first's abandon lets one waiter take over.
func TestClaimOrWaitRace(t *testing.T) {
	r := newRepo(t)
	k := IdempotencyKey{"payments", "tpp-1", "wait"}
	body := []byte(`{"Data":{}}`)
	if a, err := r.Claim(k, body, now); a != nil || err != nil {
		t.Fatal(a, err)
	}
	clock := func() time.Time { return now }
	var wg sync.WaitGroup
	var same atomic.Int32
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := r.ClaimOrWait(t.Context(), k, body, clock)
			if err == nil && a != nil && string(a.Body) == "first" {
				same.Add(1)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := r.Complete(k, Answer{Status: 201, Body: []byte("first")}, now); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if same.Load() != 50 {
		t.Fatalf("%d of 50 waiters got the first answer", same.Load())
	}

	// The first lets go: exactly one waiter holds the key, the rest get its answer.
	k2 := IdempotencyKey{"payments", "tpp-1", "wait-2"}
	if _, err := r.Claim(k2, body, now); err != nil {
		t.Fatal(err)
	}
	var held atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := r.ClaimOrWait(t.Context(), k2, body, clock)
			if err == nil && a == nil && held.Add(1) == 1 {
				_ = r.Complete(k2, Answer{Status: 201, Body: []byte("second")}, now)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := r.Abandon(k2); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if held.Load() != 1 {
		t.Fatalf("%d waiters held the key", held.Load())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	k3 := IdempotencyKey{"payments", "tpp-1", "wait-3"}
	_, _ = r.Claim(k3, body, now)
	if _, err := r.ClaimOrWait(ctx, k3, body, clock); !errors.Is(err, ErrInProgress) {
		t.Fatalf("after the context: %v", err)
	}
}
