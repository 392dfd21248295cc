package caddyciba

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestIsJSON(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON;charset=UTF-8": true,
		"application/json ;x=y": false, "application/json ; charset=utf-8": true, "application/json; charset=utf-16": false,
		"application/json; charset=utf-8; x=y": false, "application/jsonx": false, "application/json-patch+json": false,
		"text/json": false, "": false, "application/js": false, "application/problem+json": false,
		"application/vnd.api+json": false, " application/json": false,
	} {
		if isJSON(ct) != want {
			t.Errorf("isJSON(%q) = %v", ct, !want)
		}
	}
}

// TestGateCaddyfileSizes: the filter's caps read as Caddy reads sizes; a bad one is refused.
func TestGateCaddyfileSizes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in         string
		item, body int64
		ok         bool
	}{
		{"ciba_gate", 0, 0, true},
		{"ciba_gate {\n max_item_size 64KiB\n max_body_size 4MiB\n}", 64 << 10, 4 << 20, true},
		{"ciba_gate {\n max_item_size 1000\n max_body_size 2MB\n}", 1000, 2000000, true},
		{"ciba_gate {\n max_item_size lots\n}", 0, 0, false},
		{"ciba_gate {\n max_item_size 0\n}", 0, 0, false},
		{"ciba_gate {\n max_body_size\n}", 0, 0, false},
		{"ciba_gate {\n max_body_size 1MiB 2MiB\n}", 0, 0, false},
		{"ciba_gate {\n max_body_size -1\n}", 0, 0, false},
	} {
		var g Gate
		err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		if (err == nil) != tc.ok || tc.ok && (g.MaxItemSize != tc.item || g.MaxBodySize != tc.body) {
			t.Errorf("%q: %v, item %d body %d", tc.in, err, g.MaxItemSize, g.MaxBodySize)
		}
	}
}
