//go:build e2e

package runner

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/test/harness"
)

// binaryName is the executable name of each service under our runner, to
// recognise its pid in /proc (guards against pid reuse).
var binaryName = map[string]string{
	"condure": "condure", "condure-1": "condure", "zurl": "zurl",
	"pushpin-proxy": "proxy", "pushpin-handler": "handler",
}

// killAndWaitRestart SIGKILLs a service and waits until the runner has
// logged its death and restart and the new process is alive; it returns
// the new pid.
func (e *env) killAndWaitRestart(t *testing.T, service string) int {
	t.Helper()
	old := e.pid(service)
	if !harness.Alive(old, binaryName[service]) {
		t.Fatalf("%s: pid file says %d, which is not running", service, old)
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", service, old, err)
	}
	e.waitLog(t, service+": Exited unexpectedly (signal: killed)")
	var pid int
	if err := harness.Poll(wait, service+" restarted", func() (bool, error) {
		pid = e.pid(service)
		return pid != 0 && pid != old && harness.Alive(pid, binaryName[service]), nil
	}); err != nil {
		t.Fatalf("%v\nrunner log:\n%s", err, e.runnerLog())
	}
	e.waitLog(t, fmt.Sprintf("%s: restarted (pid %d)", service, pid))
	return pid
}

// waitServing waits until a plain request is proxied to the origin again
// (condure → proxy → zurl → origin), then checks the GRIP path: a new
// held stream on channel gets a publish (condure → proxy → handler, and
// the handler's publish input and its sessions on condure).
func (e *env) waitServing(t *testing.T, channel string) {
	t.Helper()
	e.origin.Handle("/alive", harness.Text(200, "alive\n"))
	if err := harness.WaitHTTP(wait, e.HTTPURL()+"/alive", func(r *http.Response, b []byte) bool {
		return r.StatusCode == 200 && string(b) == "alive\n"
	}); err != nil {
		t.Fatalf("not serving again: %v\nrunner log:\n%s", err, e.runnerLog())
	}
	path := "/hold-" + channel
	e.origin.Handle(path, harness.GripHold("stream", channel, "text/plain", "held\n"))
	var s *harness.Stream
	// Right after a restart, ZeroMQ peers are still reconnecting: the
	// proxy answers 500 "Accept service unavailable." until the handler is
	// connected, and a restarted condure drops packets for a proxy whose
	// ROUTER has not reconnected yet (the client then waits in vain). So
	// each attempt is short, and a new request is tried until one holds.
	if err := harness.Poll(wait, "a held stream", func() (bool, error) {
		st, err := harness.OpenStreamErr(harness.NewRequest(t, http.MethodGet, e.HTTPURL()+path, nil), 2*time.Second)
		if err != nil {
			return false, err
		}
		if st.Resp.StatusCode == 200 {
			if _, err := st.ReadUntil("held\n", 2*time.Second); err == nil {
				s = st
				return true, nil
			}
		}
		st.Close()
		return false, fmt.Errorf("status %d", st.Resp.StatusCode)
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// The stats watcher may miss the new subscription's "sub" message
	// while its SUB reconnects to a restarted handler, so publish until
	// the stream gets one (a publish before the subscription is dropped).
	if err := harness.Poll(wait, "a publish to the new held stream", func() (bool, error) {
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem(channel, "after restart\n"))
		_, err := s.ReadUntil("after restart\n", 200*time.Millisecond)
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRestartChildren kills each child with SIGKILL in turn: the runner
// logs it, restarts it, the stack serves again, and client connections
// held by the processes still alive are unaffected.
func TestRestartChildren(t *testing.T) {
	oursOnly(t)
	e := startOurs(t, nil, nil)
	// A held GRIP stream lives in condure and the handler only.
	e.origin.Handle("/held", harness.GripHold("stream", "survivor", "text/plain", "held\n"))
	held := openStream(t, e.HTTPURL()+"/held")
	if _, err := held.ReadUntil("held\n", wait); err != nil {
		t.Fatal(err)
	}
	e.waitSubscribers(t, "survivor", stats.ModeStream, 1)
	publishHeld := func(msg string) {
		t.Helper()
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("survivor", msg))
		if got, err := held.ReadUntil(msg, wait); err != nil || got != msg {
			t.Fatalf("held stream after a restart: %q %v", got, err)
		}
	}

	pids := map[string]int{}
	t.Run("zurl", func(t *testing.T) {
		pids["zurl"] = e.killAndWaitRestart(t, "zurl")
		e.waitServing(t, "after-zurl")
		publishHeld("zurl restarted\n")
	})
	t.Run("proxy", func(t *testing.T) {
		pids["pushpin-proxy"] = e.killAndWaitRestart(t, "pushpin-proxy")
		e.waitServing(t, "after-proxy")
		publishHeld("proxy restarted\n")
	})
	t.Run("handler", func(t *testing.T) {
		// A proxied (non-GRIP) stream lives in condure, the proxy and
		// zurl: the handler's death must not touch it.
		chunks := make(chan string)
		defer close(chunks)
		e.origin.Handle("/proxied", harness.StreamFrom("text/plain", chunks))
		proxied := openStream(t, e.HTTPURL()+"/proxied")
		send := func(c string) {
			t.Helper()
			chunks <- c
			if got, err := proxied.ReadUntil(c, wait); err != nil || got != c {
				t.Fatalf("proxied stream: %q %v", got, err)
			}
		}
		send("before\n")
		pids["pushpin-handler"] = e.killAndWaitRestart(t, "pushpin-handler")
		send("after handler restart\n")
		e.waitServing(t, "after-handler")
	})
	t.Run("condure", func(t *testing.T) {
		pids["condure"] = e.killAndWaitRestart(t, "condure")
		e.waitServing(t, "after-condure")
	})

	// Stopping the runner stops the restarted children too.
	e.Stop()
	for svc, pid := range pids {
		if harness.Alive(pid, binaryName[svc]) {
			t.Errorf("%s (restarted as pid %d) still running after the runner stopped", svc, pid)
		}
	}
}

// TestSIGTERM stops a busy stack with SIGTERM: every process exits, and
// the run dir keeps no socket and no pid file.
func TestSIGTERM(t *testing.T) {
	e := startOurs(t, nil, nil)
	e.origin.Handle("/held", harness.GripHold("stream", "term", "text/plain", "held\n"))
	held := openStream(t, e.HTTPURL()+"/held")
	if _, err := held.ReadUntil("held\n", wait); err != nil {
		t.Fatal(err)
	}
	e.origin.Handle("/ws", harness.WSEcho(""))
	ws := harness.DialWS(t, e.WSURL()+"/ws")
	if err := ws.WriteText("x"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(wait); err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	for svc := range binaryName {
		if pid := e.pid(svc); pid != 0 {
			pids[svc] = pid
		}
	}
	if len(pids) != 4 {
		t.Fatalf("pid files: %v", pids)
	}

	e.Stop() // SIGTERM to the runner; fails the test if it must be killed
	for svc, pid := range pids {
		if harness.Alive(pid, binaryName[svc]) {
			t.Errorf("%s (pid %d) still running", svc, pid)
		}
	}
	if left := sockets(t, e.RunDir); len(left) > 0 {
		if os.Getenv("RUNNER_E2E_ORACLE") != "" {
			// Pushpin's proxy and zurl leave theirs; ours sweeps them.
			t.Logf("Pushpin leaves socket files: %v", left)
		} else {
			t.Errorf("socket files left in the run dir: %v", left)
		}
	}
	pidFiles, _ := filepath.Glob(filepath.Join(e.RunDir, "*.pid"))
	if len(pidFiles) > 0 {
		t.Errorf("pid files left: %v", pidFiles)
	}
	log := e.runnerLog()
	if !strings.Contains(log, "stopped") {
		t.Errorf("runner did not log its stop:\n%s", log)
	}
	if strings.Contains(log, "killing") {
		// Not a failure: a loaded machine may be slow; worth seeing.
		t.Logf("a child needed SIGKILL:\n%s", log)
	}
}

// TestRunnerKilled: when the runner itself dies by SIGKILL (no chance to
// stop anything), its children die with it rather than linger.
func TestRunnerKilled(t *testing.T) {
	oursOnly(t)
	cfg := ourConfig(t)
	if err := cfg.Write(); err != nil {
		t.Fatal(err)
	}
	// Started here rather than by the harness, whose cleanup would count
	// the runner's death as a failure.
	cmd := exec.Command(harness.Binary(t, harness.Runner, harness.Ours), "--config="+cfg.ConfigPath)
	cmd.Dir = cfg.Dir
	out, err := os.Create(filepath.Join(cfg.LogDir, "runner.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	pids := map[string]int{}
	if err := harness.Poll(wait, "pid files", func() (bool, error) {
		for _, svc := range services {
			b, err := os.ReadFile(cfg.PidFile(svc))
			if err != nil {
				return false, err
			}
			pids[svc], _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waited = true
	for svc, pid := range pids {
		if err := harness.Poll(wait, svc+" to die with the runner", func() (bool, error) {
			return !harness.Alive(pid, binaryName[svc]), nil
		}); err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Error(err)
		}
	}
}
