package consent

import (
	"errors"
	"net/url"
	"strings"
	"time"
)

// The query parameters of the v3.1 account information endpoints.
const (
	fromBookingDateTime   = "fromBookingDateTime"
	toBookingDateTime     = "toBookingDateTime"
	fromStatementDateTime = "fromStatementDateTime"
	toStatementDateTime   = "toStatementDateTime"
	// pageParam is the page of a list the bank's Links.Next names. OB leaves paging to
	// the bank; the gate knows this one name only.
	pageParam = "page"
)

// ErrQuery is why a query string is refused: a parameter the endpoint does not define,
// one given twice or empty, or a value of the wrong form.
var ErrQuery = errors.New("query parameter not allowed")

// Query checks the raw query string of a request to the endpoint and answers the one to
// send the bank: the same parameters, each once, encoded canonically. Only the parameters
// the endpoint defines pass: the booking window on transactions, the statement window on
// statement lists, page on any list; the other endpoints take none. Anything else is
// refused rather than dropped, so the TPP learns its request was not understood.
func (e Endpoint) Query(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return "", ErrQuery
	}
	for name, vs := range values {
		if len(vs) != 1 || !e.takes(name) || !validParam(name, vs[0]) {
			return "", ErrQuery
		}
	}
	return values.Encode(), nil
}

func (e Endpoint) takes(name string) bool {
	switch name {
	case pageParam:
		return e.List
	case fromBookingDateTime, toBookingDateTime:
		return e.Resource == Transactions
	case fromStatementDateTime, toStatementDateTime:
		return e.Resource == Statements && e.List
	}
	return false
}

func validParam(name, v string) bool {
	if name == pageParam {
		return cleanSegments(v) && !strings.Contains(v, "/")
	}
	return isoDateTime(v)
}

// isoDateTime tells whether v is an OB ISODateTime: RFC 3339 with or without its zone,
// which OB lets the TPP leave out of the window parameters.
func isoDateTime(v string) bool {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if _, err := time.Parse(layout, v); err == nil {
			return true
		}
	}
	return false
}
