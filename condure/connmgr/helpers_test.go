package connmgr

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/condure/internal/zhttptest"
	plog "github.com/pushpin-go/pushpin/pkg/log"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// wait bounds every single expectation in these tests.
const wait = 5 * time.Second

var idPattern = regexp.MustCompile(`^[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$`)

type testEnv struct {
	t    *testing.T
	srv  *Server
	r    *zhttptest.Responder
	base string
	addr string
	seen map[string]bool // ids of readiness probes, skipped by expect
}

// start runs a Server on an ephemeral port with its ZHTTP sockets in a temp
// dir, a responder "h1" attached, and waits until a request round-trips
// (which also proves the SUB subscription reached the responder's PUB).
func start(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	base := "ipc://" + t.TempDir() + "/c"
	cfg := Config{
		Listen:        []Listener{{Addr: "127.0.0.1:0"}},
		ZClientStream: []string{base},
		ZClientReq:    []string{base + "-req"},
		HeadTimeout:   2 * time.Second,
	}
	if testing.Verbose() {
		cfg.Log = plog.New(os.Stderr, plog.LevelDebug, "condure")
	}
	if mod != nil {
		mod(&cfg)
	}
	goroutines := runtime.NumGoroutine()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-runErr:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(wait):
		cancel()
		t.Fatal("server not ready")
	}
	e := &testEnv{t: t, srv: srv, base: base, addr: srv.Addrs()[0].String(), seen: map[string]bool{}}
	if cfg.Listen[0].Local {
		e.addr = cfg.Listen[0].Addr
	}
	r, err := zhttptest.New(base, zhttptest.Options{ID: "h1"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e.r = r
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(wait):
			t.Error("Run did not return")
		}
		r.Close()
		// Shutdown releases the ipc socket files it bound.
		if left, _ := filepath.Glob(strings.TrimPrefix(base, "ipc://") + "-*"); len(left) > 0 {
			t.Errorf("ipc files left after shutdown: %v", left)
		}
		deadline := time.Now().Add(wait)
		for runtime.NumGoroutine() > goroutines+2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > goroutines+2 {
			buf := make([]byte, 1<<16)
			t.Errorf("goroutines leaked: %d > %d\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
		}
	})
	if cfg.Listen[0].Mode == ModeStream {
		e.waitRoundTrip()
	}
	return e
}

func (e *testEnv) waitRoundTrip() {
	e.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		c := e.dial()
		fmt.Fprintf(c, "GET /__ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		m, err := e.r.Recv(time.Second)
		if err != nil {
			c.Close()
			continue
		}
		e.seen[string(m.Packet.ID)] = true
		p := &zhttp.Packet{ID: m.Packet.ID, Body: []byte("ok")}
		p.SetCode(200)
		p.SetSeq(0)
		e.r.Send(string(m.Packet.From), p)
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		b, _ := io.ReadAll(c)
		c.Close()
		if strings.HasPrefix(string(b), "HTTP/1.1 200") {
			return
		}
	}
	e.t.Fatal("no round trip through the responder")
}

func (e *testEnv) dial() net.Conn {
	e.t.Helper()
	network := "tcp"
	if strings.HasPrefix(e.addr, "/") {
		network = "unix"
	}
	c, err := net.DialTimeout(network, e.addr, wait)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// expect returns the next packet, skipping the readiness probes' leftovers.
func (e *testEnv) expect() zhttptest.Msg {
	e.t.Helper()
	for {
		m, err := e.r.Recv(wait)
		if err != nil {
			e.t.Fatal(err)
		}
		if e.seen[string(m.Packet.ID)] {
			continue
		}
		if testing.Verbose() {
			e.t.Logf("responder got: %v", m)
		}
		return m
	}
}

// expectNone checks that nothing (but probe leftovers) arrives for d.
func (e *testEnv) expectNone(d time.Duration) {
	e.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		m, err := e.r.Recv(time.Until(end))
		if err != nil {
			return
		}
		if !e.seen[string(m.Packet.ID)] {
			e.t.Fatalf("unexpected packet %v", m)
		}
	}
}

// rsess is the responder's side of one session.
type rsess struct {
	e     *testEnv
	r     *zhttptest.Responder
	id    []byte
	to    string
	seq   int
	multi bool
}

// request waits for a first packet and checks what condure puts in every
// one (reference §2.9.1).
func (e *testEnv) request() (*rsess, zhttptest.Msg) {
	e.t.Helper()
	m := e.expect()
	p := &m.Packet
	if m.Via != zhttptest.ViaPull {
		e.t.Fatalf("first packet via %s: %v", m.Via, m)
	}
	if string(p.From) != e.srv.cfg.ID || !idPattern.Match(p.ID) || p.Has&zhttp.HasSeq == 0 || p.Seq != 0 || !p.Multi {
		e.t.Fatalf("bad first packet %v", m)
	}
	return &rsess{e: e, r: e.r, id: append([]byte(nil), p.ID...), to: string(p.From)}, m
}

func (s *rsess) send(p zhttp.Packet) {
	s.e.t.Helper()
	p.ID = s.id
	p.SetSeq(s.seq)
	p.Multi = s.multi
	s.seq++
	if err := s.r.Send(s.to, &p); err != nil {
		s.e.t.Fatal(err)
	}
}

func (s *rsess) respond(code int, body string, more bool, headers ...zhttp.Header) {
	s.e.t.Helper()
	p := zhttp.Packet{Reason: http.StatusText(code), Headers: headers, Body: []byte(body), More: more}
	p.SetCode(code)
	s.send(p)
}

// next returns the next packet of this session, which must come via the
// ROUTER addressed to this responder.
func (s *rsess) next() zhttptest.Msg {
	s.e.t.Helper()
	m := s.e.expect()
	if string(m.Packet.ID) != string(s.id) && len(m.Packet.IDs) == 0 {
		s.e.t.Fatalf("packet for another session: %v", m)
	}
	return m
}

func readResponse(t *testing.T, c net.Conn, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// readAll reads until the server closes the connection.
func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}
