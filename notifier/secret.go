package notifier

import (
	"encoding/base64"
	"errors"
	"strings"
)

// ParseWebhookSecret decodes a Standard Webhooks secret "whsec_<base64>" into the HMAC key.
func ParseWebhookSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return nil, errors.New("a webhook secret has the form whsec_<base64>")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("the webhook secret after whsec_ is not valid base64")
	}
	if len(key) < 24 {
		return nil, errors.New("the webhook secret must hold at least 24 bytes")
	}
	return key, nil
}
