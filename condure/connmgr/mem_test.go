package connmgr

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/condure/wsproto"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// holdStreams opens n streaming responses that then sit idle, and returns
// the client connections after each has read its response head.
func (e *testEnv) holdStreams(n int) []net.Conn {
	e.t.Helper()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c := e.dial()
		fmt.Fprintf(c, "GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
		s, _ := e.request()
		s.multi = true
		s.respond(200, "", true)
		conns = append(conns, c)
	}
	const head = "HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, c := range conns {
		if got := string(readN(e.t, c, bufio.NewReader(c), len(head))); got != head {
			e.t.Fatalf("head %q", got)
		}
	}
	return conns
}

// An idle held connection parks: it keeps no goroutine at all, and still
// delivers what comes later.
func TestHeldStreamParks(t *testing.T) {
	e := start(t, nil)
	const n = 20
	g0 := runtime.NumGoroutine()
	conns := e.holdStreams(n)
	// Allow a little slack for runtime helpers; goroutines end
	// asynchronously, so poll (bounded).
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine()-g0 > 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for %d held connections", runtime.NumGoroutine()-g0, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := e.srv.Stats(); s.Active < n {
		t.Fatalf("%d active connections, want %d", s.Active, n)
	}
	// Parked connections wake for a client that leaves: its session is
	// cancelled and the connection ends.
	conns[0].Close()
	if m := e.expect(); m.Packet.Type != zhttp.Cancel {
		t.Fatalf("want cancel, got %v", m)
	}
}

// A packet waking a connection blocked in its client read must leave the
// inactivity timeout in force: chunks keep flowing, and a client that
// then stays silent is still timed out.
func TestWakeKeepsInactivityTimeout(t *testing.T) {
	e := start(t, func(c *Config) { c.StreamTimeout = 500 * time.Millisecond })
	c := e.dial()
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	s, _ := e.request()
	s.respond(200, "", true)
	readResponseHead(t, c, br)
	for i := 0; i < 5; i++ {
		chunk := fmt.Sprintf("chunk%d", i)
		s.send(zhttp.Packet{Body: []byte(chunk), More: true})
		want := fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk)
		if got := string(readN(t, c, br, len(want))); got != want {
			t.Fatalf("got %q want %q", got, want)
		}
	}
	// Silence: the stream timeout ends the connection (within bounds).
	c.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("connection not closed by the inactivity timeout: %v", err)
	}
}

func readResponseHead(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			return
		}
		if strings.HasPrefix(line, "HTTP/") && !strings.HasPrefix(line, "HTTP/1.1 200") {
			t.Fatalf("status %q", line)
		}
	}
}

// TestHeldStreamFootprint reports the Go memory an idle held streaming
// connection costs (heap and goroutine stacks; the test's own client ends
// are in the heap figure too). It only runs with CONDURE_MEM=N
// (connections); figures are logged, never asserted. CONDURE_HEAPPROF=file
// also writes a heap profile.
func TestHeldStreamFootprint(t *testing.T) {
	n := 0
	fmt.Sscan(os.Getenv("CONDURE_MEM"), &n)
	if n == 0 {
		t.Skip("set CONDURE_MEM=<connections> to measure")
	}
	if os.Getenv("CONDURE_HEAPPROF") != "" {
		runtime.MemProfileRate = 1
	}
	e := start(t, nil)
	measure := func() (runtime.MemStats, int) {
		for i := 0; i < 3; i++ {
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms, runtime.NumGoroutine()
	}
	before, g0 := measure()
	e.holdStreams(n)
	after, g1 := measure()
	if f := os.Getenv("CONDURE_HEAPPROF"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		pprof.Lookup("heap").WriteTo(out, 0)
		out.Close()
	}
	per := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(n) }
	t.Logf("%d held: goroutines/conn %.2f heap-inuse/conn %.0f B stack-inuse/conn %.0f B heap-objects/conn %.1f sys/conn %.0f B",
		n, float64(g1-g0)/float64(n), per(after.HeapInuse, before.HeapInuse), per(after.StackInuse, before.StackInuse),
		per(after.HeapObjects, before.HeapObjects), per(after.Sys, before.Sys))
}

// Accepted WebSockets park too, and wake for client frames and responder
// messages alike.
func TestWebSocketParks(t *testing.T) {
	e := start(t, nil)
	e.waitIdle()
	g0 := runtime.NumGoroutine()
	const n = 5
	type ws struct {
		c  net.Conn
		br *bufio.Reader
		s  *rsess
	}
	var all []ws
	for i := 0; i < n; i++ {
		c, br, s := rawWS(t, e)
		all = append(all, ws{c, br, s})
	}
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine()-g0 > 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for %d idle WebSockets", runtime.NumGoroutine()-g0, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i, w := range all {
		msg := fmt.Sprintf("client %d", i)
		w.c.Write(frame(true, wsproto.OpText, []byte(msg), true))
		if m := w.s.next(); string(m.Packet.Body) != msg {
			t.Fatalf("responder got %v, want %q", m, msg)
		}
		w.s.send(zhttp.Packet{ContentType: "text", Body: []byte("back")})
		want := string(frame(true, wsproto.OpText, []byte("back"), false))
		if got := string(readN(t, w.c, w.br, len(want))); got != want {
			t.Fatalf("client got %q, want %q", got, want)
		}
		// The written bytes come back as credits.
		if m := w.s.next(); m.Packet.Type != zhttp.Credit || m.Packet.Credits != 4 {
			t.Fatalf("want credit 4, got %v", m)
		}
	}
}
