package op

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/store"
)

// pendingLink stores a pending request of tpp for alice on the provider's consent and
// returns its device link.
func pendingLink(tb testing.TB, p *Provider) ciba.DeviceLink {
	now := time.Now()
	var consentID string
	_ = consent.Each(p.Store, now, func(c *consent.Consent) error { consentID = c.ID; return nil })
	req := &ciba.Request{ClientID: "tpp", Subject: "sub-alice", Scope: "openid accounts", ConsentID: consentID,
		Mode: "poll", CreatedAt: now, ExpiresAt: now.Add(time.Hour), State: ciba.Pending}
	var link ciba.DeviceLink
	err := p.Store.Update(func(t store.Txn) error {
		key := requests.Key("fuzz-" + now.String())
		if err := requests.Save(t, key, req, now); err != nil {
			return err
		}
		var err error
		link, err = devices.New(t, key, req.ExpiresAt, now)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return link
}

// FuzzDeviceDecision sends arbitrary decision bodies and headers to the device endpoint
// with the app token, the page token or a wrong one: never a panic, never a 5xx, every
// refusal in the RFC 6749 error shape.
func FuzzDeviceDecision(f *testing.F) {
	for _, seed := range []string{
		`{"decision":"approve","accounts":["a1"]}`,
		`{"decision":"approve","accounts":["a1"],"password":"x"}`,
		`{"decision":"deny"}`,
		`{"decision":"approve","accounts":["a1","a1"]}`,
		`{"decision":"maybe"}`,
		`{"decision":"approve","accounts":[1,2]}`,
		`[]`, `null`, `{"decision":"approve","accounts":["zz"]`,
	} {
		for who := range byte(3) {
			f.Add(who, "application/json", seed)
		}
	}
	f.Add(byte(0), "text/plain", `{"decision":"deny"}`)
	p := fuzzProvider(f)
	link := pendingLink(f, p)
	f.Fuzz(func(t *testing.T, who byte, contentType, body string) {
		tok := []string{link.Token, link.PageToken, strings.Repeat("x", 43)}[who%3]
		r := httptest.NewRequest(http.MethodPost, PathDevice+link.ID, strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		p.ServeDevice(w, r)
		checkAnswer(t, w, body, http.StatusNoContent, 400, 401, 403, 409, 410, 415, 429)
	})
}
