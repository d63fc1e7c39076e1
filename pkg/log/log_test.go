package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"
)

// fixed is a record time in the local zone, so the expected text does not
// depend on the machine's time zone.
var fixed = time.Date(2026, 11, 22, 4, 42, 35, 412_345_678, time.Local)

func record(level slog.Level, msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(fixed, level, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

type errString string

func (e errString) Error() string { return string(e) }

type stringer struct{}

func (stringer) String() string { return "i am a stringer" }

type lazy struct{}

func (lazy) LogValue() slog.Value { return slog.StringValue("resolved") }

func TestFormat(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		rec   slog.Record
		setup func(slog.Handler) slog.Handler
		want  string
	}{
		{name: "info", rec: record(LevelInfo, "starting..."),
			want: "[INFO] 2026-11-22 04:42:35.412 starting...\n"},
		{name: "error", rec: record(LevelError, "unable to bind to in_spec: ipc:///x"),
			want: "[ERR] 2026-11-22 04:42:35.412 unable to bind to in_spec: ipc:///x\n"},
		{name: "warn", rec: record(LevelWarn, "w"), want: "[WARN] 2026-11-22 04:42:35.412 w\n"},
		{name: "debug", opts: Options{Level: LevelTrace}, rec: record(LevelDebug, "d"),
			want: "[DEBUG] 2026-11-22 04:42:35.412 d\n"},
		{name: "trace", opts: Options{Level: LevelTrace}, rec: record(LevelTrace, "t"),
			want: "[TRACE] 2026-11-22 04:42:35.412 t\n"},
		{name: "between levels takes the lower name", rec: record(LevelWarn+1, "x"),
			want: "[WARN] 2026-11-22 04:42:35.412 x\n"},
		{name: "above error", rec: record(LevelError+4, "x"),
			want: "[ERR] 2026-11-22 04:42:35.412 x\n"},
		{name: "component", opts: Options{Component: "condure"}, rec: record(LevelInfo, "starting..."),
			want: "[INFO] 2026-11-22 04:42:35.412 [condure] starting...\n"},
		{name: "zero time omitted", rec: slog.NewRecord(time.Time{}, LevelInfo, "m", 0),
			want: "[INFO] m\n"},
		{name: "empty message", rec: record(LevelInfo, ""),
			want: "[INFO] 2026-11-22 04:42:35.412 \n"},
		{name: "kinds", rec: record(LevelInfo, "publish",
			slog.String("channel", "test"), slog.Int("receivers", 1), slog.Uint64("u", 7),
			slog.Float64("f", 1.5), slog.Bool("ok", true), slog.Duration("d", 1500*time.Millisecond),
			slog.Time("at", fixed), slog.Any("err", errString("boom")), slog.Any("s", stringer{}),
			slog.Any("b", []byte("raw")), slog.Any("v", []int{1, 2}), slog.Any("lazy", lazy{})),
			want: "[INFO] 2026-11-22 04:42:35.412 publish channel=test receivers=1 u=7 f=1.5 ok=true d=1.5s" +
				" at=\"2026-11-22 04:42:35.412\" err=boom s=\"i am a stringer\" b=raw v=\"[1 2]\" lazy=resolved\n"},
		{name: "quoting", rec: record(LevelInfo, "m",
			slog.String("empty", ""), slog.String("space", "a b"), slog.String("eq", "a=b"),
			slog.String("quote", `a"b`), slog.String("nl", "a\nb"), slog.String("utf8", "héllo"),
			slog.String("bad", "\xff"), slog.String("key with space", "v")),
			want: `[INFO] 2026-11-22 04:42:35.412 m empty="" space="a b" eq="a=b" quote="a\"b" nl="a\nb" utf8=héllo bad="\xff" "key with space"=v` + "\n"},
		{name: "groups", rec: record(LevelInfo, "m",
			slog.Group("req", slog.String("method", "GET"), slog.Group("h", slog.Int("n", 2))),
			slog.Group("empty"), slog.Group("", slog.Int("inlined", 1)), slog.Attr{}),
			want: "[INFO] 2026-11-22 04:42:35.412 m req.method=GET req.h.n=2 inlined=1\n"},
		{name: "with attrs and group", rec: record(LevelInfo, "m", slog.Int("c", 3)),
			setup: func(h slog.Handler) slog.Handler {
				return h.WithAttrs([]slog.Attr{slog.Int("a", 1)}).WithGroup("g").WithAttrs([]slog.Attr{slog.Int("b", 2)})
			},
			want: "[INFO] 2026-11-22 04:42:35.412 m a=1 g.b=2 g.c=3\n"},
		{name: "empty group name ignored", rec: record(LevelInfo, "m", slog.Int("c", 3)),
			setup: func(h slog.Handler) slog.Handler { return h.WithGroup("").WithAttrs(nil) },
			want:  "[INFO] 2026-11-22 04:42:35.412 m c=3\n"},
		{name: "huge message", rec: record(LevelInfo, strings.Repeat("x", 100_000)),
			want: "[INFO] 2026-11-22 04:42:35.412 " + strings.Repeat("x", 100_000) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			var h slog.Handler = NewHandler(&buf, &tt.opts)
			if tt.setup != nil {
				h = tt.setup(h)
			}
			if !h.Enabled(context.Background(), tt.rec.Level) {
				t.Fatalf("level %v not enabled", tt.rec.Level)
			}
			if err := h.Handle(context.Background(), tt.rec); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// linePattern is the prefix Pushpin's runner relies on when it merges child
// output: "[LEVEL] date time " (the service name goes after the third
// space).
var linePattern = regexp.MustCompile(`^\[(ERR|WARN|INFO|DEBUG|TRACE)\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} `)

func TestLoggerLinesMatchPushpinPrefix(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, LevelTrace, "handler")
	l.Error("e")
	l.Warn("w")
	l.Info("i", "k", "v")
	l.Debug("d")
	Trace(l, "t")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines: %q", len(lines), buf.String())
	}
	for i, want := range []string{"ERR", "WARN", "INFO", "DEBUG", "TRACE"} {
		m := linePattern.FindStringSubmatch(lines[i])
		if m == nil || m[1] != want {
			t.Errorf("line %d %q: want a [%s] Pushpin prefix", i, lines[i], want)
		}
		if !strings.Contains(lines[i], " [handler] ") {
			t.Errorf("line %d %q: no component tag", i, lines[i])
		}
	}
}

func TestLevels(t *testing.T) {
	numbers := []struct {
		n    int
		want slog.Level
	}{
		{-5, LevelError}, {0, LevelError}, {1, LevelWarn}, {2, LevelInfo}, {3, LevelDebug}, {4, LevelTrace}, {99, LevelTrace},
	}
	for _, tt := range numbers {
		if got := FromNumber(tt.n); got != tt.want {
			t.Errorf("FromNumber(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	for n := range 5 {
		if got := ToNumber(FromNumber(n)); got != n {
			t.Errorf("ToNumber(FromNumber(%d)) = %d", n, got)
		}
	}
	if ToNumber(LevelWarn+1) != 1 || ToNumber(LevelTrace-10) != 4 || ToNumber(LevelError+3) != 0 {
		t.Error("ToNumber of in-between levels")
	}

	parses := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{in: "0", want: LevelError}, {in: "2", want: LevelInfo}, {in: " 3 ", want: LevelDebug}, {in: "9", want: LevelTrace},
		{in: "-1", wantErr: true}, {in: "", wantErr: true}, {in: "info", wantErr: true}, {in: "2.5", wantErr: true},
		{in: "99999999999999999999", wantErr: true},
	}
	for _, tt := range parses {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}

	// Filtering follows the numeric level, and a LevelVar changes it live.
	var lv slog.LevelVar
	lv.Set(FromNumber(DefaultLevel))
	var buf bytes.Buffer
	l := New(&buf, &lv, "")
	l.Debug("hidden")
	l.Info("shown")
	lv.Set(FromNumber(0))
	l.Warn("hidden")
	l.Error("shown")
	lv.Set(FromNumber(4))
	Trace(l, "shown")
	if got := strings.Count(buf.String(), "shown"); got != 3 || strings.Contains(buf.String(), "hidden") {
		t.Errorf("filtering wrong:\n%s", buf.String())
	}
	if NewHandler(&buf, nil).Enabled(context.Background(), LevelDebug) {
		t.Error("default level enables debug")
	}
}

func TestWithComponent(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, &Options{Component: "proxy"})
	sub := h.WithComponent("zhttp")
	none := h.WithComponent("")
	for _, x := range []*Handler{h, sub, none} {
		if err := x.Handle(context.Background(), record(LevelInfo, "m")); err != nil {
			t.Fatal(err)
		}
	}
	want := "[INFO] 2026-11-22 04:42:35.412 [proxy] m\n" +
		"[INFO] 2026-11-22 04:42:35.412 [zhttp] m\n" +
		"[INFO] 2026-11-22 04:42:35.412 m\n"
	if buf.String() != want {
		t.Errorf("got %q", buf.String())
	}
}

func TestConcurrentLinesDoNotInterleave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	out, err := NewOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	base := New(out, LevelInfo, "c")
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		l := base.With("g", g)
		wg.Go(func() {
			for i := range each {
				l.Info("line", "i", i, "pad", strings.Repeat("p", 500))
			}
		})
	}
	// Rotate while they write.
	wg.Go(func() {
		for range 5 {
			if err := out.Reopen(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != goroutines*each {
		t.Fatalf("%d lines, want %d", len(lines), goroutines*each)
	}
	for _, line := range lines {
		if !linePattern.MatchString(line) || !strings.HasSuffix(line, strings.Repeat("p", 500)) {
			t.Fatalf("mangled line %q", line)
		}
	}
}

func TestOutputAppendAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pushpin-handler.log")
	if err := os.WriteFile(path, []byte("old line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := NewOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if out.Path() != path {
		t.Errorf("Path = %q", out.Path())
	}
	l := New(out, LevelInfo, "")
	l.Info("before rotation")

	// Rotate: rename the file away, then reopen.
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	l.Info("still to the renamed file")
	if err := out.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Info("after rotation")

	old, _ := os.ReadFile(rotated)
	cur, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(old), "old line\n") || !strings.Contains(string(old), "before rotation") ||
		!strings.Contains(string(old), "still to the renamed file") || strings.Contains(string(old), "after rotation") {
		t.Errorf("rotated file:\n%s", old)
	}
	if strings.Count(string(cur), "\n") != 1 || !strings.Contains(string(cur), "after rotation") {
		t.Errorf("new file:\n%s", cur)
	}

	// A failed reopen keeps logging to the current file.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if os.Geteuid() != 0 { // root ignores the directory mode
		if err := out.Reopen(); err == nil {
			t.Error("Reopen in a read-only directory succeeded")
		}
		if _, err := out.Write([]byte("x\n")); err != nil {
			t.Errorf("write after failed reopen: %v", err)
		}
	}

	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Write([]byte("x\n")); err == nil {
		t.Error("write after Close succeeded")
	}
}

func TestOutputErrors(t *testing.T) {
	if _, err := NewOutput(filepath.Join(t.TempDir(), "missing-dir", "x.log")); err == nil {
		t.Error("NewOutput in a missing directory succeeded")
	}
	out, err := NewOutput("")
	if err != nil {
		t.Fatal(err)
	}
	if out.Path() != "" || out.Reopen() != nil || out.Close() != nil {
		t.Error("stdout Output: Path/Reopen/Close")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestHandleReportsWriteError(t *testing.T) {
	h := NewHandler(failWriter{}, nil)
	if err := h.Handle(context.Background(), record(LevelError, "m")); err == nil {
		t.Error("write error not reported")
	}
}

// TestSlogConformance runs the standard library's handler conformance
// suite, parsing our lines back into the map form it expects.
func TestSlogConformance(t *testing.T) {
	var buf bytes.Buffer
	newHandler := func(*testing.T) slog.Handler {
		buf.Reset()
		return NewHandler(&buf, nil)
	}
	result := func(t *testing.T) map[string]any {
		m, err := parseLine(buf.String())
		if err != nil {
			t.Fatalf("parse %q: %v", buf.String(), err)
		}
		return m
	}
	slogtest.Run(t, newHandler, result)
}

// parseLine turns "[LEVEL] date time msg k=v ..." back into the map shape
// slogtest wants: slog.LevelKey, slog.TimeKey, slog.MessageKey, and nested
// maps for dotted (grouped) keys. It assumes the message is one word, as in
// slogtest.
func parseLine(line string) (map[string]any, error) {
	line = strings.TrimSuffix(line, "\n")
	if strings.Contains(line, "\n") {
		return nil, fmt.Errorf("more than one line")
	}
	m := map[string]any{}
	end := strings.Index(line, "] ")
	if !strings.HasPrefix(line, "[") || end < 0 {
		return nil, fmt.Errorf("no level")
	}
	m[slog.LevelKey] = line[1:end]
	rest := line[end+2:]
	if loc := linePattern.FindStringIndex(line); loc != nil {
		tm, err := time.ParseInLocation(timeLayout, line[end+2:loc[1]-1], time.Local)
		if err != nil {
			return nil, err
		}
		m[slog.TimeKey] = tm
		rest = line[loc[1]:]
	}
	msg, rest, _ := strings.Cut(rest, " ")
	m[slog.MessageKey] = msg
	for rest != "" {
		var key, val string
		var err error
		key, rest, err = token(rest)
		if err != nil {
			return nil, err
		}
		if rest == "" || rest[0] != '=' {
			return nil, fmt.Errorf("no '=' after %q", key)
		}
		val, rest, err = token(rest[1:])
		if err != nil {
			return nil, err
		}
		rest = strings.TrimPrefix(rest, " ")
		dst := m
		parts := strings.Split(key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := dst[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				dst[p] = sub
			}
			dst = sub
		}
		dst[parts[len(parts)-1]] = val
	}
	return m, nil
}

// token reads one bare or Go-quoted token.
func token(s string) (tok, rest string, err error) {
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", "", err
		}
		tok, err = strconv.Unquote(q)
		return tok, s[len(q):], err
	}
	i := strings.IndexAny(s, " =")
	if i < 0 {
		return s, "", nil
	}
	return s[:i], s[i:], nil
}

func TestParseLineHelper(t *testing.T) {
	m, err := parseLine(`[INFO] 2026-11-22 04:42:35.412 msg a=1 "b c"="d e" g.h=2` + "\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": "1", "b c": "d e"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	if g, ok := m["g"].(map[string]any); !ok || !maps.Equal(g, map[string]any{"h": "2"}) {
		t.Errorf("group = %v", m["g"])
	}
}

func BenchmarkDisabled(b *testing.B) {
	l := New(&bytes.Buffer{}, LevelInfo, "bench")
	b.ReportAllocs()
	for b.Loop() {
		l.Debug("zhttp server: IN", "id", "condure:0-0-0", "seq", 3)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkEnabled(b *testing.B) {
	l := New(discard{}, LevelInfo, "bench")
	b.ReportAllocs()
	for b.Loop() {
		l.Info("publish", "channel", "test", "receivers", 1)
	}
}
