package caddyciba

import (
	"os"
	"testing"

	"github.com/caddyciba/gateway/notifier"
)

// TestNotifiersFromConfig: channels are built in order, the webhook secret read from the
// environment at start; with none configured, the log channel without links.
func TestNotifiersFromConfig(t *testing.T) {
	os.Setenv("CIBA_TEST_NOTIFY_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr")
	defer os.Unsetenv("CIBA_TEST_NOTIFY_SECRET")
	startGateway(t, gatewayConfig(t.TempDir(), `notifier webhook http://127.0.0.1:9/push {
			secret {env.CIBA_TEST_NOTIFY_SECRET}
		}
		notifier log show_links`))
	chans := activeApp(t).channels
	if len(chans) != 2 || chans[0].Name() != "webhook" || chans[1].Name() != "log" || !chans[1].(*notifier.Log).ShowLinks {
		t.Fatalf("channels %#v", chans)
	}

	startGateway(t, gatewayConfig(t.TempDir(), ""))
	chans = activeApp(t).channels
	if len(chans) != 1 || chans[0].Name() != "log" || chans[0].(*notifier.Log).ShowLinks {
		t.Fatalf("default channels %#v", chans)
	}
}
