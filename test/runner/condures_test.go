//go:build e2e

package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/test/harness"
)

// rawStream is a streaming HTTP request on a connection whose local port
// the test knows, to find which condure process holds the other end.
type rawStream struct {
	conn net.Conn
	buf  []byte
}

func dialStream(t *testing.T, addr, path string) *rawStream {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr); err != nil {
		t.Fatal(err)
	}
	return &rawStream{conn: c}
}

// readUntil reads until want has arrived (chunked framing around it is
// ignored) and consumes up to it.
func (r *rawStream) readUntil(want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	b := make([]byte, 4096)
	for !bytes.Contains(r.buf, []byte(want)) {
		if err := r.conn.SetReadDeadline(deadline); err != nil {
			return err
		}
		n, err := r.conn.Read(b)
		r.buf = append(r.buf, b[:n]...)
		if err != nil && !bytes.Contains(r.buf, []byte(want)) {
			return fmt.Errorf("no %q (have %q): %w", want, r.buf, err)
		}
	}
	i := bytes.Index(r.buf, []byte(want))
	r.buf = r.buf[i+len(want):]
	return nil
}

func (r *rawStream) localPort() int { return r.conn.LocalAddr().(*net.TCPAddr).Port }

// serverSocketInode finds, in /proc/net/tcp, the server side of the
// loopback connection from clientPort to serverPort.
func serverSocketInode(serverPort, clientPort int) (string, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", err
	}
	defer f.Close()
	local := fmt.Sprintf(":%04X", serverPort)
	remote := fmt.Sprintf(":%04X", clientPort)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && strings.HasSuffix(fields[1], local) && strings.HasSuffix(fields[2], remote) {
			return fields[9], nil
		}
	}
	return "", fmt.Errorf("no socket %d←%d in /proc/net/tcp", serverPort, clientPort)
}

// holder returns which of pids has the socket inode open.
func holder(inode string, pids []int) int {
	want := "socket:[" + inode + "]"
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == want {
				return pid
			}
		}
	}
	return 0
}

// TestTwoCondures runs condure_instances=2: both condures accept clients
// on the one port, both deliver publishes to the streams they hold, and
// killing one leaves the other's clients connected.
func TestTwoCondures(t *testing.T) {
	oursOnly(t)
	e := startOurs(t, nil, func(c *harness.Config) {
		c.Extra = map[string]map[string]string{"runner": {"condure_instances": "2"}}
	})
	pids := []int{e.pid("condure"), e.pid("condure-1")}
	for i, pid := range pids {
		if !harness.Alive(pid, "condure") {
			t.Fatalf("condure instance %d: pid %d not running", i, pid)
		}
	}
	e.origin.Handle("/two", harness.GripHold("stream", "two", "text/plain", "held\n"))

	// The kernel spreads connections over the two listeners
	// (SO_REUSEPORT): open streams until each instance holds some. The
	// warm-up only went through one instance; until the proxy's and the
	// handler's PUBs have joined the other one's SUB, what they send it is
	// dropped (a stream then fails: condure sees a seq gap, or nothing
	// comes), so a stream that shows no body soon is dropped and another
	// one opened.
	byPid := map[int][]*rawStream{}
	var all []*rawStream
	failed := 0
	for i := 0; i < 64 && (len(byPid[pids[0]]) == 0 || len(byPid[pids[1]]) == 0); i++ {
		s := dialStream(t, e.HTTPAddr(), "/two")
		if err := s.readUntil("held\n", 2*time.Second); err != nil {
			failed++
			s.conn.Close()
			if failed > 10 {
				t.Fatalf("stream %d: %v (and %d before)", i, err, failed-1)
			}
			continue
		}
		inode, err := serverSocketInode(e.HTTPPort, s.localPort())
		if err != nil {
			t.Fatal(err)
		}
		pid := holder(inode, pids)
		if pid == 0 {
			t.Fatalf("stream %d: no condure holds socket inode %s", i, inode)
		}
		byPid[pid] = append(byPid[pid], s)
		all = append(all, s)
	}
	if len(byPid[pids[0]]) == 0 || len(byPid[pids[1]]) == 0 {
		t.Fatalf("64 connections did not reach both condures: %d and %d", len(byPid[pids[0]]), len(byPid[pids[1]]))
	}
	t.Logf("streams: %d on condure, %d on condure-1 (%d failed while joining)", len(byPid[pids[0]]), len(byPid[pids[1]]), failed)
	e.waitSubscribers(t, "two", stats.ModeStream, len(all))

	harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("two", "to all\n"))
	for i, s := range all {
		if err := s.readUntil("to all\n", wait); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}

	// Kill the second instance: the first one's clients stay connected
	// and keep getting publishes, and the restarted instance serves.
	e.killAndWaitRestart(t, "condure-1")
	survivors := byPid[pids[0]]
	// The handler learns of the dead instance's sessions only when their
	// keep-alives go unanswered; the survivors must not wait for that.
	harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("two", "after kill\n"))
	for i, s := range survivors {
		if err := s.readUntil("after kill\n", wait); err != nil {
			t.Fatalf("surviving stream %d: %v", i, err)
		}
	}
	for i, s := range byPid[pids[1]] {
		// The dead instance's clients see their connection closed.
		_ = s.conn.SetReadDeadline(time.Now().Add(wait))
		_, err := io.ReadAll(s.conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("stream %d on the killed condure: still open", i)
		}
	}
	e.waitServing(t, "after-condure-1")
}
