package payment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// The JSON the payment rules read is decoded by hand into plain values — objects as
// map[string]any, arrays as []any, numbers as json.Number (the digits as sent), strings,
// booleans and nil — so that a duplicated member name, which encoding/json would let the
// last one win, is refused: the gateway and the bank must never read two different
// payments out of one body.

// maxDepth bounds the nesting a body may have.
const maxDepth = 32

var (
	errDuplicate = errors.New("a member name appears twice in one object")
	errTooDeep   = errors.New("the JSON is nested too deeply")
	errTrailing  = errors.New("data after the JSON value")
)

// decodeStrict reads exactly one JSON value from b, refusing duplicated member names.
func decodeStrict(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailing
	}
	return v, nil
}

func readValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string")
				}
				if _, dup := obj[k]; dup {
					return nil, errDuplicate
				}
				v, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj[k] = v
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil // string, json.Number, bool, nil
	}
}

// canonical writes v with object members in name order and numbers as sent: the stored
// form of an Initiation or Risk, equal for equal values whatever order they came in.
func canonical(v any) []byte {
	buf, err := json.Marshal(v) // maps marshal in key order; json.Number as its digits
	if err != nil {
		// Only values decodeStrict made reach here, and they always marshal.
		panic("payment: canonical: " + err.Error())
	}
	return buf
}

// Canonical is body's canonical JSON, or an error for a body that is not one JSON value
// without duplicate names.
func Canonical(body []byte) ([]byte, error) {
	v, err := decodeStrict(body)
	if err != nil {
		return nil, err
	}
	return canonical(v), nil
}

// firstDifference is the path of the first place a and b differ as JSON values (members in
// name order, arrays by index), or "" when they are equal.
func firstDifference(a, b any, path string) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return path
		}
		names := make([]string, 0, len(av)+len(bv))
		for k := range av {
			names = append(names, k)
		}
		for k := range bv {
			if _, seen := av[k]; !seen {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			x, inA := av[k]
			y, inB := bv[k]
			if inA != inB {
				return join(path, k)
			}
			if d := firstDifference(x, y, join(path, k)); d != "" {
				return d
			}
		}
		return ""
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return path
		}
		for i := range max(len(av), len(bv)) {
			at := path + "[" + strconv.Itoa(i) + "]"
			if i >= len(av) || i >= len(bv) {
				return at
			}
			if d := firstDifference(av[i], bv[i], at); d != "" {
				return d
			}
		}
		return ""
	default:
		// string, json.Number (compared as the digits sent), bool, nil
		if a != b {
			return path
		}
		return ""
	}
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
