package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StopGrace is how long Stop waits after SIGTERM before SIGKILL. Pushpin's
// runner waits 4 s (reference §1.2); a little more lets a runner under test
// finish its own stop sequence first.
const StopGrace = 5 * time.Second

// ProcessSpec describes a process to start.
type ProcessSpec struct {
	// Name labels the process in logs and errors ("condure").
	Name string
	// Path is the executable (absolute, or found on PATH).
	Path string
	// Args are the arguments after argv[0].
	Args []string
	// Dir is the working directory ("" = the test's).
	Dir string
	// Env, if non-nil, is added to the test process's environment
	// ("KEY=value"; later entries win).
	Env []string
	// Output receives stdout and stderr; it is created (truncated) by
	// StartProcess. Required.
	Output string
}

// Process is a child process started by the harness. Its owner is the
// testing.TB that started it: the TB's cleanup stops it.
type Process struct {
	Spec ProcessSpec

	cmd  *exec.Cmd
	out  *os.File
	done chan struct{} // closed when Wait returns
	err  error         // Wait's result, written before done is closed

	stopOnce sync.Once
	stopping chan struct{} // closed when Stop begins
}

// StartProcess starts spec and registers its stop with tb.Cleanup. The
// process gets SIGKILL if the test binary dies without cleaning up
// (Pdeathsig), so a crashed test leaves nothing running.
func StartProcess(tb testing.TB, spec ProcessSpec) *Process {
	tb.Helper()
	p, err := startProcess(spec)
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.Stop(); err != nil {
			tb.Errorf("harness: %v", err)
		}
	})
	return p
}

func startProcess(spec ProcessSpec) (*Process, error) {
	if spec.Output == "" {
		return nil, fmt.Errorf("start %s: no output file", spec.Name)
	}
	if err := os.MkdirAll(filepath.Dir(spec.Output), 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	out, err := os.OpenFile(spec.Output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	if spec.Env != nil {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	p := &Process{Spec: spec, cmd: cmd, out: out, done: make(chan struct{}), stopping: make(chan struct{})}
	// Owner: the Process; Stop waits for this goroutine through p.done.
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited (and been reaped).
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its Wait error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// CommandLine is argv as one shell-like string, for logs.
func (p *Process) CommandLine() string {
	return strings.Join(append([]string{p.Spec.Path}, p.Spec.Args...), " ")
}

// Signal sends sig to the process (by its own pid) if it is still running.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return fmt.Errorf("%s (pid %d) has exited", p.Spec.Name, p.Pid())
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// Stop ends the process: SIGTERM, then SIGKILL if it is still running after
// StopGrace, and waits for it. It returns an error if the process exited
// before Stop was called (it died unexpectedly) or had to be killed. Calling
// Stop again returns nil.
func (p *Process) Stop() error {
	var err error
	p.stopOnce.Do(func() {
		close(p.stopping)
		select {
		case <-p.done:
			err = fmt.Errorf("%s (pid %d) exited before the test stopped it: %v; see %s", p.Spec.Name, p.Pid(), p.err, p.Spec.Output)
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(StopGrace):
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-p.done:
			err = fmt.Errorf("%s (pid %d) ignored SIGTERM for %v and was killed", p.Spec.Name, p.Pid(), StopGrace)
		case <-time.After(StopGrace):
			err = fmt.Errorf("%s (pid %d) survived SIGKILL for %v", p.Spec.Name, p.Pid(), StopGrace)
		}
	})
	return err
}

// Output returns what the process wrote to stdout/stderr so far.
func (p *Process) Output() string {
	b, _ := os.ReadFile(p.Spec.Output)
	return string(b)
}

// Alive reports whether pid names a running (not zombie) process whose
// command line contains want (guards against pid reuse).
func Alive(pid int, want string) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return want == "" || bytes.Contains(cmdline, []byte(want))
}

// dumpLogsOnFailure registers a cleanup that prints the tail of every file
// in dirs when the test has failed. Register it before starting processes so
// it runs after they are stopped (cleanups run last-in first-out) and the
// logs are complete.
func dumpLogsOnFailure(tb testing.TB, dirs ...string) {
	tb.Cleanup(func() {
		if !tb.Failed() {
			return
		}
		for _, dir := range dirs {
			dumpDir(tb, dir)
		}
	})
}

// maxDump bounds how much of each log file a failing test prints.
const maxDump = 32 << 10

func dumpDir(tb testing.TB, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			tb.Logf("harness: read log dir %s: %v", dir, err)
		}
		return
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		tail, size, err := tailFile(path, maxDump)
		if err != nil {
			tb.Logf("harness: read %s: %v", path, err)
			continue
		}
		note := ""
		if size > int64(len(tail)) {
			note = fmt.Sprintf(" (last %d of %d bytes)", len(tail), size)
		}
		tb.Logf("==== %s%s ====\n%s", path, note, tail)
	}
}

func tailFile(path string, n int64) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	return b, st.Size(), err
}
