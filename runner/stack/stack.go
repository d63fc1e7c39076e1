package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StopTimeout is how long a child has to exit after SIGTERM before it is
// killed, as in Pushpin's runner.
const StopTimeout = 4 * time.Second

// Restart backoff for a child that died: doubles from RestartMin to
// RestartMax, and starts over once a child has run for RestartReset.
const (
	RestartMin   = 250 * time.Millisecond
	RestartMax   = 10 * time.Second
	RestartReset = 30 * time.Second
)

// Stack runs a Plan.
type Stack struct {
	plan *Plan
	log  *slog.Logger
	// out receives children's merged output (Plan.LogDir == "").
	out io.Writer
	// outMu serialises merged lines from several children.
	outMu sync.Mutex

	mu    sync.Mutex
	procs map[string]*os.Process // running children by service name

	// stopTimeout is StopTimeout (shortened by tests).
	stopTimeout time.Duration
}

// New returns a Stack for plan, logging through logger; merged child output
// is written to out.
func New(plan *Plan, logger *slog.Logger, out io.Writer) *Stack {
	return &Stack{plan: plan, log: logger, out: out, procs: map[string]*os.Process{}, stopTimeout: StopTimeout}
}

// Run starts every service and supervises them until ctx is cancelled; then
// it stops them (SIGTERM, then SIGKILL after StopTimeout, or at once when
// kill is closed) and returns. hup delivers SIGHUP requests to forward.
func (s *Stack) Run(ctx context.Context, hup <-chan struct{}, kill <-chan struct{}) error {
	p := s.plan
	if err := os.MkdirAll(p.RunDir, 0o755); err != nil {
		return fmt.Errorf("create rundir: %w", err)
	}
	if p.LogDir != "" {
		if err := os.MkdirAll(p.LogDir, 0o755); err != nil {
			return fmt.Errorf("create logdir: %w", err)
		}
	}
	if p.ZurlConfPath != "" {
		if err := os.WriteFile(p.ZurlConfPath, p.ZurlConf, 0o644); err != nil {
			return fmt.Errorf("write zurl config: %w", err)
		}
	}
	for _, n := range p.Notes {
		s.log.Info(n)
	}

	var wg sync.WaitGroup
	started := make(chan error, len(p.Services))
	for i := range p.Services {
		svc := &p.Services[i]
		wg.Add(1)
		// Owner: Run; each supervisor returns once its child has exited
		// after ctx is cancelled.
		go func() {
			defer wg.Done()
			s.supervise(ctx, svc, started, kill)
		}()
		// Start in Pushpin's order: wait until this child has been spawned
		// before spawning the next.
		select {
		case err := <-started:
			if err != nil {
				s.log.Error(fmt.Sprintf("%s: failed to start: %v", svc.Name, err))
			}
		case <-ctx.Done():
		}
	}
	if ctx.Err() == nil {
		s.log.Info("started")
	}
	for {
		select {
		case <-hup:
			s.log.Info("reloading")
			s.forwardHUP()
		case <-ctx.Done():
			s.log.Info("stopping...")
			wg.Wait()
			s.removeSockets()
			s.log.Info("stopped")
			return nil
		}
	}
}

func (s *Stack) forwardHUP() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, svc := range s.plan.Services {
		if proc := s.procs[svc.Name]; proc != nil && svc.Reload {
			_ = proc.Signal(syscall.SIGHUP)
		}
	}
}

// supervise runs one service, restarting it with backoff when it dies,
// until ctx is cancelled. The first start's outcome goes to started.
func (s *Stack) supervise(ctx context.Context, svc *Service, started chan<- error, kill <-chan struct{}) {
	backoff := RestartMin
	first := true
	for {
		cmd, wait, err := s.start(svc)
		if first {
			started <- err
		} else if err != nil {
			s.log.Error(fmt.Sprintf("%s: restart failed (%v); retrying in %v", svc.Name, err, backoff))
		} else {
			s.log.Info(fmt.Sprintf("%s: restarted (pid %d)", svc.Name, cmd.Process.Pid))
		}
		first = false
		if err != nil {
			if !s.sleep(ctx, &backoff) {
				return
			}
			continue
		}
		begin := time.Now()
		exited := make(chan error, 1)
		go func() { exited <- wait() }() // owner: this supervisor, which always receives
		select {
		case err := <-exited:
			s.forget(svc, cmd.Process)
			if ctx.Err() != nil {
				return
			}
			// A child that ran for a while starts its backoff over (before
			// the log line, so the line tells the delay really used).
			if time.Since(begin) >= RestartReset {
				backoff = RestartMin
			}
			s.log.Error(fmt.Sprintf("%s: Exited unexpectedly (%v); restarting in %v", svc.Name, exitText(err), backoff))
			if !s.sleep(ctx, &backoff) {
				return
			}
		case <-ctx.Done():
			s.stop(svc, cmd, exited, kill)
			s.forget(svc, cmd.Process)
			return
		}
	}
}

func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// sleep waits out the backoff (doubling it) unless ctx ends first.
func (s *Stack) sleep(ctx context.Context, backoff *time.Duration) bool {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	*backoff = min(*backoff*2, RestartMax)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after StopTimeout or when kill closes.
func (s *Stack) stop(svc *Service, cmd *exec.Cmd, exited <-chan error, kill <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(s.stopTimeout)
	defer t.Stop()
	select {
	case <-exited:
		return
	case <-t.C:
		s.log.Warn(fmt.Sprintf("%s: did not exit within %v, killing", svc.Name, s.stopTimeout))
	case <-kill:
	}
	_ = cmd.Process.Kill()
	<-exited
}

// outputWait bounds how long reaping a child waits for its output pipe to
// close after it exited (a grandchild could hold it open forever).
const outputWait = 2 * time.Second

// start spawns the child with its output wired up and writes its pid file.
// The returned function reaps the child: it waits for it to exit and for
// its output to be fully written, like exec.Cmd.Wait.
func (s *Stack) start(svc *Service) (*exec.Cmd, func() error, error) {
	cmd := exec.Command(svc.Path, svc.Args...)
	// Own process group, so a terminal's Ctrl-C reaches only the runner,
	// which stops children in order; and die with the runner if it is
	// killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var tagged *lineWriter
	var logFile *os.File
	if svc.LogFile == "" {
		// One writer for both streams: exec then uses one pipe and one
		// copying goroutine, and Wait returns only once it has copied
		// everything (a StdoutPipe read next to Wait could lose the end
		// of a crash trace).
		tagged = &lineWriter{s: s, tag: svc.Tag}
		cmd.Stdout, cmd.Stderr = tagged, tagged
		cmd.WaitDelay = outputWait
	} else {
		f, err := os.OpenFile(svc.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		logFile = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return nil, nil, err
	}
	if logFile != nil {
		logFile.Close() // the child holds its own descriptor
	}
	s.mu.Lock()
	s.procs[svc.Name] = cmd.Process
	s.mu.Unlock()
	if err := os.WriteFile(svc.PidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		s.log.Warn(fmt.Sprintf("%s: write pid file: %v", svc.Name, err))
	}
	wait := func() error {
		err := cmd.Wait()
		if tagged != nil {
			tagged.flush()
		}
		return err
	}
	return cmd, wait, nil
}

func (s *Stack) forget(svc *Service, proc *os.Process) {
	s.mu.Lock()
	if s.procs[svc.Name] == proc {
		delete(s.procs, svc.Name)
		if err := os.Remove(svc.PidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn(fmt.Sprintf("%s: remove pid file: %v", svc.Name, err))
		}
	}
	s.mu.Unlock()
}

// maxLine bounds a child's unterminated output line: a longer one is
// logged in pieces rather than buffered without limit.
const maxLine = 1 << 20

// lineWriter re-logs a child's output (merged mode) line by line with its
// tag inserted. exec's copying goroutine is its only writer.
type lineWriter struct {
	s    *Stack
	tag  string
	buf  []byte // the unterminated rest of the output so far
	line []byte // scratch for TagLine
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) >= maxLine {
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
	// Keep the buffer from pinning a large backing array.
	if len(w.buf) == 0 && cap(w.buf) > 64<<10 {
		w.buf = nil
	}
	return len(p), nil
}

// flush logs a last line that had no newline (after the child exited).
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

func (w *lineWriter) emit(line []byte) {
	w.line = TagLine(w.line[:0], line, w.tag, time.Now())
	w.s.outMu.Lock()
	_, _ = w.s.out.Write(w.line)
	w.s.outMu.Unlock()
}

// TagLine inserts "[tag] " into a child's log line the way Pushpin's runner
// merges output: after the third space of a "[LEVEL] date time " line. Other
// lines (a panic trace, say) get a runner-style prefix so nothing is
// unattributed. The result ends with a newline.
func TagLine(dst, line []byte, tag string, now time.Time) []byte {
	if len(line) > 0 && line[0] == '[' {
		spaces := 0
		for i, c := range line {
			if c == ' ' {
				spaces++
				if spaces == 3 {
					dst = append(dst, line[:i+1]...)
					dst = append(dst, '[')
					dst = append(dst, tag...)
					dst = append(dst, "] "...)
					dst = append(dst, line[i+1:]...)
					return append(dst, '\n')
				}
			}
		}
	}
	dst = append(dst, "[INFO] "...)
	dst = now.AppendFormat(dst, "2006-01-02 15:04:05.000")
	dst = append(dst, " ["...)
	dst = append(dst, tag...)
	dst = append(dst, "] "...)
	dst = append(dst, bytes.TrimRight(line, "\r")...)
	return append(dst, '\n')
}

// removeSockets deletes ipc socket files of this stack (the run dir entries
// named with its ipc prefix) that a stopped child left behind; Pushpin's own
// proxy and zurl leave theirs.
func (s *Stack) removeSockets() {
	prefix := s.plan.Config.Global.IPCPrefix
	entries, err := os.ReadDir(s.plan.RunDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type()&os.ModeSocket == 0 || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if err := os.Remove(filepath.Join(s.plan.RunDir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("remove socket file: " + err.Error())
		}
	}
}

// PidFiles lists the pid files the plan writes (for tests and tools).
func (p *Plan) PidFiles() []string {
	out := make([]string, 0, len(p.Services))
	for _, s := range p.Services {
		out = append(out, filepath.Clean(s.PidFile))
	}
	return out
}
