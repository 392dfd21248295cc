package oauth

import (
	"mime"
	"net/http"
	"net/url"
)

// maxFormBytes bounds an OAuth form body; request objects and assertions fit well inside.
const maxFormBytes = 64 << 10

// ParseForm reads a POST with Content-Type application/x-www-form-urlencoded and refuses
// repeated parameters, as RFC 6749 §3.1 requires. Query parameters are ignored.
func ParseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, InvalidRequest("the endpoint accepts POST only")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, InvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, InvalidRequest("the form body could not be parsed")
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 {
			return nil, InvalidRequest("parameter " + k + " is repeated")
		}
	}
	return form, nil
}
