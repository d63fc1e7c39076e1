//go:build e2e

package runner

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pushpin-go/pushpin/test/harness"
)

// cmdline is a process's argv from /proc.
func cmdline(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("cmdline of %d: %v", pid, err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// ourConfig is a harness config for our runner with our binaries.
func ourConfig(t *testing.T) *harness.Config {
	t.Helper()
	cfg := harness.NewConfig(t)
	cfg.CondureBin = harness.Binary(t, harness.Condure, harness.Ours)
	cfg.ZurlBin = harness.Binary(t, harness.Zurl, harness.Ours)
	return cfg
}

// services are the four children, by their pid file names.
var services = []string{"condure", "zurl", "pushpin-proxy", "pushpin-handler"}

// startRunner writes cfg and starts our runner by hand with --config and
// args, and waits for the children's pid files (named with filePrefix,
// "pN-" under --id N). It returns the runner and the children's pids.
func startRunner(t *testing.T, cfg *harness.Config, filePrefix string, args ...string) (*harness.Process, map[string]int) {
	t.Helper()
	if err := cfg.Write(); err != nil {
		t.Fatal(err)
	}
	runner := harness.StartProcess(t, harness.ProcessSpec{
		Name:   "runner",
		Path:   harness.Binary(t, harness.Runner, harness.Ours),
		Args:   append([]string{"--config=" + cfg.ConfigPath}, args...),
		Dir:    cfg.Dir,
		Output: filepath.Join(cfg.LogDir, "runner.out"),
	})
	pids := map[string]int{}
	if err := harness.Poll(wait, filePrefix+"* pid files", func() (bool, error) {
		if done, err := runner.Exited(); done {
			return false, fmt.Errorf("%w: runner exited: %v\n%s", harness.ErrGiveUp, err, runner.Output())
		}
		for _, svc := range services {
			b, err := os.ReadFile(filepath.Join(cfg.RunDir, filePrefix+svc+".pid"))
			if err != nil {
				return false, err
			}
			pids[svc], _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	return runner, pids
}

// TestFlags starts our runner by hand with --route, --port, --id and a
// per-service --loglevel, and checks each one's effect on the children's
// argv, files and behaviour.
func TestFlags(t *testing.T) {
	fromFile, fromFlag := harness.NewOrigin(t), harness.NewOrigin(t)
	fromFile.Handle("/", harness.Text(200, "routes file\n"))
	fromFlag.Handle("/", harness.Text(200, "--route\n"))

	cfg := ourConfig(t)
	cfg.Routes = []string{"* " + fromFile.Target()}
	// --id 3 moves the handler's ports up by 30 (--port-offset=30):
	// configure them 30 below free ports.
	const offset = 30
	freeBelow := func() int { return harness.FreePort(t) - offset }
	cfg.PushInPort, cfg.PushInSubPort, cfg.ControlPort, cfg.CommandPort = freeBelow(), freeBelow(), freeBelow(), freeBelow()
	port := harness.FreePort(t)
	runner, pids := startRunner(t, cfg, "p3-",
		"--port", "127.0.0.1:"+strconv.Itoa(port),
		"--route", "* "+fromFlag.Target(),
		"--id", "3",
		"--loglevel", "2,pushpin-proxy:3,zurl:1,condure:3",
	)

	url := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := harness.WaitHTTP(wait, url+"/", func(r *http.Response, b []byte) bool {
		return r.StatusCode == 200 && string(b) == "--route\n"
	}); err != nil {
		t.Fatalf("--port and --route: %v\nrunner:\n%s", err, runner.Output())
	}
	// --port replaces http_port.
	if c, err := net.Dial("tcp", cfg.HTTPAddr()); err == nil {
		c.Close()
		t.Errorf("http_port %s still listening despite --port", cfg.HTTPAddr())
	}
	// --id 3: the handler's control API is 30 ports up.
	control := "http://127.0.0.1:" + strconv.Itoa(cfg.ControlPort+offset)
	if err := harness.WaitHTTP(wait, control+"/", nil); err != nil {
		t.Fatalf("--id 3: control API not on port_offset 30: %v", err)
	}
	harness.Publish(t, control, harness.HTTPStreamItem("nobody", "x"))

	want := map[string][]string{
		"condure": {"--log-level=3", "--listen=127.0.0.1:" + strconv.Itoa(port) + ",stream",
			"--zclient-stream=ipc://" + filepath.Join(cfg.RunDir, "p3-condure")},
		"zurl":            {"--config=" + filepath.Join(cfg.RunDir, "p3-zurl.conf"), "--loglevel=1", "--logfile=" + filepath.Join(cfg.LogDir, "p3-zurl.log")},
		"pushpin-proxy":   {"--ipc-prefix=p3-", "--loglevel=3", "--route=* " + fromFlag.Target(), "--logfile=" + filepath.Join(cfg.LogDir, "p3-pushpin-proxy.log")},
		"pushpin-handler": {"--ipc-prefix=p3-", "--port-offset=30", "--loglevel=2", "--logfile=" + filepath.Join(cfg.LogDir, "p3-pushpin-handler.log")},
	}
	for svc, args := range want {
		got := cmdline(t, pids[svc])
		for _, a := range args {
			if !slices.Contains(got, a) {
				t.Errorf("%s argv lacks %q: %q", svc, a, got)
			}
		}
	}
	// The ipc sockets carry the p3- prefix.
	for _, name := range []string{"p3-condure-in", "p3-zurl-in", "p3-accept", "p3-stats"} {
		if _, err := os.Stat(filepath.Join(cfg.RunDir, name)); err != nil {
			t.Errorf("--id 3: %v", err)
		}
	}
	// Per-service levels: the proxy logs debug lines, the handler not.
	if err := harness.Poll(wait, "debug lines in the proxy's log", func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(cfg.LogDir, "p3-pushpin-proxy.log"))
		return bytes.Contains(b, []byte("[DEBUG]")), err
	}); err != nil {
		t.Error(err)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.LogDir, "p3-pushpin-handler.log")); err != nil || bytes.Contains(b, []byte("[DEBUG]")) {
		t.Errorf("handler log at level 2: %v\n%s", err, b)
	}

	if err := runner.Stop(); err != nil {
		t.Fatal(err)
	}
	for svc, pid := range pids {
		if harness.Alive(pid, binaryName[svc]) {
			t.Errorf("%s (pid %d) still running after the runner stopped", svc, pid)
		}
	}
	if left := sockets(t, cfg.RunDir); len(left) > 0 {
		t.Errorf("socket files left: %v", left)
	}
}

// TestVersionAndHelp: --version prints "pushpin <version>" on one line as
// Pushpin does, and --help lists Pushpin's options.
func TestVersionAndHelp(t *testing.T) {
	bin := harness.Binary(t, harness.Runner, harness.Ours)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "pushpin ") || strings.Count(string(out), "\n") != 1 {
		t.Errorf("--version: %q %v", out, err)
	}
	out, err = exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for _, opt := range []string{"--config", "--logfile", "--loglevel", "--verbose", "--merge-output, -m", "--port", "--id", "--route"} {
		if !strings.Contains(string(out), opt) {
			t.Errorf("--help lacks %s:\n%s", opt, out)
		}
	}
}
