package log

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Output is where log lines go: stdout, or a log file opened for append
// that can be reopened after it has been rotated (renamed away), as Pushpin
// does on SIGHUP. It is safe for concurrent use.
type Output struct {
	path string // "" for stdout

	mu sync.Mutex // guards w and f against Reopen
	w  io.Writer
	f  *os.File // nil for stdout
}

// logFileMode is the permission a new log file is created with (before the
// umask), as fopen(…, "a") does.
const logFileMode = 0o666

// NewOutput returns an Output writing to the file at path, created if
// missing and opened for append, or to stdout if path is empty.
func NewOutput(path string) (*Output, error) {
	if path == "" {
		return &Output{w: os.Stdout}, nil
	}
	f, err := openLogFile(path)
	if err != nil {
		return nil, err
	}
	return &Output{path: path, w: f, f: f}, nil
}

func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, logFileMode)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return f, nil
}

// Path returns the log file path, or "" when writing to stdout.
func (o *Output) Path() string { return o.path }

// Write writes p to the current file (or stdout). Writes are unbuffered,
// like Pushpin's (setbuf(f, NULL)), so a line is on disk as soon as it is
// logged.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// Reopen opens the log file path again and switches to it, so that after a
// rotation tool has renamed the old file, logging continues in a new file
// at the configured path. If the path cannot be opened, logging continues in
// the old file and the error is returned. With stdout it does nothing.
func (o *Output) Reopen() error {
	if o.path == "" {
		return nil
	}
	f, err := openLogFile(o.path)
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	o.mu.Lock()
	old := o.f
	o.f, o.w = f, f
	o.mu.Unlock()
	if err := old.Close(); err != nil {
		return fmt.Errorf("close rotated log file: %w", err)
	}
	return nil
}

// Close closes the log file; later writes fail. Stdout is never closed.
func (o *Output) Close() error {
	if o.path == "" {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.f.Close()
}
