package connmgr

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/condure/wsproto"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// wsAccept answers a WebSocket first packet with 101 and credits.
func wsAccept(s *rsess, credits int) {
	p := zhttp.Packet{Reason: "Switching Protocols", Headers: []zhttp.Header{
		{Name: "X-Probe", Value: "1"}, {Name: "Sec-WebSocket-Accept", Value: "bogus"}, {Name: "Sec-WebSocket-Extensions", Value: "bogus"}}}
	p.SetCode(101)
	p.SetCredits(credits)
	s.send(p)
}

// Flow §2.9.4: messages both ways with content types, ping forwarded (not
// answered by condure), credits for bytes written, close handshake.
func TestWebSocketFlow(t *testing.T) {
	e := start(t, nil)
	type dialed struct {
		c    *websocket.Conn
		resp *http.Response
		err  error
	}
	done := make(chan dialed, 1)
	go func() {
		d := websocket.Dialer{HandshakeTimeout: wait}
		c, resp, err := d.Dial("ws://"+e.addr+"/wstest", http.Header{"Sec-WebSocket-Protocol": {"foo"}})
		done <- dialed{c, resp, err}
	}()
	s, m := e.request()
	p := &m.Packet
	if p.URI != "ws://"+e.addr+"/wstest" || p.Stream || p.Method != "GET" || p.Credits != DefaultBufferSize {
		t.Fatalf("ws request %v", m)
	}
	wsAccept(s, 10000)
	d := <-done
	if d.err != nil {
		t.Fatal(d.err)
	}
	c := d.c
	defer c.Close()
	if d.resp.Header.Get("X-Probe") != "1" || d.resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("accept headers %v", d.resp.Header)
	}
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	c.WriteMessage(websocket.BinaryMessage, []byte("binary"))
	c.WriteControl(websocket.PingMessage, []byte("pp"), time.Now().Add(wait))
	for i, want := range []struct {
		typ  zhttp.Type
		ct   string
		body string
	}{{zhttp.Data, "text", "hello"}, {zhttp.Data, "binary", "binary"}, {zhttp.Ping, "", "pp"}} {
		m := s.next()
		if m.Packet.Type != want.typ || m.Packet.ContentType != want.ct || string(m.Packet.Body) != want.body || m.Packet.Seq != i+1 {
			t.Fatalf("packet %d: %v", i, m)
		}
	}
	s.send(zhttp.Packet{ContentType: "text", Body: []byte("echo:hello")})
	s.send(zhttp.Packet{Type: zhttp.Pong, Body: []byte("pp")})
	c.SetReadDeadline(time.Now().Add(wait))
	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	typ, msg, err := c.ReadMessage()
	if err != nil || typ != websocket.TextMessage || string(msg) != "echo:hello" {
		t.Fatalf("read %d %q %v", typ, msg, err)
	}
	credits := 0
	for credits < len("echo:hello")+2 {
		m := s.next()
		if m.Packet.Type != zhttp.Credit {
			t.Fatalf("want credit, got %v", m)
		}
		credits += m.Packet.Credits
	}
	// A message fragmented by the responder arrives as one message.
	s.send(zhttp.Packet{ContentType: "binary", Body: []byte("ab"), More: true})
	s.send(zhttp.Packet{Body: []byte("cd")})
	typ, msg, err = c.ReadMessage()
	if err != nil || typ != websocket.BinaryMessage || string(msg) != "abcd" {
		t.Fatalf("fragmented %d %q %v", typ, msg, err)
	}
	if got := <-pong; got != "pp" {
		t.Fatalf("pong %q", got)
	}
	s.next()
	s.next() // credits for the fragments
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(wait))
	m = s.next()
	if m.Packet.Type != zhttp.Close || m.Packet.Code != 4001 || string(m.Packet.Body) != "bye" {
		t.Fatalf("close %v", m)
	}
	cl := zhttp.Packet{Type: zhttp.Close}
	cl.SetCode(1000)
	s.send(cl)
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1000 {
		t.Fatalf("close from server: %v", err)
	}
}

// Rejection: error/rejected renders a plain HTTP response without the
// upgrade headers.
func TestWebSocketRejected(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	s, _ := e.request()
	p := zhttp.Packet{Type: zhttp.Error, Condition: zhttp.CondRejected, Reason: "Forbidden", Body: []byte("nope\n"),
		Headers: []zhttp.Header{{Name: "X-A", Value: "1"}, {Name: "Upgrade", Value: "x"}, {Name: "Sec-WebSocket-Accept", Value: "y"}}}
	p.SetCode(403)
	s.send(p)
	out := readAll(t, c)
	if !strings.HasPrefix(out, "HTTP/1.1 403 Forbidden\r\n") || strings.Contains(out, "Upgrade") ||
		strings.Contains(out, "Sec-WebSocket") || !strings.Contains(out, "X-A: 1\r\n") || !strings.HasSuffix(out, "\r\n\r\nnope\n") {
		t.Fatalf("got %q", out)
	}
}

// rawWS performs a handshake by hand so tests can send malformed frames.
func rawWS(t *testing.T, e *testEnv) (net.Conn, *bufio.Reader, *rsess) {
	t.Helper()
	c := e.dial()
	fmt.Fprintf(c, "GET /raw HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	s, _ := e.request()
	wsAccept(s, 100000)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake %v %v", resp, err)
	}
	return c, br, s
}

func frame(fin bool, op wsproto.Opcode, payload []byte, masked bool) []byte {
	b := wsproto.AppendFrameHeader(nil, fin, false, op, len(payload))
	if !masked {
		return append(b, payload...)
	}
	b[1] |= 0x80
	key := [4]byte{9, 8, 7, 6}
	b = append(b, key[:]...)
	p := append([]byte(nil), payload...)
	wsproto.MaskBytes(key, 0, p)
	return append(b, p...)
}

// readClose reads frames until a close frame and returns its code.
func readClose(t *testing.T, c net.Conn, br *bufio.Reader) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		var hdr [2]byte
		if _, err := br.Read(hdr[:1]); err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if _, err := br.Read(hdr[1:]); err != nil {
			t.Fatal(err)
		}
		n := int(hdr[1] & 0x7f)
		if n == 126 {
			var l [2]byte
			br.Read(l[:])
			n = int(binary.BigEndian.Uint16(l[:]))
		}
		payload := make([]byte, n)
		for got := 0; got < n; {
			k, err := br.Read(payload[got:])
			if err != nil {
				t.Fatal(err)
			}
			got += k
		}
		if wsproto.Opcode(hdr[0]&0xf) == wsproto.OpClose {
			if n < 2 {
				return 0
			}
			return int(binary.BigEndian.Uint16(payload))
		}
	}
}

// Hostile frames get the RFC 6455 close codes; the responder is cancelled.
func TestWebSocketProtocolErrors(t *testing.T) {
	e := start(t, nil)
	tests := []struct {
		name  string
		frame []byte
		code  int
	}{
		{"unmasked", frame(true, wsproto.OpText, []byte("x"), false), wsproto.CloseProtocolError},
		{"bad utf8", frame(true, wsproto.OpText, []byte{0xff, 0xfe}, true), wsproto.CloseInvalidPayload},
		{"oversized ping", frame(true, wsproto.OpPing, make([]byte, 126), true), wsproto.CloseProtocolError},
		{"stray continuation", frame(true, wsproto.OpContinuation, []byte("x"), true), wsproto.CloseProtocolError},
		{"reserved opcode", frame(true, wsproto.Opcode(3), nil, true), wsproto.CloseProtocolError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, br, s := rawWS(t, e)
			c.Write(tc.frame)
			if code := readClose(t, c, br); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
			if m := s.next(); m.Packet.Type != zhttp.Cancel {
				t.Fatalf("want cancel, got %v", m)
			}
		})
	}
}

// Client frames are forwarded only within credits, split into "more"
// pieces.
func TestWebSocketCredits(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	fmt.Fprintf(c, "GET /raw HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	s, _ := e.request()
	wsAccept(s, 4)
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatal(err)
	}
	c.Write(frame(true, wsproto.OpText, []byte("abcdefgh"), true))
	m := s.next()
	if string(m.Packet.Body) != "abcd" || !m.Packet.More {
		t.Fatalf("first piece %v", m)
	}
	e.expectNone(100 * time.Millisecond)
	cr := zhttp.Packet{Type: zhttp.Credit}
	cr.SetCredits(10)
	s.send(cr)
	m = s.next()
	if string(m.Packet.Body) != "efgh" || m.Packet.More {
		t.Fatalf("second piece %v", m)
	}
}

// permessage-deflate both ways with --compression.
func TestWebSocketCompression(t *testing.T) {
	e := start(t, func(c *Config) { c.Compression = true })
	done := make(chan *websocket.Conn, 1)
	go func() {
		d := websocket.Dialer{HandshakeTimeout: wait, EnableCompression: true}
		c, _, err := d.Dial("ws://"+e.addr+"/z", nil)
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	s, _ := e.request()
	wsAccept(s, 100000)
	c := <-done
	if c == nil {
		t.FailNow()
	}
	defer c.Close()
	msg := strings.Repeat("squeeze ", 500)
	c.WriteMessage(websocket.TextMessage, []byte(msg))
	m := s.next()
	if string(m.Packet.Body) != msg || m.Packet.More {
		t.Fatalf("inflated message %d bytes more=%v", len(m.Packet.Body), m.Packet.More)
	}
	s.send(zhttp.Packet{ContentType: "text", Body: []byte(msg[:100]), More: true})
	s.send(zhttp.Packet{Body: []byte(msg[100:])})
	c.SetReadDeadline(time.Now().Add(wait))
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != msg {
		t.Fatalf("deflated message: %v %d", err, len(got))
	}
}
