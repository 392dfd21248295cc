package users

import "sync/atomic"

// Live is the directory in service: readers never lock, and a reload swaps in a whole new
// directory at once, so a request sees the old file or the new one, never a mix.
type Live struct {
	dir atomic.Pointer[Directory]
}

// NewLive serves d.
func NewLive(d *Directory) *Live {
	l := &Live{}
	l.dir.Store(d)
	return l
}

// Swap serves d from now on and returns the directory it replaces.
func (l *Live) Swap(d *Directory) *Directory { return l.dir.Swap(d) }

// Barred lists the subjects old let authenticate and d no longer does: disabled or
// dropped. Their pending requests must end.
func (d *Directory) Barred(old *Directory) []string {
	var out []string
	if old == nil {
		return nil
	}
	for sub, u := range old.bySubject {
		if u.Disabled {
			continue
		}
		if now := d.bySubject[sub]; now == nil || now.Disabled {
			out = append(out, sub)
		}
	}
	return out
}

// ByHint returns the user a login hint names, or nil.
func (l *Live) ByHint(hint string) *User { return l.dir.Load().ByHint(hint) }

// BySubject returns the user with that subject, or nil.
func (l *Live) BySubject(sub string) *User { return l.dir.Load().BySubject(sub) }
