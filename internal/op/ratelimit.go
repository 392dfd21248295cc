package op

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/ratelimit"
)

var rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddyciba", Name: "rate_limited_total",
	Help: "Calls to /token and /bc-authorize refused over the client's rate limit, by client.",
}, []string{"client"})

// rateLimitPrefix is where the clients' buckets live in the store, shared by every
// instance on it.
const rateLimitPrefix = "ratelimit/client/"

// rateLimit takes one event from the client's bucket: /token with the client-credentials
// and refresh grants, and /bc-authorize. CIBA polling is never counted here: its pace is
// the poll interval, answered with slow_down. A store error refuses the request.
func (p *Provider) rateLimit(c *clients.Client) error {
	if c.RateLimit == nil {
		return nil
	}
	ok, wait, err := p.limits.Allow(c.ID, *c.RateLimit, p.Now())
	if err != nil {
		return oauth.ServerError("the rate limit could not be counted", err)
	}
	if !ok {
		rateLimited.WithLabelValues(c.ID).Inc()
		return oauth.RateLimited(ratelimit.RetryAfter(wait))
	}
	return nil
}
