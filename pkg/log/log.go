// Package log writes Pushpin-format log lines through log/slog.
//
// Every line has the shape Pushpin's components print (common/log.cpp,
// condure's logger):
//
//	[LEVEL] yyyy-MM-dd HH:mm:ss.zzz [component] message k=v k=v
//
// with LEVEL one of ERR, WARN, INFO, DEBUG, TRACE, the time in local time
// with milliseconds, and the "[component] " tag present only when
// configured (condure tags its lines with its module path the same way).
// Pushpin's runner, merging a child's output, inserts the service name after
// the third space of such a line, so the "[LEVEL] date time " prefix must
// stay exactly this shape.
//
// Levels are numbered as Pushpin's --loglevel: 0 error, 1 warning, 2 info
// (the default), 3 debug, 4 and above trace. Output goes to stdout or to a
// --logfile opened for append, which Output.Reopen reopens after rotation
// (Pushpin reopens on SIGHUP).
//
// The invariant a reader must know: a Handler writes each record with one
// Write call under a lock shared by all handlers derived from it, so lines
// from concurrent goroutines never interleave, and a disabled level costs
// one comparison.
package log

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Levels. Error, Warn, Info and Debug are slog's own; Trace is one step
// below Debug, as condure's TRACE is below DEBUG.
const (
	LevelError = slog.LevelError
	LevelWarn  = slog.LevelWarn
	LevelInfo  = slog.LevelInfo
	LevelDebug = slog.LevelDebug
	LevelTrace = slog.LevelDebug - 4
)

// DefaultLevel is Pushpin's default --loglevel (2, info).
const DefaultLevel = 2

// FromNumber converts a Pushpin --loglevel number to a slog level: 0 error,
// 1 warning, 2 info, 3 debug, 4 and above trace. Negative numbers are
// treated as 0; ParseLevel rejects them as Pushpin does.
func FromNumber(n int) slog.Level {
	switch {
	case n <= 0:
		return LevelError
	case n == 1:
		return LevelWarn
	case n == 2:
		return LevelInfo
	case n == 3:
		return LevelDebug
	default:
		return LevelTrace
	}
}

// ToNumber converts a slog level to the Pushpin --loglevel number that
// enables it (the inverse of FromNumber), e.g. to pass on to a child
// process.
func ToNumber(l slog.Level) int {
	switch {
	case l >= LevelError:
		return 0
	case l >= LevelWarn:
		return 1
	case l >= LevelInfo:
		return 2
	case l >= LevelDebug:
		return 3
	default:
		return 4
	}
}

// ParseLevel parses a --loglevel value: a non-negative decimal integer.
func ParseLevel(s string) (slog.Level, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("loglevel %q: must be an integer greater than or equal to 0", s)
	}
	return FromNumber(n), nil
}

// LevelName returns the tag Pushpin prints for a level: ERR, WARN, INFO,
// DEBUG or TRACE. Levels between the named ones take the name of the next
// lower one.
func LevelName(l slog.Level) string {
	switch {
	case l >= LevelError:
		return "ERR"
	case l >= LevelWarn:
		return "WARN"
	case l >= LevelInfo:
		return "INFO"
	case l >= LevelDebug:
		return "DEBUG"
	default:
		return "TRACE"
	}
}

// Options configure a Handler.
type Options struct {
	// Level is the minimum level written; nil means info (Pushpin's
	// default). A *slog.LevelVar allows changing it at run time.
	Level slog.Leveler
	// Component, if set, is printed as "[component] " after the time.
	Component string
}

// Handler is a slog.Handler writing Pushpin-format lines.
type Handler struct {
	out       *output
	level     slog.Leveler
	component string
	attrs     []byte // preformatted " k=v" pairs from WithAttrs
	group     string // current group prefix, "a.b." or ""
}

// output is the writer and the lock shared by a Handler and every handler
// derived from it.
type output struct {
	mu sync.Mutex
	w  io.Writer
}

// NewHandler returns a Handler writing to w.
func NewHandler(w io.Writer, opts *Options) *Handler {
	h := &Handler{out: &output{w: w}, level: LevelInfo}
	if opts != nil {
		if opts.Level != nil {
			h.level = opts.Level
		}
		h.component = opts.Component
	}
	return h
}

// New returns a slog.Logger writing Pushpin-format lines to w at level,
// tagged with component if it is not empty.
func New(w io.Writer, level slog.Leveler, component string) *slog.Logger {
	return slog.New(NewHandler(w, &Options{Level: level, Component: component}))
}

// Enabled reports whether records at level l are written.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// WithComponent returns a handler that tags its lines with component
// instead (no tag if empty), sharing the writer and attributes.
func (h *Handler) WithComponent(component string) *Handler {
	h2 := *h
	h2.component = component
	return &h2
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	buf := make([]byte, len(h.attrs), len(h.attrs)+32*len(attrs))
	copy(buf, h.attrs)
	for _, a := range attrs {
		buf = appendAttr(buf, h.group, a)
	}
	h2.attrs = buf
	return &h2
}

// WithGroup returns a handler that qualifies later attribute keys with
// name ("name.key").
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 256)
	return &b
}}

// timeLayout is Qt's "yyyy-MM-dd HH:mm:ss.zzz" in Go's notation.
const timeLayout = "2006-01-02 15:04:05.000"

// Handle formats r as one line and writes it with a single Write call.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]

	buf = append(buf, '[')
	buf = append(buf, LevelName(r.Level)...)
	buf = append(buf, "] "...)
	// slog's contract: a zero time means "no time".
	if !r.Time.IsZero() {
		buf = r.Time.Local().AppendFormat(buf, timeLayout)
		buf = append(buf, ' ')
	}
	if h.component != "" {
		buf = append(buf, '[')
		buf = append(buf, h.component...)
		buf = append(buf, "] "...)
	}
	buf = append(buf, r.Message...)
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.group, a)
		return true
	})
	buf = append(buf, '\n')

	h.out.mu.Lock()
	_, err := h.out.w.Write(buf)
	h.out.mu.Unlock()

	// Keep huge buffers out of the pool.
	if cap(buf) <= 64<<10 {
		*bp = buf
		bufPool.Put(bp)
	}
	return err
}

// appendAttr appends " key=value" (keys qualified by group prefix), or the
// members of a group attribute, following slog's rules: an empty attribute
// is skipped, a group with an empty key is inlined.
func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		members := a.Value.Group()
		if len(members) == 0 {
			return buf
		}
		if a.Key != "" {
			prefix = prefix + a.Key + "."
		}
		for _, m := range members {
			buf = appendAttr(buf, prefix, m)
		}
		return buf
	}
	buf = append(buf, ' ')
	buf = appendString(buf, prefix+a.Key)
	buf = append(buf, '=')
	return appendValue(buf, a.Value)
}

func appendValue(buf []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(buf, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(buf, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(buf, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(buf, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(buf, v.Bool())
	case slog.KindDuration:
		return append(buf, v.Duration().String()...)
	case slog.KindTime:
		// Same layout as the line's own time; it contains a space, so it
		// is quoted.
		buf = append(buf, '"')
		buf = v.Time().Local().AppendFormat(buf, timeLayout)
		return append(buf, '"')
	}
	switch x := v.Any().(type) {
	case error:
		return appendString(buf, x.Error())
	case []byte:
		return appendString(buf, string(x))
	case fmt.Stringer:
		return appendString(buf, x.String())
	default:
		return appendString(buf, fmt.Sprint(x))
	}
}

// appendString appends s, quoted (Go syntax) when it would otherwise be
// ambiguous in a k=v list: empty, or containing spaces, '=', '"' or
// non-printable characters.
func appendString(buf []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b <= ' ' || b == '=' || b == '"' || b == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// Trace logs at LevelTrace, which slog.Logger has no method for.
func Trace(l *slog.Logger, msg string, args ...any) {
	l.Log(context.Background(), LevelTrace, msg, args...)
}
