package op

import (
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/token"
)

// The repositories the endpoints reach stored records through: each owns its record's
// keys, encoding and TTL, and takes the time from its caller (Provider.Now). They hold no
// state, so one of each serves every provider.
var (
	requests  ciba.Requests
	devices   ciba.Devices
	accesses  token.Accesses
	refreshes token.Refreshes
	sessions  accessSessions
	uses      consentUses
	// deliveries is the notification queue (delivery_queue.go).
	deliveries deliveryRecords
	// userPending counts each user's live requests for the caps (backchannel_cap.go).
	userPending pendingLists
)
