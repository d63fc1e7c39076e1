//go:build e2e

package runner

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pushpin-go/pushpin/test/harness"
)

// waitServingAt waits until a GET of url through the stack returns want.
func waitServingAt(t *testing.T, url, want string) {
	t.Helper()
	if err := harness.WaitHTTP(wait, url, func(r *http.Response, b []byte) bool {
		return r.StatusCode == 200 && string(b) == want
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSplitLogsAndHUP: without -m each service logs to logdir/<name>.log
// and the runner to --logfile; SIGHUP to the runner is forwarded to zurl,
// the proxy and the handler, which reopen their log files (rotation), and
// the runner reopens its own.
func TestSplitLogsAndHUP(t *testing.T) {
	o := harness.NewOrigin(t)
	o.Handle("/", harness.Text(200, "ok\n"))
	cfg := ourConfig(t)
	cfg.Routes = []string{"* " + o.Target()}
	runnerLog := filepath.Join(cfg.LogDir, "runner.log")
	runner, _ := startRunner(t, cfg, "", "--logfile="+runnerLog)
	waitServingAt(t, cfg.HTTPURL()+"/", "ok\n")

	rotated := []string{"zurl", "pushpin-proxy", "pushpin-handler"}
	for _, name := range append(rotated, "condure") {
		if _, err := os.Stat(cfg.LogFile(name)); err != nil {
			t.Fatalf("split logs: %v", err)
		}
	}
	for _, name := range rotated {
		if err := os.Rename(cfg.LogFile(name), cfg.LogFile(name)+".1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(runnerLog, runnerLog+".1"); err != nil {
		t.Fatal(err)
	}
	if err := runner.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	files := []string{runnerLog}
	for _, name := range rotated {
		files = append(files, cfg.LogFile(name))
	}
	if err := harness.WaitFiles(wait, files...); err != nil {
		t.Fatalf("log files not reopened after SIGHUP: %v", err)
	}
	if err := harness.Poll(wait, "the runner's reload line in its new log", func() (bool, error) {
		b, err := os.ReadFile(runnerLog)
		return strings.Contains(string(b), "reloading"), err
	}); err != nil {
		t.Fatal(err)
	}
	// The stack still serves: SIGHUP is not a stop.
	waitServingAt(t, cfg.HTTPURL()+"/", "ok\n")
}

// TestMergedOutput: with -m the children's output goes through the
// runner's log, each line tagged with its service, and no log files are
// written.
func TestMergedOutput(t *testing.T) {
	o := harness.NewOrigin(t)
	o.Handle("/", harness.Text(200, "ok\n"))
	cfg := ourConfig(t)
	cfg.Routes = []string{"* " + o.Target()}
	runner, _ := startRunner(t, cfg, "", "-m")
	waitServingAt(t, cfg.HTTPURL()+"/", "ok\n")
	for _, tag := range []string{"condure", "zurl", "proxy", "handler"} {
		want := " [" + tag + "] "
		if err := harness.Poll(wait, "a line tagged "+tag, func() (bool, error) {
			for _, l := range strings.Split(runner.Output(), "\n") {
				// "[INFO] 2026-11-22 09:06:11.779 [handler] starting..."
				if strings.HasPrefix(l, "[") && strings.Contains(l, want) {
					return true, nil
				}
			}
			return false, nil
		}); err != nil {
			t.Errorf("%v\nrunner output:\n%s", err, runner.Output())
		}
	}
	for _, name := range services {
		if _, err := os.Stat(cfg.LogFile(name)); err == nil {
			t.Errorf("-m: %s written", cfg.LogFile(name))
		}
	}
}
