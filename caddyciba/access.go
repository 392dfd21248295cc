package caddyciba

import "sync/atomic"

// accessIdle, when set, replaces the access dashboard's 15-minute idle limit of the
// configs provisioned after; only tests set it, to see a session end without waiting.
var accessIdle atomic.Int64
