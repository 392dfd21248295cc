package caddyciba

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddyciba/gateway/internal/op"
)

// registerMetrics adds the gateway's series to the config's registry, where Caddy serves
// its own metrics (the admin endpoint's /metrics). The series live for the process, so
// their counts carry across config reloads.
func registerMetrics(reg *prometheus.Registry) error {
	if reg == nil {
		return nil
	}
	for _, c := range op.Collectors() {
		var already prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &already) {
			return err
		}
	}
	return nil
}
