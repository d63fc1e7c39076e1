package engine

import (
	"context"
	"fmt"
	"log/slog"

	plog "github.com/pushpin-go/pushpin/pkg/log"
)

// Pushpin's numeric log levels (0 error … 3 debug); --loglevel uses them.
const (
	LevelError = 0
	LevelWarn  = 1
	LevelInfo  = 2
	LevelDebug = 3
)

// logger is a printf facade over the Pushpin-format slog logger (pkg/log):
// the handler's lines are Pushpin's own ("publish channel=x receivers=1"),
// so they are formatted as messages rather than as key/value attributes.
type logger struct {
	l *slog.Logger
}

func newLogger(l *slog.Logger) *logger { return &logger{l: l} }

func (l *logger) enabled(level int) bool {
	return l != nil && l.l != nil && l.l.Enabled(context.Background(), plog.FromNumber(level))
}

func (l *logger) logf(level int, format string, args ...any) {
	if !l.enabled(level) {
		return
	}
	l.l.Log(context.Background(), plog.FromNumber(level), fmt.Sprintf(format, args...))
}

func (l *logger) errorf(format string, args ...any) { l.logf(LevelError, format, args...) }
func (l *logger) warnf(format string, args ...any)  { l.logf(LevelWarn, format, args...) }
func (l *logger) infof(format string, args ...any)  { l.logf(LevelInfo, format, args...) }
func (l *logger) debugf(format string, args ...any) { l.logf(LevelDebug, format, args...) }
