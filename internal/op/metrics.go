package op

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The gateway's Prometheus series. They are made once per process and registered in each
// config's registry, so counts survive config reloads. Labels hold client ids, outcomes,
// grants and channel names only: never a token, a secret or a subject.
var (
	backchannelRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddyciba", Name: "backchannel_requests_total",
		Help: "Backchannel authentication requests by client and outcome (ok or the OAuth error code).",
	}, []string{"client", "outcome"})
	decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddyciba", Name: "decisions_total",
		Help: "Decisions of users on their authentication device, by decision (approve, deny).",
	}, []string{"decision"})
	expiries = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "caddyciba", Name: "auth_requests_expired_total",
		Help: "Backchannel requests started by this instance that expired undecided.",
	}, func() float64 { _, expired := pending.read(time.Now()); return float64(expired) })
	decisionSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "caddyciba", Name: "decision_seconds",
		Help:    "Time from the backchannel request to the user's decision.",
		Buckets: []float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 600},
	})
	tokensIssued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddyciba", Name: "tokens_issued_total",
		Help: "Access tokens issued, by grant type.",
	}, []string{"grant"})
	notifierDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddyciba", Name: "notifier_deliveries_total",
		Help: "Deliveries to authentication devices by channel and outcome (delivered, failed).",
	}, []string{"channel", "outcome"})
	gateDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddyciba", Name: "gate_requests_total",
		Help: "Account API requests decided by the gate, by outcome.",
	}, []string{"outcome"})
	consentTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddyciba", Name: "consent_transitions_total",
		Help: "Consents entering each status (AwaitingAuthorisation, Authorised, Rejected, Revoked, Deleted).",
	}, []string{"status"})
	pendingRequests = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "caddyciba", Name: "pending_auth_requests",
		Help: "Backchannel requests started by this instance that await the user's decision.",
	}, func() float64 { live, _ := pending.read(time.Now()); return float64(live) })
)

// Gate outcomes, resolved once: the gate counts every request without a label lookup.
var (
	GateAllowed      = gateDecisions.WithLabelValues("allowed")
	GateInvalidToken = gateDecisions.WithLabelValues("invalid_token")
	GateForbidden    = gateDecisions.WithLabelValues("forbidden")
	GateNotFound     = gateDecisions.WithLabelValues("not_found")
	GateError        = gateDecisions.WithLabelValues("error")
)

// Collectors are the series to register in a Prometheus registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{backchannelRequests, decisions, expiries, decisionSeconds, tokensIssued,
		notifierDeliveries, gateDecisions, consentTransitions, pendingRequests, rateLimited}
}

// pending counts live requests by the second they expire: constant memory whatever the
// number of requests, and those that reach their second undecided count as expiries.
var pending = &pendingTracker{bySecond: map[int64]int{}}

type pendingTracker struct {
	mu       sync.Mutex
	bySecond map[int64]int
	expired  int
}

func (pt *pendingTracker) add(expiresAt time.Time, n int) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	sec := expiresAt.Unix()
	if pt.bySecond[sec] += n; pt.bySecond[sec] <= 0 {
		delete(pt.bySecond, sec)
	}
}

// read moves the requests whose second has come to the expired count and returns the
// live ones and the expired total.
func (pt *pendingTracker) read(now time.Time) (live, expired int) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	for sec, n := range pt.bySecond {
		if sec <= now.Unix() {
			pt.expired += n
			delete(pt.bySecond, sec)
			continue
		}
		live += n
	}
	return live, pt.expired
}
