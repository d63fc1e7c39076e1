//go:build e2e

package runner

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/test/harness"
)

// wait bounds each single expectation.
const wait = 10 * time.Second

// env is a running all-ours stack under our runner, plus its origin.
type env struct {
	*harness.Instance
	origin *harness.Origin
}

// startOurs starts our runner with our four services in front of a fresh
// origin. routes builds the routes file from the origin (nil: everything
// goes to the origin); configure may edit the generated config.
func startOurs(t *testing.T, routes func(o *harness.Origin) []string, configure func(*harness.Config)) *env {
	t.Helper()
	o := harness.NewOrigin(t)
	r := []string{"* " + o.Target()}
	if routes != nil {
		r = routes(o)
	}
	// warmUp's requests always go to the test's origin.
	r = append([]string{"*,path_beg=/_warm " + o.Target()}, r...)
	impl := harness.Ours
	if os.Getenv("RUNNER_E2E_ORACLE") != "" {
		// Checks a scenario itself: the same test under Debian's Pushpin.
		impl = harness.Debian
	}
	in := harness.Stack{
		Condure: impl, Zurl: impl, Proxy: impl, Handler: impl,
		Runner: impl, Routes: r, Configure: configure,
		Verbose: os.Getenv("RUNNER_E2E_VERBOSE") != "",
	}.Start(t)
	e := &env{Instance: in, origin: o}
	e.warmUp(t)
	return e
}

// warmUp waits until the handler's responses reach condure. The harness's
// readiness probe goes through the handler's accept, but the handler
// answers it in its accept reply and the proxy sends it to condure: the
// handler's own PUB to condure is not proven, and until it has joined,
// what the handler sends (a held request's response) is dropped by
// ZeroMQ. The initial body of a held stream is sent by the handler, so a
// hold that shows its body proves the path; each attempt is a fresh
// request.
func (e *env) warmUp(t *testing.T) {
	t.Helper()
	e.origin.Handle("/_warm", harness.GripHold("stream", "_warm", "text/plain", "warm\n"))
	if err := harness.Poll(wait, "a response sent by the handler", func() (bool, error) {
		s, err := harness.OpenStreamErr(harness.NewRequest(t, http.MethodGet, e.HTTPURL()+"/_warm", nil), time.Second)
		if err != nil {
			return false, err
		}
		defer s.Close()
		_, err = s.ReadUntil("warm\n", time.Second)
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string, headers ...string) *harness.Response {
	t.Helper()
	return harness.Do(t, harness.NewRequest(t, http.MethodGet, url, nil, headers...))
}

func openStream(t *testing.T, url string, headers ...string) *harness.Stream {
	t.Helper()
	return harness.OpenStream(t, harness.NewRequest(t, http.MethodGet, url, nil, headers...))
}

// runnerLog is what the runner has logged so far (its stdout).
func (e *env) runnerLog() string {
	return e.Procs[harness.Runner].Output()
}

// waitLog waits until the runner's log contains want.
func (e *env) waitLog(t *testing.T, want string) {
	t.Helper()
	if err := harness.Poll(wait, "runner log line "+strconv.Quote(want), func() (bool, error) {
		return strings.Contains(e.runnerLog(), want), nil
	}); err != nil {
		t.Fatalf("%v\nrunner log:\n%s", err, e.runnerLog())
	}
}

// pid reads a service's pid file (0 when absent).
func (e *env) pid(service string) int {
	b, err := os.ReadFile(e.PidFile(service))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// sockets lists the socket files left in dir.
func sockets(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var out []string
	for _, e := range entries {
		if e.Type()&os.ModeSocket != 0 {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// short abbreviates b for failure messages.
func short(b []byte) string {
	if len(b) <= 80 {
		return string(b)
	}
	return fmt.Sprintf("%s… (%d bytes)", b[:80], len(b))
}

// knownBug skips the rest of a test that exposes a bug reported to the
// owner of another component, unless RUNNER_E2E_KNOWN_BUGS is set (to
// check whether it has been fixed). The skip message says what fails.
func knownBug(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("RUNNER_E2E_KNOWN_BUGS") == "" && os.Getenv("RUNNER_E2E_ORACLE") == "" {
		t.Skip("known bug (set RUNNER_E2E_KNOWN_BUGS=1 to run): " + what)
	}
}

// oursOnly skips a test of behaviour Pushpin's runner does not have
// (restarts, condure_instances) in the RUNNER_E2E_ORACLE run.
func oursOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("RUNNER_E2E_ORACLE") != "" {
		t.Skip("beyond Pushpin: our runner only")
	}
}
