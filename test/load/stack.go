package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pushpin-go/pushpin/test/harness"
)

// Impl names one side of the comparison.
type Impl string

// The two stacks compared.
const (
	// Pushpin is Debian's Pushpin 1.36: its `pushpin` runner and the
	// condure, zurl, pushpin-proxy and pushpin-handler it starts.
	Pushpin Impl = "pushpin"
	// Ours is our bin/runner, which starts our binaries found next to it.
	Ours Impl = "ours"
)

// ourDaemons are the binaries our runner must find next to itself. Our
// runner falls back to Pushpin's executables on PATH when one is missing,
// which would silently measure Debian's component as ours, so the tool
// refuses to start an incomplete set.
var ourDaemons = []string{"condure", "zurl", "proxy", "handler"}

// StackConfig describes a stack to start.
type StackConfig struct {
	Impl Impl
	// Runner is the runner executable: Debian's `pushpin` (found on PATH)
	// or our bin/runner.
	Runner string
	// Origin is the host:port every route points at.
	Origin string
	// Dir is a fresh folder for the config, run dir and logs.
	Dir string
	// LogLevel is Pushpin's level number for every component (1: warnings).
	LogLevel int
	// ReadyTimeout bounds start-up.
	ReadyTimeout time.Duration
}

// Stack is a running runner and its children.
type Stack struct {
	Impl Impl
	Cfg  *harness.Config

	cmd     *exec.Cmd
	out     *os.File
	waitErr error
	exited  chan struct{}
	// pids of the runner's children seen while running, so Stop can make
	// sure none outlives the runner.
	childMu sync.Mutex
	childs  map[int]string
}

// freePort returns a loopback port that was free a moment ago, never one of
// Pushpin's defaults (5560–5563, 7999).
func freePort() (int, error) {
	for i := 0; i < 100; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("allocate a port: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p < 5560 || (p > 5563 && p != 7999) {
			return p, nil
		}
	}
	return 0, errors.New("allocate a port: no usable port after 100 attempts")
}

// newConfig builds the pushpin.conf both stacks run with: the harness's
// rendering (Debian's internal.conf include plus the zurl run-dir fix,
// reference §1.4), quiet logging, and the handler's publish rate limits
// raised far above anything the workloads offer, so neither side drops or
// delays deliveries because of [handler] message_rate/message_hwm (Pushpin's
// shipped 2500 msgs/s would dominate the fan-out figures).
func newConfig(sc StackConfig) (*harness.Config, error) {
	ports := make([]int, 5)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	cfg := &harness.Config{
		Dir:              sc.Dir,
		ConfigPath:       filepath.Join(sc.Dir, "pushpin.conf"),
		RoutesPath:       filepath.Join(sc.Dir, "routes"),
		RunDir:           filepath.Join(sc.Dir, "run"),
		LogDir:           filepath.Join(sc.Dir, "log"),
		IPCPrefix:        "pushpin-",
		LogLevel:         sc.LogLevel,
		HTTPPort:         ports[0],
		ClientBufferSize: 8192,
		ClientMaxConn:    50000,
		PushInPort:       ports[1],
		PushInSubPort:    ports[2],
		ControlPort:      ports[3],
		CommandPort:      ports[4],
		Services:         []string{"condure", "zurl", "pushpin-proxy", "pushpin-handler"},
		CondureBin:       "condure",
		ZurlBin:          "zurl",
		Routes: []string{
			"*,proto=ws " + sc.Origin + ",over_http",
			"* " + sc.Origin,
		},
		Extra: map[string]map[string]string{
			"handler": {
				"message_rate": "10000000",
				"message_hwm":  "10000000",
			},
		},
	}
	if sc.Impl == Ours {
		dir := filepath.Dir(sc.Runner)
		cfg.CondureBin = filepath.Join(dir, "condure")
		cfg.ZurlBin = filepath.Join(dir, "zurl")
	}
	return cfg, nil
}

// checkOurBinaries reports the first of our binaries that is missing or not
// executable.
func checkOurBinaries(runner string) error {
	dir := filepath.Dir(runner)
	for _, name := range append([]string{filepath.Base(runner)}, ourDaemons...) {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("our %s binary %s is missing or not executable (run `make build`)", name, p)
		}
	}
	return nil
}

// StartStack writes the configuration, starts the runner and waits until a
// request through condure → proxy → zurl → origin comes back and the
// handler's control API answers.
func StartStack(ctx context.Context, sc StackConfig) (*Stack, error) {
	if sc.Impl == Ours {
		if err := checkOurBinaries(sc.Runner); err != nil {
			return nil, err
		}
	}
	cfg, err := newConfig(sc)
	if err != nil {
		return nil, err
	}
	if err := cfg.Write(); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(cfg.LogDir, "runner.out"))
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", sc.Impl, err)
	}
	cmd := exec.Command(sc.Runner, harness.RunnerArgs(cfg)...)
	cmd.Dir = cfg.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so a stuck runner's children can be found and
	// stopped by the group id of the runner we started; SIGKILL if the tool
	// dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s runner %s: %w", sc.Impl, sc.Runner, err)
	}
	s := &Stack{Impl: sc.Impl, Cfg: cfg, cmd: cmd, out: out, exited: make(chan struct{}), childs: map[int]string{}}
	// Owner: the Stack; Stop waits for exited.
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	timeout := sc.ReadyTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if err := s.waitReady(ctx, timeout); err != nil {
		stopErr := s.Stop()
		return nil, joinErrs(fmt.Errorf("%s stack not ready: %w%s", sc.Impl, err, s.logTail()), stopErr)
	}
	s.recordChildren()
	if sc.Impl == Ours {
		if err := s.checkChildrenAreOurs(filepath.Dir(sc.Runner)); err != nil {
			return nil, joinErrs(err, s.Stop())
		}
	}
	return s, nil
}

// Pid is the runner's pid, the root of the stack's process tree.
func (s *Stack) Pid() int { return s.cmd.Process.Pid }

// HTTPAddr is condure's client listener.
func (s *Stack) HTTPAddr() string { return s.Cfg.HTTPAddr() }

// PublishURL is the handler's HTTP publish endpoint.
func (s *Stack) PublishURL() string { return s.Cfg.ControlURL() + "/publish/" }

// Usage is the summed RSS and CPU of the runner and its descendants.
func (s *Stack) Usage() TreeUsage { return treeUsage(s.Pid()) }

func (s *Stack) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	probes := []struct {
		what, url, want string
	}{
		{"request through condure → proxy → zurl → origin", "http://" + s.HTTPAddr() + "/hello", HelloBody},
		{"handler control API", s.Cfg.ControlURL() + "/", ""},
	}
	for _, p := range probes {
		var last error
		for attempt := 0; ; attempt++ {
			select {
			case <-s.exited:
				return fmt.Errorf("runner exited during start-up: %v", s.waitErr)
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
			last = get(client, p.url, p.want)
			if last == nil {
				break
			}
			if time.Now().After(deadline) || attempt > 10000 {
				return fmt.Errorf("%s: %w", p.what, last)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// get fetches url and, when want is set, requires 200 with that body.
func get(client *http.Client, url, want string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	if want != "" && (resp.StatusCode != http.StatusOK || string(body) != want) {
		return fmt.Errorf("status %d, body %q", resp.StatusCode, trim(body, 120))
	}
	return nil
}

func trim(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// recordChildren remembers the runner's descendants and their executables.
func (s *Stack) recordChildren() {
	s.childMu.Lock()
	defer s.childMu.Unlock()
	for _, st := range processTree(s.Pid())[1:] {
		exe, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(st.pid), "exe"))
		s.childs[st.pid] = exe
	}
}

// checkChildrenAreOurs verifies that every component the runner started is
// one of our binaries, not a Pushpin executable found on PATH.
func (s *Stack) checkChildrenAreOurs(binDir string) error {
	s.childMu.Lock()
	defer s.childMu.Unlock()
	if len(s.childs) < len(ourDaemons) {
		return fmt.Errorf("our runner runs %d processes, want at least %d", len(s.childs), len(ourDaemons))
	}
	for pid, exe := range s.childs {
		if filepath.Dir(exe) != binDir {
			return fmt.Errorf("our runner started %s (pid %d), not one of our binaries in %s", exe, pid, binDir)
		}
	}
	return nil
}

// Stop sends SIGTERM to the runner, waits for it and its children (up to
// 10 s), then SIGKILLs whatever of the runner's process group or recorded
// children is left.
func (s *Stack) Stop() error {
	defer s.out.Close()
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	var errs []error
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		errs = append(errs, fmt.Errorf("%s runner (pid %d) did not stop within 10 s of SIGTERM; killed", s.Impl, s.Pid()))
		_ = syscall.Kill(-s.Pid(), syscall.SIGKILL)
		<-s.exited
	}
	s.childMu.Lock()
	defer s.childMu.Unlock()
	for pid, exe := range s.childs {
		gone := false
		for i := 0; i < 100 && !gone; i++ {
			cur, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
			gone = err != nil || cur != exe
			if !gone {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if !gone {
			errs = append(errs, fmt.Errorf("%s: %s (pid %d) outlived the runner; killed", s.Impl, filepath.Base(exe), pid))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return joinErrs(errs...)
}

// logTail returns the last lines of the stack's logs, for errors.
func (s *Stack) logTail() string {
	entries, err := os.ReadDir(s.Cfg.LogDir)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(s.Cfg.LogDir, e.Name()))
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 3 {
			lines = lines[len(lines)-3:]
		}
		fmt.Fprintf(&b, "\n  %s: %s", e.Name(), strings.Join(lines, "\n    "))
	}
	return b.String()
}
