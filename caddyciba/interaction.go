package caddyciba

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/caddyciba/gateway/internal/obie"
)

// interactionHeader correlates a TPP's call across systems (FAPI); every answer carries it.
const interactionHeader = obie.InteractionHeader

// interactionID echoes the caller's x-fapi-interaction-id when it is a UUID, as FAPI asks,
// and makes one otherwise.
func interactionID(r *http.Request) string {
	if v := r.Header.Get(interactionHeader); v != "" {
		if _, err := uuid.Parse(v); err == nil && len(v) == 36 {
			return v
		}
	}
	return uuid.NewString()
}
