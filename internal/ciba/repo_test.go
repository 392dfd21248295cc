package ciba

import (
	"errors"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/store"
)

// TestRequestsRepo covers what the repository owns besides the poll: its keys (a listing
// sees requests only, by hash), the device links and the consent locks.
func TestRequestsRepo(t *testing.T) {
	s := openStore(t)
	var rs Requests
	var ds Devices
	now := time.Now()
	live := &Request{ClientID: "c", Subject: "alice", ConsentID: "aac-1", State: Pending, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	key := rs.Key("id-1")
	var link DeviceLink
	err := s.Update(func(tx store.Txn) error {
		if err := rs.ClaimConsent(tx, live.ConsentID, key, now, live.ExpiresAt); err != nil {
			return err
		}
		if err := rs.Save(tx, key, live, now); err != nil {
			return err
		}
		var err error
		link, err = ds.New(tx, key, live.ExpiresAt, now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("each lists requests only, by hash", func(t *testing.T) {
		var ids []string
		if err := rs.Each(s, func(id string, r *Request) error { ids = append(ids, id); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || requestPrefix+ids[0] != key {
			t.Fatalf("listed %q, want the hash in %q", ids, key)
		}
	})

	t.Run("device tokens", func(t *testing.T) {
		for _, tc := range []struct {
			name, id, tok string
			holder        Holder
			err           error
		}{
			{"app token", link.ID, link.Token, App, nil},
			{"page token", link.ID, link.PageToken, Page, nil},
			{"wrong token", link.ID, "nope", 0, ErrBadDeviceToken},
			{"unknown id", "unknown", link.Token, 0, ErrBadDeviceToken},
		} {
			t.Run(tc.name, func(t *testing.T) {
				o, err := ds.Open(s, tc.id, tc.tok)
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				if err == nil && (o.Holder != tc.holder || o.Key != key || o.Request.Subject != "alice") {
					t.Fatalf("opened %+v", o)
				}
			})
		}
	})

	t.Run("consent lock", func(t *testing.T) {
		errRollback := errors.New("rollback") // keeps the first claim for the next rows
		for _, tc := range []struct {
			name string
			at   time.Time
			want error
		}{
			{"busy while live", now, ErrConsentBusy},
			{"taken over after expiry", now.Add(2 * time.Minute), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Update(func(tx store.Txn) error {
					err := rs.ClaimConsent(tx, live.ConsentID, rs.Key("id-2"), tc.at, tc.at.Add(time.Minute))
					if err == nil {
						return errRollback
					}
					return err
				})
				if errors.Is(err, errRollback) {
					err = nil
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("claim: %v, want %v", err, tc.want)
				}
			})
		}
	})

	t.Run("withdraw the consent's request", func(t *testing.T) {
		var got *Request
		var gotKey string
		err := s.Update(func(tx store.Txn) error {
			var err error
			got, gotKey, err = rs.WithdrawConsent(tx, live.ConsentID, now)
			return err
		})
		if err != nil || got == nil || gotKey != key || got.State != Withdrawn {
			t.Fatalf("withdrew %+v at %q: %v", got, gotKey, err)
		}
		if _, err := ds.Open(s, link.ID, link.Token); err != nil {
			t.Fatalf("open after withdrawal: %v", err)
		}
		r, err := rs.Load(s, key)
		if err != nil || r.Answerable(now) != ErrWithdrawn {
			t.Fatalf("stored %+v: %v", r, err)
		}
	})
}

// TestRequestsTTLFromCaller shows the record's lifetime is counted from the caller's now,
// not the wall clock: a request that expired long before now is gone after the minimum TTL.
func TestRequestsTTLFromCaller(t *testing.T) {
	s := openStore(t)
	var rs Requests
	var ds Devices
	wall := time.Now()
	past := wall.Add(-time.Hour)
	r := &Request{ClientID: "c", State: Pending, CreatedAt: past, ExpiresAt: past.Add(time.Minute)}
	key := rs.Key("old")
	var link DeviceLink
	err := s.Update(func(tx store.Txn) error {
		if err := rs.Save(tx, key, r, wall); err != nil {
			return err
		}
		var err error
		link, err = ds.New(tx, key, r.ExpiresAt, wall)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if _, err := rs.Load(s, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("request still stored: %v", err)
	}
	if _, err := ds.Open(s, link.ID, link.Token); !errors.Is(err, ErrBadDeviceToken) {
		t.Fatalf("device link still stored: %v", err)
	}
}
