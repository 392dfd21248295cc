package op

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/caddyciba/gateway/internal/ciba"
	"github.com/caddyciba/gateway/internal/store"
)

// DefaultMaxPendingPerUser is how many live backchannel requests a user may have at once.
const DefaultMaxPendingPerUser = 5

// errTooManyPending refuses a backchannel request over a cap; it does not say which cap,
// so a client learns nothing of the requests of other clients.
var errTooManyPending = errors.New("op: too many pending backchannel requests for this user")

// pendingEntry is one live request of a user: its store key, its client and its expiry.
type pendingEntry struct {
	Key      string `json:"k"`
	ClientID string `json:"c"`
	Expires  int64  `json:"x"`
}

// clientShare is how many of a user's max live requests one client may hold: half,
// rounded up, so a client that fills its share cannot keep the user from the others.
func clientShare(max int) int { return (max + 1) / 2 }

// pendingLists keeps each user's list of live requests under "areq-user/<subject>", as
// JSON, until the last request on it expires.
type pendingLists struct{}

func pendingKey(subject string) string { return "areq-user/" + subject }

// read is the user's list of live requests; none when there is no list.
func (pendingLists) read(rd store.Reader, subject string) ([]pendingEntry, error) {
	buf, err := rd.Get(pendingKey(subject))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []pendingEntry
	return list, json.Unmarshal(buf, &list)
}

// write stores the user's list, to live until its last entry expires (as of now).
func (pendingLists) write(t store.Txn, subject string, list []pendingEntry, now time.Time) error {
	last := now
	for _, e := range list {
		if exp := time.Unix(e.Expires, 0); exp.After(last) {
			last = exp
		}
	}
	buf, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return t.Put(pendingKey(subject), buf, max(last.Sub(now)+time.Second, time.Second))
}

// holdPendingSlot takes one of the user's slots for the request under key, inside the
// transaction that stores the request, so the caps hold across instances and under
// concurrency: a user has at most MaxPendingPerUser live requests (pending, unexpired),
// at most clientShare of them from one client. The user's list holds only the requests
// it admitted; one that expired, was decided or was withdrawn stops counting — expiry by
// the list's own times, the rest read from the requests when a cap is reached, so the
// list stays at most MaxPendingPerUser long and a request costs at most that many reads.
func (p *Provider) holdPendingSlot(t store.Txn, req *ciba.Request, key string, now time.Time) error {
	list, err := userPending.read(t, req.Subject)
	if err != nil {
		return err
	}
	list = keepPending(list, func(e pendingEntry) bool { return now.Unix() < e.Expires })
	if p.overCaps(list, req.ClientID) {
		var err error
		list = keepPending(list, func(e pendingEntry) bool {
			r, lerr := requests.Load(t, e.Key)
			if lerr != nil && !errors.Is(lerr, store.ErrNotFound) {
				err = lerr
				return true
			}
			return lerr == nil && r.Live(now)
		})
		if err != nil {
			return err
		}
		if p.overCaps(list, req.ClientID) {
			return errTooManyPending
		}
	}
	list = append(list, pendingEntry{Key: key, ClientID: req.ClientID, Expires: req.ExpiresAt.Unix()})
	return userPending.write(t, req.Subject, list, now)
}

// overCaps tells whether one more request of clientID would exceed a cap.
func (p *Provider) overCaps(list []pendingEntry, clientID string) bool {
	if len(list) >= p.MaxPendingPerUser {
		return true
	}
	mine := 0
	for _, e := range list {
		if e.ClientID == clientID {
			mine++
		}
	}
	return mine >= clientShare(p.MaxPendingPerUser)
}

func keepPending(list []pendingEntry, keep func(pendingEntry) bool) []pendingEntry {
	out := list[:0]
	for _, e := range list {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}
