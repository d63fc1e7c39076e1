package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Impl selects which implementation of a component a test runs.
type Impl int

const (
	// None means the component is not started.
	None Impl = iota
	// Debian is the installed Pushpin 1.36 binary (condure 1.9.1, zurl
	// 1.11.1): the oracle.
	Debian
	// Ours is our Go binary from $PUSHPIN_GO_BIN (built by `make build`).
	Ours
)

// String names the implementation for logs and subtest names.
func (i Impl) String() string {
	switch i {
	case None:
		return "none"
	case Debian:
		return "debian"
	case Ours:
		return "ours"
	}
	return fmt.Sprintf("impl(%d)", int(i))
}

// Component is one of Pushpin's programs.
type Component int

// The components the harness can start.
const (
	Condure Component = iota
	Zurl
	Proxy
	Handler
	Runner
)

// ServiceName is the component's name in Pushpin's [runner] services list,
// pid files and log files ("pushpin-proxy"); the runner is "pushpin".
func (c Component) ServiceName() string {
	switch c {
	case Condure:
		return "condure"
	case Zurl:
		return "zurl"
	case Proxy:
		return "pushpin-proxy"
	case Handler:
		return "pushpin-handler"
	case Runner:
		return "pushpin"
	}
	return fmt.Sprintf("component(%d)", int(c))
}

// String is the component's short name, also the name of our binary in
// $PUSHPIN_GO_BIN.
func (c Component) String() string {
	switch c {
	case Condure:
		return "condure"
	case Zurl:
		return "zurl"
	case Proxy:
		return "proxy"
	case Handler:
		return "handler"
	case Runner:
		return "runner"
	}
	return fmt.Sprintf("component(%d)", int(c))
}

// debianBinary is the executable name Debian's pushpin package installs.
func (c Component) debianBinary() string { return c.ServiceName() }

// DebianAvailable reports whether Debian's binary for c is on PATH.
func DebianAvailable(c Component) bool {
	_, err := exec.LookPath(c.debianBinary())
	return err == nil
}

// RequireDebian skips the test unless every listed Debian binary is
// installed.
func RequireDebian(tb testing.TB, cs ...Component) {
	tb.Helper()
	for _, c := range cs {
		if !DebianAvailable(c) {
			tb.Skipf("Debian's %s is not installed (apt-get install pushpin); skipping", c.debianBinary())
		}
	}
}

// OurBinDir is the folder holding our binaries: $PUSHPIN_GO_BIN, or the bin/
// folder at the root of this Go module when the variable is unset.
func OurBinDir() (string, error) {
	if d := os.Getenv("PUSHPIN_GO_BIN"); d != "" {
		return filepath.Abs(d)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("PUSHPIN_GO_BIN is unset and %w", err)
	}
	return filepath.Join(root, "bin"), nil
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// moduleRoot finds the folder holding go.mod, walking up from the working
// directory (go test runs each package in its own folder).
func moduleRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = fmt.Errorf("working directory: %w", err)
			return
		}
		for i := 0; i < 64; i++ {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
		rootErr = fmt.Errorf("no go.mod above the working directory")
	})
	return rootDir, rootErr
}

// Binary returns the absolute path of the executable for c in impl. A
// missing Debian binary skips the test; a missing binary of ours fails it,
// since a test that asked for our component must not silently pass.
func Binary(tb testing.TB, c Component, impl Impl) string {
	tb.Helper()
	switch impl {
	case Debian:
		p, err := exec.LookPath(c.debianBinary())
		if err != nil {
			tb.Skipf("Debian's %s is not installed (apt-get install pushpin); skipping", c.debianBinary())
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			tb.Fatalf("harness: resolve %s: %v", p, err)
		}
		return abs
	case Ours:
		dir, err := OurBinDir()
		if err != nil {
			tb.Fatalf("harness: cannot locate our binaries: %v (run `make build`, or set PUSHPIN_GO_BIN)", err)
		}
		p := filepath.Join(dir, c.String())
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			tb.Fatalf("harness: our %s binary %s is missing or not executable: run `make build` first (or set PUSHPIN_GO_BIN)", c, p)
		}
		return p
	}
	tb.Fatalf("harness: no binary for %s with implementation %s", c, impl)
	return ""
}
