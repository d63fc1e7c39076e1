package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultReadyTimeout bounds every readiness wait unless a test says
// otherwise. Pushpin's components start in well under a second on an idle
// machine; the margin absorbs a loaded 2-core CI box.
const DefaultReadyTimeout = 15 * time.Second

// pollInterval is the pause between readiness probes.
const pollInterval = 20 * time.Millisecond

// ErrTimeout is wrapped by every wait that gave up.
var ErrTimeout = errors.New("timed out")

// ErrGiveUp, wrapped in an error returned by a Poll condition, ends the
// wait at once with that error (e.g. the process being waited for exited).
var ErrGiveUp = errors.New("giving up")

// Poll calls cond every interval until it returns true, returns an error
// wrapping ErrGiveUp, or timeout passes. The last error from cond (if any) is included in the
// timeout error, so a failing wait says what it last saw.
func Poll(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if errors.Is(err, ErrGiveUp) {
			return fmt.Errorf("%s: %w", what, err)
		}
		last = err
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("%s: %w after %v (last: %v)", what, ErrTimeout, timeout, last)
			}
			return fmt.Errorf("%s: %w after %v", what, ErrTimeout, timeout)
		}
		time.Sleep(pollInterval)
	}
}

// WaitFiles waits until every path exists (ipc socket files, pid files).
func WaitFiles(timeout time.Duration, paths ...string) error {
	return Poll(timeout, fmt.Sprintf("wait for %d file(s)", len(paths)), func() (bool, error) {
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				return false, fmt.Errorf("%s: %w", p, err)
			}
		}
		return true, nil
	})
}

// IPCPath returns the file behind an ipc:// spec, or "" for other specs.
func IPCPath(spec string) string {
	p, ok := strings.CutPrefix(spec, "ipc://")
	if !ok {
		return ""
	}
	return p
}

// WaitIPC waits until the socket files of the given ipc:// specs exist,
// i.e. until their binder has bound them.
func WaitIPC(timeout time.Duration, specs ...string) error {
	paths := make([]string, 0, len(specs))
	for _, s := range specs {
		if p := IPCPath(s); p != "" {
			paths = append(paths, p)
		}
	}
	return WaitFiles(timeout, paths...)
}

// WaitTCP waits until addr (host:port) accepts a TCP connection.
func WaitTCP(timeout time.Duration, addr string) error {
	return Poll(timeout, "wait for "+addr+" to accept", func() (bool, error) {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	})
}

// WaitHTTP waits until a GET of url gets any HTTP response and accept
// (nil = any) approves it.
func WaitHTTP(timeout time.Duration, url string, accept func(*http.Response, []byte) bool) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	defer client.CloseIdleConnections()
	return Poll(timeout, "wait for GET "+url, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return false, err
		}
		if accept != nil && !accept(resp, body) {
			return false, fmt.Errorf("status %d body %q", resp.StatusCode, truncate(body, 200))
		}
		return true, nil
	})
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
