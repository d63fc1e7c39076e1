package harness

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Stack describes a Pushpin instance to start, choosing an implementation
// per component. The zero value starts nothing; a typical all-Debian stack
// is Stack{Condure: Debian, Zurl: Debian, Proxy: Debian, Handler: Debian}.
type Stack struct {
	// Which implementation runs each component (None = not started).
	Condure, Zurl, Proxy, Handler Impl

	// Runner selects how the components are started. None starts each one
	// directly with the argv Pushpin's runner would give it (reference
	// §1.2). Debian or Ours starts that runner with the generated
	// pushpin.conf and lets it start the components: condure_bin and
	// zurl_bin name the requested binaries, and because Pushpin's runner
	// (which has no proxy_bin/handler_bin) finds pushpin-proxy and
	// pushpin-handler on PATH, the runner's PATH starts with a folder of
	// symlinks named like Pushpin's executables pointing at the requested
	// implementations.
	Runner Impl

	// Routes are the routes file lines (nil: Debian's "* test").
	Routes []string
	// LogLevel for every component; 0 means Pushpin's default 2, use
	// Verbose for 3 (debug).
	LogLevel int
	// Verbose sets log level 3 (debug) everywhere.
	Verbose bool
	// Configure, if set, may edit the generated Config (ports, buffer
	// sizes, Extra keys) before anything is written.
	Configure func(*Config)
	// ReadyTimeout bounds the whole start-up (0 = DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// NoProbe disables the end-to-end readiness request. Normally, when
	// condure, zurl and the proxy all run, the harness adds a route for
	// the host ProbeHost to a private origin and waits until a request
	// through condure → proxy → zurl → origin (→ handler, when it runs: the
	// origin's answer carries a Grip-* header) comes back, which proves
	// every ZeroMQ connection on the path is up.
	NoProbe bool
}

// ProbeHost is the Host of the harness's readiness request; its route is the
// first line of the routes file unless Stack.NoProbe is set.
const ProbeHost = "harness-ready.invalid"

// probeBody is what the readiness origin answers.
const probeBody = "harness ready\n"

// Instance is a running Pushpin started from a Stack. It is owned by the
// testing.TB given to Start and stopped by its cleanup.
type Instance struct {
	*Config
	Stack Stack

	// Procs holds the processes the harness started itself: the runner
	// (key Runner) or each component started directly.
	Procs map[Component]*Process
	// Pids holds every component's pid, read from the runner's pid files
	// when a runner started it.
	Pids map[Component]int
	// Probe is the readiness origin (nil when there is no probe).
	Probe *Origin
	// Stats watches the handler's stats socket from start-up on (nil when
	// no handler runs). Use Stats.WaitSubscribed to know when a held
	// request or WebSocket has its subscription, before publishing.
	Stats *StatsWatcher

	tb      testing.TB
	bins    map[Component]string
	stopped bool
}

// components lists the four services in the runner's start order.
var components = []Component{Condure, Zurl, Proxy, Handler}

func (s Stack) impl(c Component) Impl {
	switch c {
	case Condure:
		return s.Condure
	case Zurl:
		return s.Zurl
	case Proxy:
		return s.Proxy
	case Handler:
		return s.Handler
	case Runner:
		return s.Runner
	}
	return None
}

// Name is a short description for subtest names, e.g.
// "condure=ours,zurl=debian,proxy=debian,handler=debian,runner=none".
func (s Stack) Name() string {
	var parts []string
	for _, c := range append(components, Runner) {
		parts = append(parts, c.String()+"="+s.impl(c).String())
	}
	return strings.Join(parts, ",")
}

// Start generates the configuration, starts the stack and waits until it is
// ready. A requested Debian binary that is missing skips the test; a missing
// binary of ours fails it.
func (s Stack) Start(tb testing.TB) *Instance {
	tb.Helper()
	in := &Instance{Stack: s, Procs: map[Component]*Process{}, Pids: map[Component]int{}, tb: tb, bins: map[Component]string{}}
	var services []string
	for _, c := range components {
		if impl := s.impl(c); impl != None {
			in.bins[c] = Binary(tb, c, impl)
			services = append(services, c.ServiceName())
		}
	}
	if s.Runner != None {
		in.bins[Runner] = Binary(tb, Runner, s.Runner)
	}
	if len(services) == 0 {
		tb.Fatalf("harness: stack %s starts no component", s.Name())
	}

	cfg := NewConfig(tb)
	in.Config = cfg
	cfg.Services = services
	if s.Routes != nil {
		cfg.Routes = append([]string(nil), s.Routes...)
	}
	switch {
	case s.Verbose:
		cfg.LogLevel = 3
	case s.LogLevel != 0:
		cfg.LogLevel = s.LogLevel
	}
	if b := in.bins[Condure]; b != "" {
		cfg.CondureBin = b
	}
	if b := in.bins[Zurl]; b != "" {
		cfg.ZurlBin = b
	}
	probe := !s.NoProbe && s.Condure != None && s.Zurl != None && s.Proxy != None
	if probe {
		in.Probe = NewOrigin(tb)
		if s.Handler != None {
			// Any Grip-* header makes the proxy hand the request to the
			// handler ("accept", reference §5.2), which answers at once
			// since nothing is held. A 200 through that path proves the
			// handler's connections to the proxy and to condure are up:
			// until they are, Pushpin's proxy answers 500 "Accept service
			// unavailable." (and skips inspect).
			in.Probe.Handle("/", Text(http.StatusOK, probeBody, "Grip-Status", "200 OK"))
		} else {
			in.Probe.Handle("/", Text(http.StatusOK, probeBody))
		}
		cfg.Routes = append([]string{ProbeHost + " " + in.Probe.Target()}, cfg.Routes...)
	}
	if s.Configure != nil {
		s.Configure(cfg)
	}
	if err := cfg.Write(); err != nil {
		tb.Fatalf("harness: %v", err)
	}
	// Registered before any process so that it runs after they are all
	// stopped and their logs are complete.
	dumpLogsOnFailure(tb, cfg.LogDir)
	tb.Cleanup(in.checkNothingLeft)

	timeout := s.ReadyTimeout
	if timeout == 0 {
		timeout = DefaultReadyTimeout
	}
	deadline := time.Now().Add(timeout)
	if s.Runner != None {
		in.startRunner()
	} else {
		in.startDirect()
	}
	if err := in.waitReady(deadline, probe); err != nil {
		tb.Fatalf("harness: stack %s not ready: %v", s.Name(), err)
	}
	return in
}

// startDirect starts each component with the runner's argv, in the runner's
// order.
func (in *Instance) startDirect() {
	cfg := in.Config
	for _, c := range components {
		bin := in.bins[c]
		if bin == "" {
			continue
		}
		spec := ProcessSpec{Name: c.ServiceName(), Path: bin, Dir: cfg.Dir}
		switch c {
		case Condure:
			// The runner appends condure's stdout to logdir/condure.log.
			spec.Args, spec.Output = CondureArgs(cfg), cfg.LogFile("condure")
		case Zurl:
			spec.Args, spec.Output = ZurlArgs(cfg), filepath.Join(cfg.LogDir, "zurl.out")
		case Proxy:
			spec.Args, spec.Output = ProxyArgs(cfg, in.Stack.Zurl != None), filepath.Join(cfg.LogDir, "pushpin-proxy.out")
		case Handler:
			spec.Args, spec.Output = HandlerArgs(cfg), filepath.Join(cfg.LogDir, "pushpin-handler.out")
		}
		p := StartProcess(in.tb, spec)
		in.Procs[c] = p
		in.Pids[c] = p.Pid()
	}
}

// startRunner starts the runner with a PATH whose first folder holds
// symlinks named like Pushpin's executables, pointing at the requested
// binaries.
func (in *Instance) startRunner() {
	cfg := in.Config
	pathDir := filepath.Join(cfg.Dir, "path")
	if err := os.MkdirAll(pathDir, 0o755); err != nil {
		in.tb.Fatalf("harness: %v", err)
	}
	for _, c := range components {
		if bin := in.bins[c]; bin != "" {
			if err := os.Symlink(bin, filepath.Join(pathDir, c.ServiceName())); err != nil {
				in.tb.Fatalf("harness: %v", err)
			}
		}
	}
	p := StartProcess(in.tb, ProcessSpec{
		Name:   "runner",
		Path:   in.bins[Runner],
		Args:   RunnerArgs(cfg),
		Dir:    cfg.Dir,
		Env:    []string{"PATH=" + pathDir + string(os.PathListSeparator) + os.Getenv("PATH")},
		Output: filepath.Join(cfg.LogDir, "runner.out"),
	})
	in.Procs[Runner] = p
}

// waitReady polls until every started component is ready, failing early if
// a process exits.
func (in *Instance) waitReady(deadline time.Time, probe bool) error {
	cfg := in.Config
	var files []string
	var tcp []string
	for _, c := range components {
		if in.bins[c] == "" {
			continue
		}
		if in.Stack.Runner != None {
			files = append(files, cfg.PidFile(c.ServiceName()))
		}
		switch c {
		case Condure:
			files = append(files, ipcFiles(cfg, "condure-out", "condure-out-stream", "condure-in")...)
			tcp = append(tcp, cfg.HTTPAddr())
		case Zurl:
			files = append(files, ipcFiles(cfg, "zurl-in", "zurl-in-stream", "zurl-out")...)
		case Proxy:
			files = append(files, ipcFiles(cfg, "inspect", "accept", "retry", "ws-control-in",
				"ws-control-out", "proxy-stats", "proxy-command", "intreq-in", "intreq-in-stream", "intreq-out")...)
		case Handler:
			files = append(files, ipcFiles(cfg, "stats")...)
			tcp = append(tcp, addrOf(cfg.PushInSpec()), addrOf(cfg.PushInSubSpec()), addrOf(cfg.CommandSpec()))
		}
	}
	if err := in.poll(deadline, "socket and pid files", func() (bool, error) {
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				return false, err
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	if in.Stack.Runner != None {
		for _, c := range components {
			if in.bins[c] == "" {
				continue
			}
			pid, err := readPidFile(cfg.PidFile(c.ServiceName()))
			if err != nil {
				return err
			}
			in.Pids[c] = pid
		}
	}
	for _, addr := range tcp {
		if err := in.poll(deadline, addr+" accepting", func() (bool, error) {
			return WaitTCP(0, addr) == nil, nil
		}); err != nil {
			return err
		}
	}
	if in.bins[Handler] != "" {
		// Any HTTP answer from the control API will do.
		if err := in.poll(deadline, "handler control API", func() (bool, error) {
			return httpAnswers(cfg.ControlURL()+"/", "", "") == nil, nil
		}); err != nil {
			return err
		}
	}
	if in.bins[Handler] != "" {
		// Connected before the probe request, so the SUB is up by the
		// time the test's own traffic starts.
		in.Stats = WatchStats(in.tb, cfg.IPC("stats"))
	}
	if probe {
		var last error
		if err := in.poll(deadline, "request through condure → proxy → zurl → origin", func() (bool, error) {
			last = httpAnswers(cfg.HTTPURL()+"/", ProbeHost, probeBody)
			return last == nil, last
		}); err != nil {
			return err
		}
	}
	return nil
}

// poll is Poll bounded by an absolute deadline that also fails as soon as
// a started process has exited.
func (in *Instance) poll(deadline time.Time, what string, cond func() (bool, error)) error {
	return Poll(time.Until(deadline), what, func() (bool, error) {
		for c, p := range in.Procs {
			if done, err := p.Exited(); done {
				return false, fmt.Errorf("%w: %s exited during start-up (%v); see %s", ErrGiveUp, name(c), err, p.Spec.Output)
			}
		}
		return cond()
	})
}

func name(c Component) string {
	if c == Runner {
		return "runner"
	}
	return c.ServiceName()
}

// httpAnswers GETs url (with an optional Host) and, if want is not empty,
// requires a 200 with exactly that body.
func httpAnswers(url, host, want string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	if want != "" && (resp.StatusCode != http.StatusOK || string(body) != want) {
		return fmt.Errorf("status %d body %q", resp.StatusCode, truncate(body, 200))
	}
	return nil
}

func ipcFiles(cfg *Config, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = IPCPath(cfg.IPC(n))
	}
	return out
}

// addrOf turns tcp://host:port into host:port.
func addrOf(spec string) string { return strings.TrimPrefix(spec, "tcp://") }

func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: bad content %q", path, b)
	}
	return pid, nil
}

// Process returns the process the harness started for c (nil when a
// runner started it; see Pids).
func (in *Instance) Process(c Component) *Process { return in.Procs[c] }

// Stop stops the whole instance now (it is also stopped at cleanup): the
// runner, or each component in reverse start order, and checks that no
// component is left running.
func (in *Instance) Stop() {
	in.tb.Helper()
	if in.stopped {
		return
	}
	in.stopped = true
	order := []Component{Runner, Handler, Proxy, Zurl, Condure}
	for _, c := range order {
		if p := in.Procs[c]; p != nil {
			if err := p.Stop(); err != nil {
				in.tb.Errorf("harness: %v", err)
			}
		}
	}
	in.checkNothingLeft()
}

// checkNothingLeft makes sure every component pid is gone after the stop.
// Components started by a runner are its children, not ours: if the runner
// failed to stop one, the harness kills it (by pid, after checking its
// command line) and reports the leak.
func (in *Instance) checkNothingLeft() {
	if in.Stack.Runner == None {
		return // directly started processes are reaped by Process.Stop
	}
	for _, c := range components {
		if in.bins[c] == "" {
			continue
		}
		pid := in.Pids[c]
		if pid == 0 {
			// Start-up failed before the pid was read; a runner that
			// died without stopping its children leaves the pid file.
			pid, _ = readPidFile(in.Config.PidFile(c.ServiceName()))
		}
		if pid == 0 {
			continue
		}
		name := filepath.Base(in.bins[c])
		gone := Poll(StopGrace, fmt.Sprintf("%s (pid %d) to exit", c.ServiceName(), pid), func() (bool, error) {
			return !Alive(pid, name), nil
		})
		if gone != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			in.tb.Errorf("harness: %s (pid %d) was left running after the runner stopped; killed it", c.ServiceName(), pid)
		}
	}
}
