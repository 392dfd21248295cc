package oauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseForm(t *testing.T) {
	t.Parallel()
	const formType = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, contentType, target, body string
		want                                    map[string]string
		refusal                                 string // error description, "" when accepted
	}{
		{"form", http.MethodPost, formType, "/token", "grant_type=client_credentials&scope=accounts",
			map[string]string{"grant_type": "client_credentials", "scope": "accounts"}, ""},
		{"charset parameter", http.MethodPost, formType + "; charset=UTF-8", "/token", "a=1", map[string]string{"a": "1"}, ""},
		{"query ignored", http.MethodPost, formType, "/token?scope=admin", "grant_type=x",
			map[string]string{"grant_type": "x"}, ""},
		{"empty body", http.MethodPost, formType, "/token", "", map[string]string{}, ""},
		{"GET", http.MethodGet, formType, "/token?grant_type=x", "", nil, "the endpoint accepts POST only"},
		{"PUT", http.MethodPut, formType, "/token", "a=1", nil, "the endpoint accepts POST only"},
		{"JSON", http.MethodPost, "application/json", "/token", `{"a":1}`, nil, "the body must be application/x-www-form-urlencoded"},
		{"no content type", http.MethodPost, "", "/token", "a=1", nil, "the body must be application/x-www-form-urlencoded"},
		{"broken content type", http.MethodPost, "application/x-www-form-urlencoded; =", "/token", "a=1", nil, "the body must be application/x-www-form-urlencoded"},
		{"repeated parameter", http.MethodPost, formType, "/token", "scope=a&scope=b", nil, "parameter scope is repeated"},
		{"bad escape", http.MethodPost, formType, "/token", "a=%zz", nil, "the form body could not be parsed"},
		{"over 64 KiB", http.MethodPost, formType, "/token", "a=" + strings.Repeat("x", 64<<10), nil, "the form body could not be parsed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			form, err := ParseForm(httptest.NewRecorder(), r)
			if tc.refusal != "" {
				oe, ok := err.(*Error)
				if !ok || oe.Code != "invalid_request" || oe.Description != tc.refusal {
					t.Fatalf("err = %v, want invalid_request: %s", err, tc.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(form) != len(tc.want) {
				t.Errorf("form %v, want %v", form, tc.want)
			}
			for k, v := range tc.want {
				if form.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, form.Get(k), v)
				}
			}
		})
	}
}
