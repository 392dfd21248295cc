package caddyciba

import (
	"encoding/json"
	"testing"
)

// FuzzCaddyfile adapts arbitrary ciba blocks and notifier and client options: a config is
// adapted or refused with an error, never a panic, and what is adapted is JSON whose ciba
// app decodes.
func FuzzCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"issuer https://bank.example",
		"issuer https://bank.example\n\t\tpoll_interval 0s",
		"issuer https://bank.example\n\t\tclient c1 {\n\t\t\tauth client_secret_basic\n\t\t\tsecret_hash sha256$AAAA$BBBB\n\t\t}",
		"issuer https://bank.example\n\t\tnotifier smtp 127.0.0.1:25 {\n\t\t\tsecurity none\n\t\t\tfrom a@b.example\n\t\t}",
		"issuer https://bank.example\n\t\tnotifier webhook http://127.0.0.1:9/x {\n\t\t\tsecret whsec_AAAA\n\t\t}",
		"issuer https://bank.example\n\t\tbinding_message_pattern \"[\"\n\t\tkey_rotation -1s",
		"issuer {env.X}\n\t\tclient {\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, block string) {
		out, err := adapt("{\n\tciba {\n\t\t" + block + "\n\t}\n}\n")
		if err != nil {
			return
		}
		var cfg struct {
			Apps struct {
				CIBA *App `json:"ciba"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatalf("adapted config does not decode: %v\n%s", err, out)
		}
	})
}
