package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Limits bound what the filter reads and holds. A zero field takes its default.
type Limits struct {
	// MaxValue is the largest JSON value the filter reads whole: one list item, Links or
	// Meta, or one name or token between them. Default DefaultMaxValue.
	MaxValue int64
	// MaxBody is the largest answer. Default DefaultMaxBody.
	MaxBody int64
}

// The default caps: an Open Banking list item is a few hundred bytes, an answer a page.
const (
	DefaultMaxValue = 1 << 20
	DefaultMaxBody  = 64 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxValue <= 0 {
		l.MaxValue = DefaultMaxValue
	}
	if l.MaxBody <= 0 {
		l.MaxBody = DefaultMaxBody
	}
	return l
}

// Why the filter refuses an answer. Any other error is a body that is not one valid JSON
// value (a duplicate name among them).
var (
	ErrValueTooLarge = errors.New("consent: a value of the answer is larger than the filter's cap")
	ErrBodyTooLarge  = errors.New("consent: the answer is larger than the filter's cap")
	ErrShape         = errors.New("consent: the answer is not of the endpoint's shape")
)

// Filter is AppendFilter to a new slice, with the default limits.
func (c *Consent) Filter(body []byte, ep Endpoint) ([]byte, error) {
	// A small answer is usually kept whole; of a large one, often little is kept.
	out, err := c.AppendFilter(make([]byte, 0, min(len(body), 4<<10)), body, ep, Limits{})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// listMembers names the member of Data that holds an endpoint's items. An endpoint
// missing here (the statement file) has no JSON answer to show.
var listMembers = map[Resource]string{
	Accounts: "Account", Balances: "Balance", Beneficiaries: "Beneficiary", DirectDebits: "DirectDebit",
	StandingOrders: "StandingOrder", Transactions: "Transaction", Statements: "Statement",
	Products: "Product", Offers: "Offer", Parties: "Party", PartyPSU: "Party", ScheduledPayments: "ScheduledPayment",
}

// Links and Meta hold only the members of OB's Links and Meta, of the kind they have
// ('"' a string, '0' a number, 0 none).
func linkMember(name string) byte {
	switch name {
	case "Self", "First", "Prev", "Next", "Last":
		return '"'
	}
	return 0
}

func metaMember(name string) byte {
	switch name {
	case "TotalPages":
		return '0'
	case "FirstAvailableDateTime", "LastAvailableDateTime":
		return '"'
	}
	return 0
}

// itemRule is what decides one list item, worked out once per answer.
type itemRule struct {
	// attribute: an item must name one consented account. Party answers describe people
	// (the path's account or the PSU, which the gate checked), so they carry no AccountId.
	attribute bool
	hidden    []string
	maskPAN   bool
	// On transactions: the directions consented, and the consent's window if it has one.
	transactions, credits, debits bool
	window                        bool
	from, to                      *Date
	// The accounts the user selected; a set when there are many.
	accounts []string
	set      map[string]bool
}

func (r *itemRule) hasAccount(id []byte) bool {
	if r.set != nil {
		return r.set[string(id)]
	}
	for _, a := range r.accounts {
		if a == string(id) {
			return true
		}
	}
	return false
}

func (c *Consent) itemRule(ep Endpoint) itemRule {
	r := itemRule{
		accounts:     c.AccountIDs,
		attribute:    ep.Resource != Parties && ep.Resource != PartyPSU,
		hidden:       c.HiddenFields(ep.Resource),
		maskPAN:      !c.Has(ReadPAN),
		transactions: ep.Resource == Transactions,
		credits:      c.Has(ReadTransactionsCredits),
		debits:       c.Has(ReadTransactionsDebits),
		window:       ep.Resource == Transactions && (c.TransactionFrom != nil || c.TransactionTo != nil),
		from:         c.TransactionFrom,
		to:           c.TransactionTo,
	}
	if len(c.AccountIDs) > 8 {
		r.set = make(map[string]bool, len(c.AccountIDs))
		for _, a := range c.AccountIDs {
			r.set[a] = true
		}
	}
	return r
}

// direction: with one direction consented, a transaction shows only if it says it goes
// that way; with none (a consent the API refuses to create), none shows.
func (r *itemRule) direction(d []byte, ok bool) bool {
	if !r.transactions || (r.credits && r.debits) {
		return true
	}
	switch {
	case ok && string(d) == "Credit":
		return r.credits
	case ok && string(d) == "Debit":
		return r.debits
	}
	return false
}

// member is one name and value of a validated object: the name's raw bytes between its
// quotes, and where the pair and the value start and end in the object.
type member struct {
	name              []byte
	start, value, end int
	drop              bool
}

// item filters one list item (a valid object without duplicate names) to f.out.
func (f *filter) item(raw []byte) error {
	r := &f.rule
	f.ms = f.ms[:0]
	var account, direction, booked []byte
	var hasAccount, accountOK, directionOK, bookedOK, hide bool
	for i := skipWS(raw, 1); raw[i] != '}'; {
		m, next := nextMember(raw, i)
		i = next
		v := raw[m.value:m.end]
		name := unquoteName(m.name)
		switch name {
		case "AccountId":
			// The decoder refused a second AccountId: the first decides, and most items
			// of a large answer are dropped here, before the rest of them is read.
			hasAccount = true
			if account, accountOK = stringValue(v); !accountOK || !r.hasAccount(account) {
				return nil
			}
		case "CreditDebitIndicator":
			direction, directionOK = stringValue(v)
		case "BookingDateTime":
			booked, bookedOK = stringValue(v)
		}
		if slices.Contains(r.hidden, name) {
			m.drop, hide = true, true
		}
		f.ms = append(f.ms, m)
	}
	switch {
	case r.attribute && !hasAccount:
		return nil
	case !r.direction(direction, directionOK):
		return nil
	case r.window && !inWindow(booked, bookedOK, r.from, r.to):
		return nil
	}
	// An escaped name could spell AccountId or SchemeName in another way.
	escaped := bytes.IndexByte(raw, '\\') >= 0
	if nestsAccountID(raw, hasAccount, escaped) && !nestsOnly(raw, account, 0) {
		return nil
	}
	edits := f.edits[:0]
	if r.maskPAN && (escaped || bytes.Contains(raw, []byte("SchemeName"))) {
		var ok bool
		if edits, ok = panEdits(raw, 0, 0, edits); !ok {
			return shapeError("an item nests deeper than %d", maxItemDepth)
		}
		f.edits = edits
	}
	if !f.first {
		f.out.writeByte(',')
	}
	f.first = false
	if !hide && len(edits) == 0 {
		return f.out.keep(raw)
	}
	b := append(f.scratch[:0], '{')
	comma := false
	for _, m := range f.ms {
		if m.drop {
			continue
		}
		if comma {
			b = append(b, ',')
		}
		comma = true
		b = appendEdited(b, raw, m.start, m.end, edits)
	}
	f.scratch = append(b, '}')
	return f.out.keep(f.scratch)
}

// inWindow: a transaction inside a window needs a date that says it is inside.
func inWindow(booked []byte, ok bool, from, to *Date) bool {
	if !ok {
		return false
	}
	at, err := time.Parse(time.RFC3339, string(booked))
	if err != nil {
		return false
	}
	return (from == nil || !at.Before(from.Time)) && (to == nil || !at.After(to.Time))
}

// edit replaces raw[start:end] by with.
type edit struct {
	start, end int
	with       []byte
}

func appendEdited(b, raw []byte, start, end int, edits []edit) []byte {
	for _, e := range edits {
		if e.start < start || e.end > end {
			continue
		}
		b = append(b, raw[start:e.start]...)
		b = append(b, e.with...)
		start = e.end
	}
	return append(b, raw[start:end]...)
}

// nestsAccountID: whether the item raw may name an AccountId below its own one (OB v3.1
// never nests one), and so must be walked.
func nestsAccountID(raw []byte, hasOwn, escaped bool) bool {
	n := bytes.Count(raw, []byte("AccountId"))
	return n > 1 || n == 1 && !hasOwn || escaped
}

// nestsOnly: every AccountId nested in the validated value raw is the string own (none,
// if own is nil), so an item of a consented account carries no data attributed to
// another; an item nested too deep to walk is not shown.
func nestsOnly(raw, own []byte, depth int) bool {
	if depth > maxItemDepth {
		return false
	}
	switch raw[0] {
	case '[':
		for i := skipWS(raw, 1); raw[i] != ']'; {
			end := skipValue(raw, i)
			if !nestsOnly(raw[i:end], own, depth+1) {
				return false
			}
			i = skipWS(raw, end)
			if raw[i] == ',' {
				i = skipWS(raw, i+1)
			}
		}
	case '{':
		for i := skipWS(raw, 1); raw[i] != '}'; {
			m, next := nextMember(raw, i)
			i = next
			v := raw[m.value:m.end]
			if depth > 0 && unquoteName(m.name) == "AccountId" {
				if s, ok := stringValue(v); !ok || own == nil || !bytes.Equal(s, own) {
					return false
				}
			}
			if (v[0] == '{' || v[0] == '[') && !nestsOnly(v, own, depth+1) {
				return false
			}
		}
	}
	return true
}

// maxItemDepth bounds how deep the PAN walk goes (each level reads its part of the item
// again): an OB item nests a few levels, not dozens.
const maxItemDepth = 32

// panEdits masks, anywhere in the validated value raw (at offset off of the item), the
// Identification of every object whose SchemeName is a PAN or not a string. The edits
// come back in the order of the body; ok is false for an item nested too deep to walk.
func panEdits(raw []byte, off, depth int, edits []edit) (_ []edit, ok bool) {
	if depth > maxItemDepth {
		return nil, false
	}
	switch raw[0] {
	case '[':
		for i := skipWS(raw, 1); raw[i] != ']'; {
			end := skipValue(raw, i)
			if edits, ok = panEdits(raw[i:end], off+i, depth+1, edits); !ok {
				return nil, false
			}
			i = skipWS(raw, end)
			if raw[i] == ',' {
				i = skipWS(raw, i+1)
			}
		}
	case '{':
		var ident member
		hasIdent, pan := false, false
		for i := skipWS(raw, 1); raw[i] != '}'; {
			m, next := nextMember(raw, i)
			i = next
			v := raw[m.value:m.end]
			switch unquoteName(m.name) {
			case "SchemeName":
				s, isString := stringValue(v)
				pan = !isString || isPANScheme(s)
			case "Identification":
				ident, hasIdent = m, true
			}
			if v[0] == '{' || v[0] == '[' {
				if edits, ok = panEdits(v, off+m.value, depth+1, edits); !ok {
					return nil, false
				}
			}
		}
		if pan && hasIdent {
			start, end := off+ident.value, off+ident.end
			edits = slices.DeleteFunc(edits, func(e edit) bool { return e.start >= start && e.end <= end })
			edits = append(edits, edit{start, end, maskPAN(raw[ident.value:ident.end])})
			slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
		}
	}
	return edits, true
}

// isPANScheme: a SchemeName ending in PAN, in any case, spaces around it aside.
func isPANScheme(s []byte) bool {
	for _, b := range s {
		if b >= utf8.RuneSelf {
			return strings.HasSuffix(strings.ToUpper(strings.TrimSpace(string(s))), "PAN")
		}
	}
	// ASCII: what TrimSpace and ToUpper would do, without copying.
	s = bytes.TrimRight(s, " \t\n\v\f\r")
	n := len(s)
	return n >= 3 && s[n-3]&^0x20 == 'P' && s[n-2]&^0x20 == 'A' && s[n-1]&^0x20 == 'N'
}

// maskPAN keeps the last four characters of a card number, as UK OB v3.1 lets an ASPSP
// show without ReadPAN; a value too short to be a PAN, or not a string, is masked whole.
func maskPAN(v []byte) []byte {
	s, ok := stringValue(v)
	if !ok {
		return []byte(`"****"`)
	}
	r := []rune(string(s))
	keep := 0
	if len(r) >= 8 {
		keep = 4
	}
	out, _ := json.Marshal(strings.Repeat("*", len(r)-keep) + string(r[len(r)-keep:]))
	return out
}

// members lists the members of the validated object raw into ms.
func members(raw []byte, ms []member) []member {
	for i := skipWS(raw, 1); raw[i] != '}'; {
		m, next := nextMember(raw, i)
		ms, i = append(ms, m), next
	}
	return ms
}

// nextMember reads the member of the validated object raw whose name starts at raw[i],
// and where the next one (or the closing brace) is.
func nextMember(raw []byte, i int) (member, int) {
	nameEnd := skipString(raw, i)
	v := skipWS(raw, nameEnd)
	v = skipWS(raw, v+1) // the ':'
	end := skipValue(raw, v)
	m := member{name: raw[i+1 : nameEnd-1], start: i, value: v, end: end}
	i = skipWS(raw, end)
	if raw[i] == ',' {
		i = skipWS(raw, i+1)
	}
	return m, i
}

// unquoteName is a name's text; only a name with escapes allocates.
func unquoteName(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return unsafe.String(unsafe.SliceData(b), len(b)) // compared, never kept
	}
	var s string
	_ = json.Unmarshal(append(append([]byte{'"'}, b...), '"'), &s)
	return s
}

// stringValue is the text of a JSON string value; ok is false for any other kind.
func stringValue(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

func skipWS(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\n' || raw[i] == '\r' || raw[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the end of the string whose quote is at raw[i].
func skipString(raw []byte, i int) int {
	for j := i + 1; ; {
		q := bytes.IndexByte(raw[j:], '"')
		if q < 0 {
			return len(raw)
		}
		j += q
		bs := 0
		for k := j - 1; raw[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			return j + 1
		}
		j++
	}
}

// skipValue returns the end of the validated value that starts at raw[i].
func skipValue(raw []byte, i int) int {
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for ; i < len(raw); i++ {
			switch raw[i] {
			case '"':
				i = skipString(raw, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for ; i < len(raw); i++ {
		switch raw[i] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			return i
		}
	}
	return i
}
