// Package zlog is the printf-style face of zurl's logging: Pushpin's
// numeric levels (0 error, 1 warning, 2 info, 3 debug) and format-string
// calls, written through the shared pkg/log handler and output (Pushpin's
// "[LEVEL] yyyy-MM-dd HH:mm:ss.zzz message" lines, one Write per line, a
// log file reopened on SIGHUP).
package zlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	pkglog "github.com/pushpin-go/pushpin/pkg/log"
)

// Levels.
const (
	Error = 0
	Warn  = 1
	Info  = 2
	Debug = 3
)

// Logger writes leveled lines. A nil *Logger discards everything.
type Logger struct {
	level int
	h     *pkglog.Handler
	out   *pkglog.Output // set when logging to a file
}

// New logs to w at the given level.
func New(w io.Writer, level int) *Logger {
	return &Logger{level: level, h: pkglog.NewHandler(w, &pkglog.Options{Level: pkglog.FromNumber(level)})}
}

// Open appends to the file at path.
func Open(path string, level int) (*Logger, error) {
	out, err := pkglog.NewOutput(path)
	if err != nil {
		return nil, fmt.Errorf("failed to open log file: %w", err)
	}
	l := New(out, level)
	l.out = out
	return l, nil
}

// Reopen reopens the log file (after rotation); a no-op for stdout.
func (l *Logger) Reopen() error {
	if l == nil || l.out == nil {
		return nil
	}
	return l.out.Reopen()
}

// Close closes the log file, if any.
func (l *Logger) Close() error {
	if l == nil || l.out == nil {
		return nil
	}
	return l.out.Close()
}

// Enabled reports whether lines at level are written.
func (l *Logger) Enabled(level int) bool { return l != nil && level <= l.level }

// Logf writes one line at level.
func (l *Logger) Logf(level int, format string, args ...any) {
	if !l.Enabled(level) {
		return
	}
	// A record without a caller PC: zurl's lines carry no source position.
	r := slog.NewRecord(time.Now(), pkglog.FromNumber(level), fmt.Sprintf(format, args...), 0)
	l.h.Handle(context.Background(), r)
}

// Errorf logs at level 0.
func (l *Logger) Errorf(format string, args ...any) { l.Logf(Error, format, args...) }

// Warnf logs at level 1.
func (l *Logger) Warnf(format string, args ...any) { l.Logf(Warn, format, args...) }

// Infof logs at level 2.
func (l *Logger) Infof(format string, args ...any) { l.Logf(Info, format, args...) }

// Debugf logs at level 3.
func (l *Logger) Debugf(format string, args ...any) { l.Logf(Debug, format, args...) }
