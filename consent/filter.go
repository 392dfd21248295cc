package consent

import (
	"bytes"
	"encoding/json"
	"time"
)

// Filter rewrites an upstream account-information body for the consent: list items of
// accounts the user did not select are dropped, fields the consent's Basic permission may
// not see are removed, and transactions outside the consent's window are dropped.
// Members it does not know pass through unchanged. FilterStream does the same on a stream.
func (c *Consent) Filter(body []byte, ep Endpoint) ([]byte, error) {
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

func (c *Consent) keeps(item map[string]json.RawMessage, ep Endpoint) bool {
	if raw, ok := item["AccountId"]; ok {
		var id string
		if json.Unmarshal(raw, &id) != nil || !c.HasAccount(id) {
			return false
		}
	}
	if ep.Resource == Transactions && (c.TransactionFrom != nil || c.TransactionTo != nil) {
		var booked string
		if raw, ok := item["BookingDateTime"]; ok && json.Unmarshal(raw, &booked) == nil {
			at, err := time.Parse(time.RFC3339, booked)
			if err != nil {
				return false // an undatable transaction cannot be shown inside the window
			}
			if c.TransactionFrom != nil && at.Before(c.TransactionFrom.Time) {
				return false
			}
			if c.TransactionTo != nil && at.After(c.TransactionTo.Time) {
				return false
			}
		}
	}
	return true
}
