// Package race runs the concurrency tests under the race detector, so `go test ./...` holds
// them to it without paying for -race on the whole suite.
package race

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// suites are the tests whose point is concurrency: racing guesses, racing polls, racing
// first writes, the pending-request cap, concurrent hostile requests at the gate.
var suites = []struct{ pkg, run string }{
	{"./internal/users", "TestLockoutConcurrent"},
	{"./internal/ciba", "TestConcurrentPollsRedeemOnce"},
	{"./internal/store", "TestGroupSyncUnderConcurrency|TestBadgerConformance"},
	{"./caddyciba", "TestPasswordGuessesConcurrent|TestPendingCap|TestGateOddRequestsConcurrently|TestConcurrentPollsMintOnce"},
}

func TestConcurrencyUnderRace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the packages with -race")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range suites {
		t.Run(s.pkg, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", "test", "-race", "-count=1", "-run", "^("+s.run+")$", s.pkg)
			cmd.Dir = root
			cmd.Env = os.Environ()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go test -race -run %s %s: %v\n%s", s.run, s.pkg, err, out)
			}
			if strings.Contains(string(out), "no tests to run") {
				t.Fatalf("%s has no test matching %s: a renamed test would escape the race detector", s.pkg, s.run)
			}
		})
	}
}
