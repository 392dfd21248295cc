package clients

import (
	"fmt"
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

func TestCheckUniqueIDs(t *testing.T) {
	tests := []struct {
		ids  []string
		want string
	}{
		{nil, ""},
		{[]string{"a", "b", "c"}, ""},
		{[]string{"a", "b", "a", "b"}, `client "a" is defined twice`},
		{[]string{"a", "b", "b"}, `client "b" is defined twice`},
	}
	for _, tt := range tests {
		err := CheckUniqueIDs(tt.ids)
		if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
			t.Errorf("CheckUniqueIDs(%q) = %v, want %q", tt.ids, err, tt.want)
		}
	}
	if _, err := NewRegistry([]*Client{{ID: "a"}, {ID: "a"}}, nil); err == nil {
		t.Error("NewRegistry took one id twice")
	}
}
