package op

import "testing"

// TestChallenge: the WWW-Authenticate value is printable ASCII with its quoted strings
// escaped, whatever the realm holds, and carries an error only when one is given.
func TestChallenge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ realm, code, why, want string }{
		{"https://bank.example", "", "", `Bearer realm="https://bank.example"`},
		{"https://bank.example", "invalid_token", whyUnknown,
			`Bearer realm="https://bank.example", error="invalid_token", error_description="the access token is unknown, expired or revoked"`},
		{`https://ba"nk\.example`, "", "", `Bearer realm="https://ba\"nk\\.example"`},
		{"https://bänk.example\r\nX-Evil: 1", "", "", `Bearer realm="https://b??nk.example??X-Evil: 1"`},
	} {
		if got := challenge(tc.realm, tc.code, tc.why); got != tc.want {
			t.Errorf("challenge(%q, %q, %q)\n got %s\nwant %s", tc.realm, tc.code, tc.why, got, tc.want)
		}
	}
	// Every description the gate sends is a valid RFC 6750 error_description as it stands:
	// %x20-21 / %x23-5B / %x5D-7E, so no escaping changes it.
	for _, why := range []string{whyUnknown, whyExpired, whyCertificate, whyClient, whyUser, whyConsentGone, whyConsentOver} {
		for i := 0; i < len(why); i++ {
			if c := why[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				t.Errorf("%q has %q at %d", why, c, i)
			}
		}
	}
}
