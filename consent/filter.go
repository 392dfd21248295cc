package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/tidwall/gjson"
)

// Filter rewrites an upstream account-information body for the consent: list items of
// accounts the user did not select are dropped, fields the consent's Basic permission may
// not see are removed, and transactions outside the consent's window are dropped.
// Members it does not know pass through unchanged. FilterStream does the same on a stream.
func (c *Consent) Filter(body []byte, ep Endpoint) ([]byte, error) {
	// Most answers need no change (every item consented, nothing hidden): check that
	// with light decoding and hand the body back as it came.
	if unchanged, err := c.passesUnchanged(body, ep); err != nil || unchanged {
		return body, err
	}
	return c.rewrite(body, ep)
}

// rewrite is the full filter: decode, drop, strip, encode.
func (c *Consent) rewrite(body []byte, ep Endpoint) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, err
	}
	rawData, ok := top["Data"]
	if !ok {
		return body, nil
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(rawData, &data); err != nil {
		return nil, err
	}
	hidden := c.HiddenFields(ep.Resource)
	for name, raw := range data {
		if len(raw) == 0 || raw[0] != '[' {
			continue
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		kept := items[:0]
		for _, item := range items {
			out, keep, err := c.filterItem(item, ep, hidden)
			if err != nil {
				return nil, err
			}
			if keep {
				kept = append(kept, out)
			}
		}
		out, err := json.Marshal(kept)
		if err != nil {
			return nil, err
		}
		data[name] = out
	}
	var err error
	if top["Data"], err = json.Marshal(data); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(top); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// filterItem decides one list item: an object is kept or dropped and stripped of the
// hidden fields; anything else passes as it is.
func (c *Consent) filterItem(raw json.RawMessage, ep Endpoint, hidden []string) (json.RawMessage, bool, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return raw, true, nil
	}
	var item map[string]json.RawMessage
	if err := json.Unmarshal(raw, &item); err != nil {
		return nil, false, err
	}
	if !c.keeps(item, ep) {
		return nil, false, nil
	}
	if len(hidden) == 0 {
		return raw, true, nil
	}
	for _, f := range hidden {
		delete(item, f)
	}
	out, err := json.Marshal(item)
	return out, true, err
}

// passesUnchanged tells whether Filter would keep every item of every list under Data
// and hide nothing. It reads the body in place with gjson, allocating nothing per item,
// and answers false (the full rewrite decides) on anything unusual, duplicate keys among
// them, since JSON parsers disagree on which duplicate counts.
func (c *Consent) passesUnchanged(body []byte, ep Endpoint) (bool, error) {
	if !gjson.ValidBytes(body) {
		return false, errNotJSON
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() || len(c.HiddenFields(ep.Resource)) > 0 {
		return false, nil
	}
	var data gjson.Result
	datas := 0
	root.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "Data" {
			data, datas = v, datas+1
		}
		return true
	})
	switch {
	case datas == 0:
		return true, nil
	case datas > 1 || !data.IsObject():
		return false, nil
	}
	unchanged := true
	data.ForEach(func(_, list gjson.Result) bool {
		if list.IsArray() {
			list.ForEach(func(_, item gjson.Result) bool {
				if item.IsObject() {
					unchanged = c.admitsItem(item, ep)
				}
				return unchanged
			})
		}
		return unchanged
	})
	return unchanged, nil
}

// admitsItem is keeps on a gjson object; a repeated AccountId or BookingDateTime is refused.
func (c *Consent) admitsItem(item gjson.Result, ep Endpoint) bool {
	var k itemKeys
	accounts, bookings := 0, 0
	item.ForEach(func(key, v gjson.Result) bool {
		switch key.Str {
		case "AccountId":
			accounts++
			k.hasAccount, k.accountIsString, k.account = true, v.Type == gjson.String, v.Str
		case "BookingDateTime":
			bookings++
			k.hasBooked, k.bookedIsString, k.booked = true, v.Type == gjson.String, v.Str
		}
		return true
	})
	return accounts <= 1 && bookings <= 1 && c.admits(k, ep)
}

// itemKeys are the members of a list item that decide whether it is shown.
type itemKeys struct {
	account, booked             string
	hasAccount, accountIsString bool
	hasBooked, bookedIsString   bool
}

var errNotJSON = errors.New("consent: the body is not valid JSON")

func (c *Consent) keeps(item map[string]json.RawMessage, ep Endpoint) bool {
	var k itemKeys
	if raw, ok := item["AccountId"]; ok {
		k.hasAccount = true
		k.accountIsString = json.Unmarshal(raw, &k.account) == nil
	}
	if raw, ok := item["BookingDateTime"]; ok {
		k.hasBooked = true
		k.bookedIsString = json.Unmarshal(raw, &k.booked) == nil
	}
	return c.admits(k, ep)
}

// admits: an item of another account, or a transaction outside the consent's window, is
// not shown; an undatable transaction cannot be shown inside a window.
func (c *Consent) admits(k itemKeys, ep Endpoint) bool {
	if k.hasAccount && (!k.accountIsString || !c.HasAccount(k.account)) {
		return false
	}
	if ep.Resource == Transactions && (c.TransactionFrom != nil || c.TransactionTo != nil) && k.hasBooked && k.bookedIsString {
		at, err := time.Parse(time.RFC3339, k.booked)
		if err != nil {
			return false
		}
		if c.TransactionFrom != nil && at.Before(c.TransactionFrom.Time) {
			return false
		}
		if c.TransactionTo != nil && at.After(c.TransactionTo.Time) {
			return false
		}
	}
	return true
}
