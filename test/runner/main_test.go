//go:build e2e

// Package runner holds the end-to-end tests of the whole all-ours stack
// (issue 7): our runner (bin/runner) starts our condure, zurl, proxy and
// handler from the same folder, and real clients — HTTP, SSE, WebSocket,
// publishers over HTTP and ZeroMQ — drive it. Supervision is tested by
// killing children and signalling the runner.
//
// Environment:
//
//	RUNNER_E2E_VERBOSE=1     every service at log level 3 (logs are printed when a test fails)
//	RUNNER_E2E_KNOWN_BUGS=1  also run the checks skipped for bugs reported in other components
//	RUNNER_E2E_ORACLE=1      run the scenarios under Debian's Pushpin instead, to check a test
//	                         itself (tests of behaviour beyond Pushpin are skipped)
//
// Every wait is on a condition (a log line, a pid file, a response), each
// bounded by wait; right after a start or a restart, ZeroMQ PUB/SUB paths
// are still joining, so the first requests are retried rather than failed.
package runner

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the run if goroutines started by the tests (origins,
// stream readers, watchers) outlive them.
func TestMain(m *testing.M) {
	base := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > base {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "leaked goroutines: %d at start, %d at end\n%s\n", base, n, buf[:runtime.Stack(buf, true)])
			code = 1
		}
	}
	os.Exit(code)
}
