// Command caddy is Caddy with the caddyciba plugin, so `go run ./cmd/caddy` needs no xcaddy.
package main

import (
	_ "time/tzdata"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// plug in Caddy modules here
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddyciba/gateway/caddyciba"
)

func main() {
	caddycmd.Main()
}
