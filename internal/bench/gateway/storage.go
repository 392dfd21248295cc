package gateway

import (
	"flag"
	"fmt"

	"github.com/caddyciba/gateway/internal/testpg"
)

// StorageFlags registers -storage and -dsn; after flag.Parse, the function it returns
// gives the storage option, a suffix for the report's section ("" or "-postgres") and a
// function that stops the database it started.
func StorageFlags() func() (option, suffix string, stop func(), err error) {
	kind := flag.String("storage", "badger", "the gateway's storage: badger or postgres")
	dsn := flag.String("dsn", "", "with -storage postgres: the database (default: a server of its own from Debian's binaries)")
	return func() (string, string, func(), error) {
		option, stop, err := Storage(*kind, *dsn)
		if option == "" {
			return option, "", stop, err
		}
		return option, "-" + *kind, stop, err
	}
}

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
