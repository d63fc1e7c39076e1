package connmgr

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/condure/internal/zhttptest"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// waitIdle polls until the server has no client connection left.
func (e *testEnv) waitIdle() {
	e.t.Helper()
	deadline := time.Now().Add(wait)
	for e.srv.Stats().Active != 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d connections still active", e.srv.Stats().Active)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// registered reports how many stream sessions the registry holds.
func (e *testEnv) registered() int {
	z := e.srv.zs
	z.regMu.RLock()
	defer z.regMu.RUnlock()
	return len(z.sessions)
}

// A client that leaves before the responder's first packet: condure 1.9.1
// keeps the session and answers the responder's first packet with cancel
// (verified: seq 1 on the ROUTER), then forgets the session.
func TestCancelBeforeFirstResponderPacket(t *testing.T) {
	for _, tc := range []struct{ name, req string }{
		{"http", "GET /late HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"http body", "POST /late HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"},
		{"websocket", "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, nil)
			// A readiness probe whose response was lost is an orphan too.
			e.waitIdle()
			before := e.registered()
			c := e.dial()
			fmt.Fprint(c, tc.req)
			s, _ := e.request()
			c.Close()
			e.waitIdle()
			if n := e.registered() - before; n != 1 {
				t.Fatalf("%d sessions registered, want the orphan", n)
			}
			if tc.name == "websocket" {
				p := zhttp.Packet{Reason: "Switching Protocols"}
				p.SetCode(101)
				p.SetCredits(1000)
				s.send(p)
			} else {
				s.respond(200, "", true)
			}
			m := s.next()
			if m.Via != zhttptest.ViaRouter || m.Packet.Type != zhttp.Cancel || m.Packet.Seq != 1 || !m.Packet.Multi {
				t.Fatalf("want cancel seq 1, got %v", m)
			}
			// The session is gone: further packets are dropped silently.
			s.send(zhttp.Packet{Body: []byte("x"), More: true})
			e.expectNone(100 * time.Millisecond)
			if n := e.registered() - before; n != 0 {
				t.Fatalf("%d sessions registered after the cancel", n)
			}
		})
	}
}

// An orphan whose responder never answers is dropped at session expiry,
// with nothing sent (there is no address).
func TestOrphanExpires(t *testing.T) {
	oldExpire, oldInterval := sessionExpire, expiryInterval
	sessionExpire, expiryInterval = 200*time.Millisecond, 10*time.Millisecond
	defer func() { sessionExpire, expiryInterval = oldExpire, oldInterval }()
	e := start(t, nil)
	c := e.dial()
	fmt.Fprint(c, "GET /silent HTTP/1.1\r\nHost: h\r\n\r\n")
	e.request()
	c.Close()
	e.waitIdle()
	deadline := time.Now().Add(wait)
	for e.registered() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("orphan never expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.expectNone(50 * time.Millisecond)
}

// Expect: 100-continue as condure 1.9.1 handles it (verified against the
// binary): "100 Continue" when the responder first grants body credits, or
// ahead of a final response that comes first; only on HTTP/1.1 requests
// that declare a body.
func TestExpectContinue(t *testing.T) {
	const cont = "HTTP/1.1 100 Continue\r\n\r\n"
	for _, tc := range []struct {
		name   string
		req    string
		credit bool   // responder grants credits before answering
		body   string // client body, sent after the interim response
		more   bool   // response streams (more) instead of a complete body
		want   string // everything the client reads, in order
		closes bool   // the connection ends after the response
	}{
		{"credits then body", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", true, "abcde", false,
			cont + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
		{"chunked", "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n", true, "5\r\nabcde\r\n0\r\n\r\n", false,
			cont + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
		{"response before credits", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", false, "", true,
			cont + "HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
		{"empty body", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n", false, "", false,
			cont + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
		{"no body declared", "GET /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", false, "", false,
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
		{"http/1.0", "POST /p HTTP/1.0\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", true, "abcde", false,
			"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, nil)
			c := e.dial()
			br := bufio.NewReader(c)
			fmt.Fprint(c, tc.req)
			s, _ := e.request()
			var got []byte
			if tc.credit {
				credit := zhttp.Packet{Type: zhttp.Credit}
				credit.SetCredits(1000)
				s.send(credit)
				if strings.HasPrefix(tc.want, cont) {
					got = readN(t, c, br, len(cont))
				}
				fmt.Fprint(c, tc.body)
				// The body arrives, ending with a packet without more.
				for m := s.next(); m.Packet.More; m = s.next() {
				}
			}
			if tc.more {
				s.respond(200, "", true)
				s.send(zhttp.Packet{})
			} else {
				s.respond(200, "ok", false)
			}
			got = append(got, readN(t, c, br, len(tc.want)-len(got))...)
			if string(got) != tc.want {
				t.Fatalf("client got %q\nwant %q", got, tc.want)
			}
			c.SetReadDeadline(time.Now().Add(wait))
			if tc.closes {
				if _, err := br.ReadByte(); err != io.EOF {
					t.Fatalf("connection not closed: %v", err)
				}
				return
			}
			// Persistent: the next request gets a fresh session.
			fmt.Fprint(c, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
			s2, _ := e.request()
			if string(s2.id) == string(s.id) {
				t.Fatal("same id for the next request")
			}
		})
	}
}

func readN(t *testing.T, c net.Conn, br *bufio.Reader, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		t.Fatalf("read %d bytes: %v (got %q)", n, err, b)
	}
	return b
}
