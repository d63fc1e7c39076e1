// Package zlog is zurl's logger: Pushpin's line format
// ("[LEVEL] yyyy-MM-dd HH:mm:ss.zzz message", local time) with Pushpin's
// numeric levels (0 error, 1 warning, 2 info, 3 debug), writing to stdout
// or appending to a file that Reopen reopens (SIGHUP log rotation).
//
// It stands in until the shared pkg/log lands; the method set is the one
// the responder needs, so switching is a one-line change in main.
package zlog

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Levels.
const (
	Error = 0
	Warn  = 1
	Info  = 2
	Debug = 3
)

var names = [...]string{"ERR", "WARN", "INFO", "DEBUG"}

// Logger writes leveled lines. A nil *Logger discards everything.
type Logger struct {
	mu    sync.Mutex
	level int
	w     io.Writer
	path  string
	f     *os.File
	buf   []byte
}

// New logs to w at the given level.
func New(w io.Writer, level int) *Logger { return &Logger{w: w, level: level} }

// Open appends to the file at path.
func Open(path string, level int) (*Logger, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("failed to open log file: %w", err)
	}
	return &Logger{w: f, f: f, path: path, level: level}, nil
}

// Reopen reopens the log file (after rotation); a no-op for stdout.
func (l *Logger) Reopen() error {
	if l == nil || l.path == "" {
		return nil
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("reopening log file: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f, l.w = f, f
	l.mu.Unlock()
	return old.Close()
}

// Close closes the log file, if any.
func (l *Logger) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}

// Enabled reports whether lines at level are written.
func (l *Logger) Enabled(level int) bool { return l != nil && level <= l.level }

// Logf writes one line at level.
func (l *Logger) Logf(level int, format string, args ...any) {
	if !l.Enabled(level) {
		return
	}
	name := "DEBUG"
	if level >= 0 && level < len(names) {
		name = names[level]
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	b = append(b, '[')
	b = append(b, name...)
	b = append(b, "] "...)
	b = now.AppendFormat(b, "2006-01-02 15:04:05.000")
	b = append(b, ' ')
	b = fmt.Appendf(b, format, args...)
	b = append(b, '\n')
	l.w.Write(b)
	l.buf = b
}

// Errorf logs at level 0.
func (l *Logger) Errorf(format string, args ...any) { l.Logf(Error, format, args...) }

// Warnf logs at level 1.
func (l *Logger) Warnf(format string, args ...any) { l.Logf(Warn, format, args...) }

// Infof logs at level 2.
func (l *Logger) Infof(format string, args ...any) { l.Logf(Info, format, args...) }

// Debugf logs at level 3.
func (l *Logger) Debugf(format string, args ...any) { l.Logf(Debug, format, args...) }
