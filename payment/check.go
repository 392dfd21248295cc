package payment

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/caddyciba/gateway/internal/obie"
)

// checker collects every problem of a body as OB error items, each with the JSON Path of
// its field, so one answer tells the TPP everything it has to fix.
type checker struct{ items []obie.Item }

func (c *checker) add(code, path, msg string) {
	c.items = append(c.items, obie.Item{ErrorCode: code, Message: msg, Path: path})
}

// err is the 400 the problems make, or nil.
func (c *checker) err(message string) error {
	if len(c.items) == 0 {
		return nil
	}
	return &obie.Error{Status: http.StatusBadRequest, Message: message, Items: c.items}
}

// only reports every member of obj not in allowed (the schemas have additionalProperties
// false), in name order.
func (c *checker) only(obj map[string]any, path string, allowed ...string) {
	for _, k := range obie.ExtraMembers(obj, allowed...) {
		c.add(obie.CodeFieldUnexpected, join(path, k), "unexpected field")
	}
}

// object reads member key of parent as an object; nil when absent (reported if required)
// or not an object (reported).
func (c *checker) object(parent map[string]any, key, path string, required bool) map[string]any {
	v, ok := parent[key]
	if !ok {
		if required {
			c.add(obie.CodeFieldMissing, join(path, key), key+" is required")
		}
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		c.add(obie.CodeFieldInvalid, join(path, key), key+" must be an object")
		return nil
	}
	return obj
}

// text reads member key of parent as a string of min..max characters; "" when absent
// (reported if required) or invalid (reported).
func (c *checker) text(parent map[string]any, key, path string, minLen, maxLen int, required bool) string {
	v, ok := parent[key]
	if !ok {
		if required {
			c.add(obie.CodeFieldMissing, join(path, key), key+" is required")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		c.add(obie.CodeFieldInvalid, join(path, key), key+" must be a string")
		return ""
	}
	if n := utf8.RuneCountInString(s); n < minLen || n > maxLen {
		c.add(obie.CodeFieldInvalid, join(path, key), key+" must be "+lengths(minLen, maxLen)+" characters long")
		return ""
	}
	return s
}

// matching is text that must also match re.
func (c *checker) matching(parent map[string]any, key, path string, re *regexp.Regexp, required bool) string {
	s := c.text(parent, key, path, 1, 1<<20, required)
	if s != "" && !re.MatchString(s) {
		c.add(obie.CodeFieldInvalid, join(path, key), key+" must match "+re.String())
		return ""
	}
	return s
}

// oneOf is text that must be one of the values.
func (c *checker) oneOf(parent map[string]any, key, path string, required bool, values ...string) string {
	s := c.text(parent, key, path, 1, 1<<20, required)
	if s != "" && !slices.Contains(values, s) {
		c.add(obie.CodeFieldInvalid, join(path, key), key+" is not one of the allowed values")
		return ""
	}
	return s
}

// dateTime reads an ISO 8601 date-time with a zone; the zero time when absent or invalid.
func (c *checker) dateTime(parent map[string]any, key, path string) (raw string, t time.Time) {
	s := c.text(parent, key, path, 1, 64, false)
	if s == "" {
		return "", time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		c.add(obie.CodeFieldInvalid, join(path, key), key+" must be an ISO 8601 date-time with a time zone")
		return "", time.Time{}
	}
	return s, t
}

func lengths(minLen, maxLen int) string {
	return strconv.Itoa(minLen) + " to " + strconv.Itoa(maxLen)
}

// topObject decodes body as one strict JSON object, or reports why not.
func topObject(body []byte, message string) (map[string]any, error) {
	v, err := decodeStrict(body)
	obj, ok := v.(map[string]any)
	if err != nil || !ok {
		why := "the body is not one JSON object"
		if err == errDuplicate {
			why = "the body repeats a member name"
		}
		return nil, &obie.Error{Status: http.StatusBadRequest, Message: message,
			Items: []obie.Item{{ErrorCode: obie.CodeInvalidFormat, Message: why}}}
	}
	return obj, nil
}
