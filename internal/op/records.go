package op

import (
	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/token"
)

// Every record the gateway stores has one repository, in the package that owns the
// record; it alone builds the record's keys and holds its encoding and TTL, and it takes
// the time from its caller (Provider.Now), never from the wall clock. Endpoints reach
// state through these only, inside a store transaction when several changes must commit
// together.
//
//	key prefix             record                                 repository
//	areq/<hash>            backchannel request                    ciba.Requests
//	areq-consent/<id>      a consent's live request (one per)     ciba.Requests (ClaimConsent, WithdrawConsent)
//	dev/<id>               device link                            ciba.Devices
//	areq-user/<subject>    a user's live requests (the caps)      pendingLists (backchannel_cap.go)
//	consent/<id>           consent                                consent.Repo, consent.Read/Change/Each
//	at/<hash>, rt/<hash>   access and refresh tokens              token.Accesses, token.Refreshes
//	atrev/<hash of jti>    revoked self-contained access token    token.Revocations
//	keys/access/HS256      key of the self-contained tokens       token.LoadOrCreateClientKey
//	access/session/<hash>  dashboard session                      accessSessions (access_session.go)
//	consentuse/<id>        a consent's last use at the gate       consentUses (lastused.go)
//	delivery/q/…, delivery/key  notification queue, sealing key   deliveryRecords (delivery_records.go)
//	pwlock/<subject>       password lockout count                 users.Lockout
//	jti/…, rojti/…         replay caches                          jose.RememberJTI
//	ratelimit/client/<id>  rate-limit bucket                      ratelimit.Limiter
//	keys/…                 signing key ring                       keys.Keyring
//
// The op repositories hold no state, so one of each serves every provider.
var (
	requests   ciba.Requests
	devices    ciba.Devices
	accesses   token.Accesses
	refreshes  token.Refreshes
	sessions   accessSessions
	uses       consentUses
	deliveries deliveryRecords
	// revocations holds the revoked self-contained (client-credentials) tokens.
	revocations token.Revocations
	// userPending counts each user's live requests for the caps.
	userPending pendingLists
)
