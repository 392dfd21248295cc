package caddyciba

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/token"
)

// listenerFile listens on a free loopback port and returns the port and the listening
// socket as a file, for a client script to serve on (startClient hands it over): a port
// closed here and bound again by the script could be taken by anyone in between.
func listenerFile(t *testing.T) (int, *os.File) {
	t.Helper()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return l.Addr().(*net.TCPAddr).Port, f
}

// TestOpenIDClientCIBA runs the seed's flow with openid-client v6 in poll, ping and push
// mode: client credentials, the consent, a signed request object carrying it, approval by
// a bank push service (node) that verifies the webhook and calls the decision API, then
// the tokens (ID token signature checked) — and the consent Authorised with that account.
func TestOpenIDClientCIBA(t *testing.T) {
	jwkJSON, err := json.Marshal(fx.pkjKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"poll", "ping", "push"} {
		t.Run(mode, func(t *testing.T) {
			hookPort, hookFile := listenerFile(t)
			cbPort, cbFile := listenerFile(t)
			clientID := "tpp-pkj"
			extra := fmt.Sprintf(`users %s
		poll_interval 1s
		notifier webhook http://127.0.0.1:%d/hook {
			secret %s
		}`, writeUsers(t), hookPort, webhookSecret)
			if mode != "poll" {
				clientID = "tpp-pkj-" + mode
				extra += fmt.Sprintf(`
		client %s {
			auth                  private_key_jwt
			jwks_file             %s/pkj.jwks.json
			scopes                openid accounts
			delivery_mode         %s
			notification_endpoint http://127.0.0.1:%d/cb
		}`, clientID, fx.dir, mode, cbPort)
			}
			startGateway(t, gatewayConfig(t.TempDir(), extra))
			var got struct {
				ConsentID   string  `json:"consent_id"`
				AccessToken string  `json:"access_token"`
				Sub         string  `json:"sub"`
				AuthTime    float64 `json:"auth_time"`
				ExpiresIn   float64 `json:"expires_in"`
			}
			// The script serves the webhook and the callback on the sockets made here: fds 3 and 4.
			startClient(t, "ciba.mjs", map[string]string{
				"ISSUER": httpBase, "CLIENT_ID": clientID, "CLIENT_JWK": string(jwkJSON), "MODE": mode,
				"WEBHOOK_FD": "3", "WEBHOOK_SECRET": webhookSecret, "CB_FD": "4",
				"ACCOUNT": "acc-2",
			}, 60*time.Second, hookFile, cbFile)(&got)
			if got.Sub != "sub-alice" || got.AuthTime == 0 || got.ExpiresIn != 120 {
				t.Fatalf("client got %+v", got)
			}
			c, err := activeApp(t).provider.Consents.Get(got.ConsentID)
			if err != nil || c.Status != consent.Authorised || c.ClientID != clientID || !slices.Equal(c.AccountIDs, []string{"acc-2"}) {
				t.Fatalf("consent %+v, %v", c, err)
			}
			rec, err := token.LookupAccess(activeApp(t).Store(), got.AccessToken, time.Now())
			if err != nil || rec.ConsentID != got.ConsentID || rec.Grant != token.CIBA || rec.Subject != "sub-alice" {
				t.Fatalf("access token %+v, %v", rec, err)
			}
			if r := accountCall(t, "/accounts/acc-2", got.AccessToken); r.status != http.StatusOK {
				t.Fatalf("gate: %d %s", r.status, r.raw)
			}
		})
	}
}
