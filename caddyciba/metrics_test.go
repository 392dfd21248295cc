package caddyciba

import (
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the series of Caddy's metrics endpoint (the admin API's /metrics) into
// "name{label=value,...}" → value.
func scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(adminBase + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range families {
		if !strings.HasPrefix(name, "caddyciba_") {
			continue
		}
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			out[key] = value(m)
			if h := m.GetHistogram(); h != nil {
				out[name+"_count"] = float64(h.GetSampleCount())
			}
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// TestMetrics scrapes Caddy's metrics before and after a full flow — a refused and an
// accepted backchannel request, an approval through the decision API, the poll, gated
// calls allowed and refused, a denial — and finds each series moved by exactly what
// happened. No label holds a token, a secret or a subject.
func TestMetrics(t *testing.T) {
	hook := cibaGateway(t, "")
	before := scrape(t)

	errorOnly(t, bcBasic(t, basicID, basicSecret, "scope", "openid accounts", "login_hint", "nobody@example.com",
		"openbanking_intent_id", newConsent(t, basicID, basicSecret)), 400, "unknown_user_id")
	authReqID, consentID, n := startForAlice(t, hook)
	// Pending requests are counted per process, so an earlier test's undecided ones may
	// expire meanwhile and move from the gauge to the expired count: the sum of the two
	// moves only with this test's requests.
	undecided := func(m map[string]float64) float64 {
		return m["caddyciba_pending_auth_requests{}"] + m["caddyciba_auth_requests_expired_total{}"]
	}
	if _, ok := before["caddyciba_auth_requests_expired_total{}"]; !ok {
		t.Fatal("no caddyciba_auth_requests_expired_total series")
	}
	mid := scrape(t)
	if got := undecided(mid) - undecided(before); got != 1 {
		t.Fatalf("pending moved by %v", got)
	}
	if r := decide(t, n, n.DeviceToken, `{"decision":"approve","accounts":["acc-1"]}`); r.status != http.StatusNoContent {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	time.Sleep(1100 * time.Millisecond)
	tokens := pollBasic(t, basicID, basicSecret, authReqID)
	at := tokens.str("access_token")
	if r := accountCall(t, "/accounts/acc-1", at); r.status != http.StatusOK {
		t.Fatalf("gate: %d", r.status)
	}
	accountCall(t, "/accounts/acc-2", at)
	accountCall(t, "/accounts", "not-a-token")
	_, _, denied := startForAlice(t, hook)
	decide(t, denied, denied.DeviceToken, `{"decision":"deny"}`)
	_ = consentID

	// A delivery is counted once the receiver has answered, just after it got the webhook.
	delivered := "caddyciba_notifier_deliveries_total{channel=webhook,outcome=delivered}"
	waitFor(t, func() bool { return scrape(t)[delivered]-before[delivered] == 2 })
	after := scrape(t)
	for series, want := range map[string]float64{
		"caddyciba_backchannel_requests_total{client=tpp-basic,outcome=ok}":              2,
		"caddyciba_backchannel_requests_total{client=tpp-basic,outcome=unknown_user_id}": 1,
		"caddyciba_decisions_total{decision=approve}":                                    1,
		"caddyciba_decisions_total{decision=deny}":                                       1,
		"caddyciba_decision_seconds_count":                                               2,
		"caddyciba_tokens_issued_total{grant=urn:openid:params:grant-type:ciba}":         1,
		"caddyciba_tokens_issued_total{grant=client_credentials}":                        3,
		"caddyciba_notifier_deliveries_total{channel=webhook,outcome=delivered}":         2,
		"caddyciba_gate_requests_total{outcome=allowed}":                                 1,
		"caddyciba_gate_requests_total{outcome=forbidden}":                               1,
		"caddyciba_gate_requests_total{outcome=invalid_token}":                           1,
		"caddyciba_consent_transitions_total{status=AwaitingAuthorisation}":              3,
		"caddyciba_consent_transitions_total{status=Authorised}":                         1,
		"caddyciba_consent_transitions_total{status=Rejected}":                           1,
	} {
		if got := after[series] - before[series]; got != want {
			t.Errorf("%s moved by %v, want %v", series, got, want)
		}
	}
	if got := undecided(after) - undecided(before); got != 0 {
		t.Errorf("pending and expired moved by %v after both requests were decided", got)
	}
	for series := range after {
		for _, secret := range []string{at, n.DeviceToken, "sub-alice", basicSecret, authReqID} {
			if strings.Contains(series, secret) {
				t.Fatalf("series %s holds a secret or a subject", series)
			}
		}
	}
}
