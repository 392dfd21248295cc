package op

import (
	"net/http"
	"strings"
)

// BearerToken reads the access token from the Authorization header only: a token in the
// query string or the body never counts (FAPI).
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 8 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	tok := strings.TrimSpace(h[7:])
	return tok, tok != ""
}

// RefuseToken answers 401 with the RFC 6750 challenge and no body.
func RefuseToken(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	w.WriteHeader(http.StatusUnauthorized)
}
