package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeDaemon logs like our daemons, reports SIGHUP and exits on SIGTERM.
const fakeDaemon = `#!/bin/sh
echo "[INFO] 2026-01-01 00:00:00.000 up $$"
trap 'echo "[INFO] 2026-01-01 00:00:00.000 got hup"' HUP
trap 'exit 0' TERM
while true; do sleep 0.05; done
`

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestStackRestartsHUPAndStops(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "fake")
	if err := os.WriteFile(script, []byte(fakeDaemon), 0o755); err != nil {
		t.Fatal(err)
	}
	_, path := writeConf(t, "[global]\nrundir="+filepath.Join(dir, "run")+"\n[runner]\nservices=condure,pushpin-proxy\nhttp_port=127.0.0.1:1\n"+
		"condure_bin="+script+"\nproxy_bin="+script+"\n")
	plan, err := NewPlan(Options{ConfigFile: path, ID: -1, Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	logger := slog.New(slog.NewTextHandler(&out, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- New(plan, logger, &out).Run(ctx, hup, make(chan struct{})) }()

	condurePid := filepath.Join(dir, "run", "condure.pid")
	proxyPid := filepath.Join(dir, "run", "pushpin-proxy.pid")
	waitFor(t, "both children up", func() bool {
		return strings.Count(out.String(), "] up ") == 2 && readPid(condurePid) > 0 && readPid(proxyPid) > 0
	})
	if !strings.Contains(out.String(), "[INFO] 2026-01-01 00:00:00.000 [condure] up") {
		t.Fatalf("merged output lacks the condure tag:\n%s", out.String())
	}

	// A child that dies is restarted; the other keeps running.
	first, other := readPid(condurePid), readPid(proxyPid)
	syscall.Kill(first, syscall.SIGKILL)
	waitFor(t, "condure restarted", func() bool { p := readPid(condurePid); return p > 0 && p != first && alive(p) })
	if !strings.Contains(out.String(), "condure: Exited unexpectedly") {
		t.Fatalf("restart not logged:\n%s", out.String())
	}
	if readPid(proxyPid) != other || !alive(other) {
		t.Fatal("the proxy was disturbed by condure's restart")
	}

	// SIGHUP goes to the proxy (not condure).
	hup <- struct{}{}
	waitFor(t, "HUP forwarded", func() bool {
		return strings.Contains(out.String(), "[pushpin-proxy] got hup") || strings.Contains(out.String(), "[proxy] got hup")
	})
	if strings.Contains(out.String(), "[condure] got hup") {
		t.Fatal("SIGHUP was forwarded to condure")
	}

	pids := []int{readPid(condurePid), readPid(proxyPid)}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("child %d still running after stop", pid)
		}
	}
	for _, f := range []string{condurePid, proxyPid} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pid file %s left behind", f)
		}
	}
}

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	tests := []struct {
		name   string
		writes []string
		want   []string // the lines logged, without tags
	}{
		{"empty", nil, nil},
		{"one line", []string{"[INFO] d t hello\n"}, []string{"[INFO] d t [svc] hello"}},
		{"split across writes", []string{"[INFO] d t he", "llo\nsec", "ond\n"}, []string{"[INFO] d t [svc] hello", "second"}},
		{"unterminated last line is flushed", []string{"panic: boom\ngoroutine 1"}, []string{"panic: boom", "goroutine 1"}},
		{"blank line", []string{"\n"}, []string{""}},
		{"crlf", []string{"plain\r\n"}, []string{"plain"}},
		{"huge line is cut", []string{long}, []string{long[:maxLine+10]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			w := &lineWriter{s: &Stack{out: &out}, tag: "svc"}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write: %d %v", n, err)
				}
			}
			w.flush()
			var got []string
			for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				if l == "" && out.String() == "" {
					continue
				}
				// Untagged lines get "[INFO] <date> <time> [svc] ".
				if i := strings.Index(l, " [svc] "); i >= 0 && !strings.HasPrefix(l, "[INFO] d t") {
					l = l[i+len(" [svc] "):]
				}
				got = append(got, l)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lines, want %d: %q", len(got), len(tt.want), short(got))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d: got %q, want %q", i, short([]string{got[i]}), short([]string{tt.want[i]}))
				}
			}
		})
	}
}

func short(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 60 {
			l = l[:60] + "…"
		}
		out[i] = l
	}
	return out
}

// TestMergedOutputOfCrash: what a child writes just before dying (a crash
// trace without a final newline) reaches the merged log.
func TestMergedOutputOfCrash(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "crash")
	body := "#!/bin/sh\necho '[INFO] 2026-01-01 00:00:00.000 up'\nprintf 'panic: boom\\nlast words'\nexit 2\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	_, path := writeConf(t, "[global]\nrundir="+filepath.Join(dir, "run")+"\n[runner]\nservices=condure\nhttp_port=127.0.0.1:1\ncondure_bin="+script+"\n")
	plan, err := NewPlan(Options{ConfigFile: path, ID: -1, Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- New(plan, slog.New(slog.NewTextHandler(&out, nil)), &out).Run(ctx, nil, make(chan struct{}))
	}()
	waitFor(t, "the crash logged with its last words", func() bool {
		s := out.String()
		return strings.Contains(s, "[condure] last words") && strings.Contains(s, "condure: Exited unexpectedly (exit status 2)")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRestartBackoff: a child that keeps dying at once is restarted after
// doubling delays, each one logged.
func TestRestartBackoff(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "dies")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, path := writeConf(t, "[global]\nrundir="+filepath.Join(dir, "run")+"\n[runner]\nservices=condure\nhttp_port=127.0.0.1:1\ncondure_bin="+script+"\n")
	plan, err := NewPlan(Options{ConfigFile: path, ID: -1, Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- New(plan, slog.New(slog.NewTextHandler(&out, nil)), &out).Run(ctx, nil, make(chan struct{}))
	}()
	want := []string{"restarting in 250ms", "restarting in 500ms", "restarting in 1s"}
	waitFor(t, "three restarts", func() bool { return strings.Contains(out.String(), want[2]) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	log := out.String()
	last := -1
	for _, w := range want {
		i := strings.Index(log, w)
		if i <= last {
			t.Fatalf("%q missing or out of order in:\n%s", w, log)
		}
		last = i
	}
	if n := strings.Count(log, "condure: restarted (pid "); n < 2 {
		t.Errorf("%d restarts logged, want at least 2:\n%s", n, log)
	}
}

// FuzzLineWriter feeds a child's arbitrary output, split at an arbitrary
// point, through the merged-log writer: every logged line carries the tag,
// and every output line's text is kept.
func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("[INFO] 2026-01-01 00:00:00.000 hello\nworld"), 5)
	f.Add([]byte("\n\n\r\n"), 1)
	f.Add([]byte("[[[ ]]] x y z\n[\n"), 0)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		var out syncBuffer
		w := &lineWriter{s: &Stack{out: &out}, tag: "svc"}
		if split < 0 || split > len(data) {
			split = len(data) / 2
		}
		w.Write(data[:split])
		w.Write(data[split:])
		w.flush()
		logged := out.String()
		if len(data) == 0 {
			if logged != "" {
				t.Fatalf("logged %q for no output", logged)
			}
			return
		}
		if !strings.HasSuffix(logged, "\n") {
			t.Fatalf("log does not end with a newline: %q", logged)
		}
		// Each logged line, with the tag taken out again, holds its
		// output line (after a date prefix for lines not in log format).
		var recovered []string
		for _, l := range strings.Split(strings.TrimSuffix(logged, "\n"), "\n") {
			i := strings.Index(l, "[svc] ")
			if i < 0 {
				t.Fatalf("untagged line %q", l)
			}
			recovered = append(recovered, l[:i]+l[i+len("[svc] "):])
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(lines) != len(recovered) {
			t.Fatalf("%d lines logged for %d output lines: %q", len(recovered), len(lines), logged)
		}
		for i, l := range lines {
			if !strings.Contains(recovered[i], strings.TrimRight(l, "\r")) {
				t.Fatalf("line %q became %q", l, recovered[i])
			}
		}
	})
}

// stubborn ignores SIGTERM, like a child stuck in shutdown.
const stubborn = `#!/bin/sh
trap '' TERM
echo "[INFO] 2026-01-01 00:00:00.000 up $$"
while true; do sleep 0.05; done
`

// TestStopEscalation: a child that ignores SIGTERM is killed after the
// stop timeout (logged); with the kill channel closed (a second
// SIGINT/SIGTERM to the runner) it is killed at once.
func TestStopEscalation(t *testing.T) {
	for _, second := range []bool{false, true} {
		t.Run(fmt.Sprintf("second signal=%v", second), func(t *testing.T) {
			dir := t.TempDir()
			script := filepath.Join(dir, "stubborn")
			if err := os.WriteFile(script, []byte(stubborn), 0o755); err != nil {
				t.Fatal(err)
			}
			_, path := writeConf(t, "[global]\nrundir="+filepath.Join(dir, "run")+"\n[runner]\nservices=condure\nhttp_port=127.0.0.1:1\ncondure_bin="+script+"\n")
			plan, err := NewPlan(Options{ConfigFile: path, ID: -1, Merge: true})
			if err != nil {
				t.Fatal(err)
			}
			var out syncBuffer
			st := New(plan, slog.New(slog.NewTextHandler(&out, nil)), &out)
			st.stopTimeout = 300 * time.Millisecond
			if second {
				st.stopTimeout = time.Hour // only the kill channel can end it
			}
			ctx, cancel := context.WithCancel(context.Background())
			kill := make(chan struct{})
			done := make(chan error, 1)
			go func() { done <- st.Run(ctx, nil, kill) }()
			pidFile := filepath.Join(dir, "run", "condure.pid")
			waitFor(t, "child up", func() bool { return strings.Contains(out.String(), "] up ") && readPid(pidFile) > 0 })
			pid := readPid(pidFile)
			cancel()
			if second {
				waitFor(t, "stopping", func() bool { return strings.Contains(out.String(), "stopping...") })
				close(kill)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			if alive(pid) {
				t.Fatalf("child %d survived", pid)
			}
			if got := strings.Contains(out.String(), "did not exit within"); got == second {
				t.Errorf("timeout kill logged=%v with second signal=%v:\n%s", got, second, out.String())
			}
		})
	}
}
