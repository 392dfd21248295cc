package clients

import (
	"strings"
	"testing"
)

// TestSecretHash: a hash from HashSecret checks the secret it was made of and no other;
// damaged hashes are refused.
func TestSecretHash(t *testing.T) {
	t.Parallel()
	h, err := HashSecret("s3cret-value")
	if err != nil {
		t.Fatal(err)
	}
	var c Client
	if err := c.SetSecretHash(h); err != nil {
		t.Fatal(err)
	}
	if !c.CheckSecret("s3cret-value") || c.CheckSecret("s3cret-valuf") {
		t.Fatal("the hash does not check the secret it was made of")
	}
	for _, bad := range []string{"", "s3cret-value", "sha256$abc", "sha256$" + strings.Repeat("A", 22) + "$xyz", "md5$a$b"} {
		if err := (&Client{}).SetSecretHash(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
