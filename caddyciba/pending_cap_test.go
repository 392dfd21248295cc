package caddyciba

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/notifier"
)

// TestPendingCap: 200 backchannel requests for alice sent at once, from two clients, each
// on its own consent: exactly max_pending_per_user (default 5) are accepted and notified,
// at most half of them (3) from one client; the rest are refused with invalid_request.
// A decided request frees its slot, and another user is not affected.
func TestPendingCap(t *testing.T) {
	const total, cap, share = 200, 5, 3
	hook := cibaGateway(t, extraClients)
	type sender struct{ id, secret string }
	senders := []sender{{basicID, basicSecret}, {"tpp-ping", "ping-secret"}}
	consents := make([][]string, len(senders))
	for i, s := range senders {
		tok := ccToken(t, nil, nil, s.id, s.secret)
		for range total / len(senders) {
			r := consentCall(t, client(nil), http.MethodPost, consentsURL, tok, consentBody)
			if r.status != http.StatusCreated {
				t.Fatalf("consent: %d %s", r.status, r.raw)
			}
			consents[i] = append(consents[i], r.body["Data"].(map[string]any)["ConsentId"].(string))
		}
	}
	request := func(s sender, hint, consentID string) *http.Request {
		return formRequest(httpBase+"/bc-authorize", formOf("scope", "openid accounts", "login_hint", hint,
			"client_notification_token", "ping-token-1", "openbanking_intent_id", consentID), s.id, s.secret)
	}
	tally := concurrently(t, total, func(i int) *http.Request {
		s := i % len(senders)
		return request(senders[s], "alice@example.com", consents[s][i/len(senders)])
	})
	if tally["200 "] != cap || tally["400 invalid_request"] != total-cap || len(tally) != 2 {
		t.Fatalf("answers %v, want %d accepted and the rest invalid_request", tally, cap)
	}
	// Notifications arrive together: read them all from the receiver, not one by one.
	waitFor(t, func() bool { return hook.count() >= cap })
	time.Sleep(200 * time.Millisecond) // any notification beyond the cap would be in by now
	hook.mu.Lock()
	got := slices.Clone(hook.got)
	hook.mu.Unlock()
	if len(got) != cap {
		t.Fatalf("%d notifications, want %d", len(got), cap)
	}
	perClient := map[string]int{}
	notes := make([]notifier.Notification, len(got))
	for i, c := range got {
		if err := json.Unmarshal(c.body, &notes[i]); err != nil {
			t.Fatal(err)
		}
		perClient[notes[i].ClientID]++
		<-hook.arrive
	}
	for id, n := range perClient {
		if n > share {
			t.Fatalf("%s holds %d of alice's slots, more than its share %d (%v)", id, n, share, perClient)
		}
	}
	first := &notes[0]

	// The refusal is a CIBA error body, and says why.
	over := bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "alice@example.com",
		"openbanking_intent_id", newConsent(t, basicID, basicSecret))
	errorOnly(t, over, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(over.str("error_description"), "too many pending") {
		t.Fatalf("refusal: %s", over.raw)
	}
	// Carol is another user: her slots are her own.
	if r := bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "carol@example.com",
		"openbanking_intent_id", newConsent(t, basicID, basicSecret)); r.status != http.StatusOK {
		t.Fatalf("carol while alice is full: %d %s", r.status, r.raw)
	}
	notification(t, hook)

	// A decision frees a slot.
	if r := decide(t, first, first.DeviceToken, `{"decision":"deny"}`); r.status != http.StatusNoContent {
		t.Fatalf("deny: %d %s", r.status, r.raw)
	}
	freed := 0
	for _, s := range senders {
		for _, id := range []string{newConsent(t, s.id, s.secret), newConsent(t, s.id, s.secret)} {
			if r, err := send(client(nil), request(s, "alice@example.com", id)); err != nil {
				t.Fatal(err)
			} else if r.status == http.StatusOK {
				freed++
			}
		}
	}
	if freed != 1 {
		t.Fatalf("%d requests accepted after one decision, want 1", freed)
	}
}
