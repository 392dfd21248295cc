package gateway

import (
	"fmt"

	"github.com/caddyciba/gateway/internal/testpg"
)

// Storage turns the benchmarks' -storage and -dsn flags into the ciba storage option:
// "" for Badger, or PostgreSQL at dsn; with no dsn, a PostgreSQL server of its own is
// started (Debian's binaries, as the tests do), which stop ends.
func Storage(kind, dsn string) (option string, stop func(), err error) {
	switch kind {
	case "", "badger":
		return "", func() {}, nil
	case "postgres":
	default:
		return "", nil, fmt.Errorf("-storage %q: badger or postgres", kind)
	}
	stop = func() {}
	if dsn == "" {
		srv, err := testpg.Start()
		if err != nil {
			return "", nil, err
		}
		if dsn, err = srv.NewDatabase(); err != nil {
			srv.Stop()
			return "", nil, err
		}
		stop = srv.Stop
	}
	return fmt.Sprintf("postgres {\n\t\t\tdsn %s\n\t\t\tmax_conns 32\n\t\t}", dsn), stop, nil
}
