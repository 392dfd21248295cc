package obie

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		status      int
		interaction string
		items       []Item
		code        string
	}{
		{"not found", http.StatusNotFound, "", []Item{{ErrorCode: CodeResourceNotFound, Message: "no such account"}}, "404 NotFound"},
		{"forbidden keeps the interaction id", http.StatusForbidden, "4a7e1c7e-9d8f-4c1b-8d1e-0f6a7b8c9d0e",
			[]Item{{ErrorCode: CodeFieldInvalid, Message: "not consented", Path: "AccountId"}}, "403 Forbidden"},
		{"two words squeezed", http.StatusBadRequest, "", []Item{{ErrorCode: CodeFieldUnexpected, Message: "m"}, {ErrorCode: CodeHeaderInvalid, Message: "h"}}, "400 BadRequest"},
		{"status text with spaces", http.StatusInternalServerError, "", []Item{{ErrorCode: CodeUnexpectedError, Message: "x"}}, "500 InternalServerError"},
		{"no items", http.StatusUnauthorized, "", nil, "401 Unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			if tc.interaction != "" {
				rec.Header().Set("X-Fapi-Interaction-Id", tc.interaction)
			}
			Write(rec, tc.status, "the message", tc.items...)
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%d %v", rec.Code, rec.Header())
			}
			var got Response
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Code != tc.code || got.Message != "the message" || len(got.Errors) != len(tc.items) {
				t.Errorf("%+v", got)
			}
			for i := range tc.items {
				if got.Errors[i] != tc.items[i] {
					t.Errorf("item %d = %+v, want %+v", i, got.Errors[i], tc.items[i])
				}
			}
			if tc.interaction != "" && got.ID != tc.interaction {
				t.Errorf("Id %q, want the interaction id %q", got.ID, tc.interaction)
			}
			if tc.interaction == "" {
				if _, err := uuid.Parse(got.ID); err != nil {
					t.Errorf("Id %q is not a fresh UUID", got.ID)
				}
			}
		})
	}
}
