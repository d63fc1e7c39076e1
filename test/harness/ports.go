package harness

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

// Pushpin's default ports. FreePort never returns them, so a test can never
// collide with (or be mistaken for) a Pushpin running with defaults.
var reservedPorts = map[int]bool{5560: true, 5561: true, 5562: true, 5563: true, 7999: true}

var (
	portsMu sync.Mutex
	// handedOut remembers every port given out by this process, so two
	// helpers in one test binary never receive the same port even though
	// each probe listener is closed before the port is used.
	handedOut = map[int]bool{}
)

// FreePort returns a loopback TCP port that was free a moment ago: the
// kernel picks it (bind 127.0.0.1:0), the probe listener is closed, and the
// port is remembered so this process never hands it out twice. Another
// process can still take it in between; the window is small and a clash
// shows up as a bind error in the component's log.
func FreePort(tb testing.TB) int {
	tb.Helper()
	p, err := freePort()
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	return p
}

func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for i := 0; i < 100; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("allocate a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if reservedPorts[port] || handedOut[port] {
			continue
		}
		handedOut[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("allocate a free port: no new port after 100 attempts")
}
