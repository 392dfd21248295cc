package notifier

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestLogChannel(t *testing.T) {
	t.Parallel()
	for _, show := range []bool{false, true} {
		var buf bytes.Buffer
		core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zapcore.InfoLevel)
		l := &Log{Logger: zap.New(core), ShowLinks: show}
		if err := l.Notify(context.Background(), sample()); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, `"request":"msg_2c1f"`) || !strings.Contains(out, `"consent_id":"aac-1"`) {
			t.Fatalf("log line %s", out)
		}
		if strings.Contains(out, `"device_token"`) {
			t.Fatal("the device token was logged")
		}
		if got := strings.Contains(out, "ciba/device/r1#t=secret"); got != show {
			t.Fatalf("show_links=%v, link logged=%v: %s", show, got, out)
		}
		if got := strings.Contains(out, `"decision_url":"`+sample().DecisionURL+`"`); got != show || sample().DecisionURL == "" {
			t.Fatalf("show_links=%v, decision URL logged=%v: %s", show, got, out)
		}
	}
}
