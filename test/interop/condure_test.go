package interop

import (
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/test/harness"
)

// handlerID is the instance id we answer condure with.
const handlerID = "interop-handler"

// condureIDPattern is condure's request id format W-N-N (reference §2.11).
var condureIDPattern = regexp.MustCompile(`^[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$`)

// startCondure starts a standalone condure and our responder
// connected to its client sockets, ready to answer.
func startCondure(t *testing.T, impl harness.Impl) (*harness.CondureServer, *harness.ZPeer) {
	t.Helper()
	c := harness.StartCondure(t, harness.CondureOptions{Impl: impl})
	r := harness.NewZResponder(t, handlerID, c.ResponderSpecs())
	if err := r.WaitSubscribed(wait); err != nil {
		t.Fatal(err)
	}
	return c, r
}

// expectRequest waits for condure's first packet of a session and checks
// the fields every condure request carries (reference §2.9.1).
func expectRequest(t *testing.T, r *harness.ZPeer, c *harness.CondureServer) harness.ZMessage {
	t.Helper()
	m := r.Expect(t, wait)
	p := &m.Packet
	if m.Via != "pull" {
		t.Fatalf("first packet came via %s, want the PUSH/PULL socket: %v", m.Via, &m)
	}
	if m.Format != zhttp.FormatT {
		t.Errorf("format %q, want T", m.Format)
	}
	if string(p.From) != c.ID {
		t.Errorf("from %q, want %q", p.From, c.ID)
	}
	if !condureIDPattern.Match(p.ID) {
		t.Errorf("id %q does not look like condure's W-N-N", p.ID)
	}
	if p.Has&zhttp.HasSeq == 0 || p.Seq != 0 {
		t.Errorf("seq %d (present %v), want 0", p.Seq, p.Has&zhttp.HasSeq != 0)
	}
	if !p.Multi {
		t.Errorf("ext.multi not set; condure advertises it on every packet")
	}
	if p.Has&zhttp.HasCredits == 0 || p.Credits != 8192 {
		t.Errorf("credits %d, want the buffer size 8192", p.Credits)
	}
	if p.PeerAddress != "127.0.0.1" {
		t.Errorf("peer-address %q, want 127.0.0.1", p.PeerAddress)
	}
	if p.Has&zhttp.HasPeerPort == 0 || p.PeerPort <= 0 || p.PeerPort > 65535 {
		t.Errorf("peer-port %d (present %v)", p.PeerPort, p.Has&zhttp.HasPeerPort != 0)
	}
	if got := header(p, "Host"); got != c.Addr {
		t.Errorf("Host header %q, want %q", got, c.Addr)
	}
	return m
}

// condureSession follows the session condure opened with req; our packets
// go out through the responder's PUB, condure's come in through the ROUTER
// and are numbered from 1 (seq 0 was the request).
func condureSession(t *testing.T, r *harness.ZPeer, req *zhttp.Packet) *session {
	to := append([]byte(nil), req.From...)
	return &session{
		t: t, peer: r, id: append([]byte(nil), req.ID...), to: to,
		send: func(p *zhttp.Packet) error { return r.Send(to, p) },
		in:   seqCheck{t: t, name: "condure→handler", next: 1},
	}
}

type rawResult struct {
	resp []byte
	err  error
}

// rawHTTP sends a raw request in the background.
func rawHTTP(addr, req string) <-chan rawResult {
	ch := make(chan rawResult, 1)
	go func() {
		b, err := harness.RawHTTP(addr, req, wait)
		ch <- rawResult{b, err}
	}()
	return ch
}

func awaitRaw(t *testing.T, ch <-chan rawResult) string {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("client: %v (got %q)", r.err, r.resp)
		}
		return string(r.resp)
	case <-time.After(2 * wait):
		t.Fatal("client did not finish")
		return ""
	}
}

// splitResponse splits a raw HTTP/1.1 response into status line, headers
// (canonical names) and body.
func splitResponse(t *testing.T, raw string) (string, http.Header, string) {
	t.Helper()
	head, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		t.Fatalf("response has no end of headers: %q", raw)
	}
	lines := strings.Split(head, "\r\n")
	h := http.Header{}
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		h.Add(name, strings.TrimSpace(value))
	}
	return lines[0], h, body
}

// TestCondurePlainResponse: a GET answered by one complete response packet
// is rendered with Content-Length = len(body) (reference §2.9.1).
func TestCondurePlainResponse(t *testing.T) {
	forImpls(t, harness.Condure, func(t *testing.T, impl harness.Impl) {
		c, r := startCondure(t, impl)
		res := rawHTTP(c.Addr, "GET /simple?a=b HTTP/1.1\r\nHost: "+c.Addr+"\r\nUser-Agent: interop\r\nAccept: */*\r\nConnection: close\r\n\r\n")

		m := expectRequest(t, r, c)
		req := &m.Packet
		capture(t, "condure-http-get.zhttp", m.Raw)
		if req.Method != "GET" {
			t.Errorf("method %q", req.Method)
		}
		if want := "http://" + c.Addr + "/simple?a=b"; req.URI != want {
			t.Errorf("uri %q, want %q", req.URI, want)
		}
		if !req.Stream {
			t.Errorf("stream not set on an HTTP request")
		}
		if req.More || len(req.Body) != 0 {
			t.Errorf("GET has more=%v body=%q", req.More, req.Body)
		}
		if got := header(req, "User-Agent"); got != "interop" {
			t.Errorf("User-Agent %q", got)
		}

		s := condureSession(t, r, req)
		body := "hello from interop\n"
		s.sendPacket(zhttp.Packet{
			Code: 200, Has: zhttp.HasCode, Reason: "OK",
			Headers: []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}, {Name: "X-Interop", Value: "1"}},
			Body:    []byte(body),
		})
		status, h, got := splitResponse(t, awaitRaw(t, res))
		if status != "HTTP/1.1 200 OK" {
			t.Errorf("status line %q", status)
		}
		if h.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("Content-Length %q, want %d", h.Get("Content-Length"), len(body))
		}
		if h.Get("Transfer-Encoding") != "" {
			t.Errorf("unexpected Transfer-Encoding %q", h.Get("Transfer-Encoding"))
		}
		if h.Get("X-Interop") != "1" || h.Get("Content-Type") != "text/plain" {
			t.Errorf("headers not relayed: %v", h)
		}
		if got != body {
			t.Errorf("body %q, want %q", got, body)
		}
	})
}

// TestCondureContentLengthFromResponder: a streamed response (more) whose
// headers carry Content-Length is rendered with that length, not chunked.
func TestCondureContentLengthFromResponder(t *testing.T) {
	forImpls(t, harness.Condure, func(t *testing.T, impl harness.Impl) {
		c, r := startCondure(t, impl)
		res := rawHTTP(c.Addr, "GET /cl HTTP/1.1\r\nHost: "+c.Addr+"\r\nConnection: close\r\n\r\n")
		m := expectRequest(t, r, c)
		s := condureSession(t, r, &m.Packet)

		parts := []string{"first half,", " second half\n"}
		total := len(parts[0]) + len(parts[1])
		s.sendPacket(zhttp.Packet{
			Code: 200, Has: zhttp.HasCode, Reason: "OK",
			Headers: []zhttp.Header{{Name: "Content-Length", Value: strconv.Itoa(total)}},
			Body:    []byte(parts[0]), More: true,
		})
		credit := s.nextType(zhttp.Credit)
		capture(t, "condure-credit.zhttp", credit.Raw)
		s.waitCredits(len(parts[0]))
		s.sendPacket(zhttp.Packet{Body: []byte(parts[1])})
		status, h, body := splitResponse(t, awaitRaw(t, res))
		if status != "HTTP/1.1 200 OK" || h.Get("Content-Length") != strconv.Itoa(total) || h.Get("Transfer-Encoding") != "" {
			t.Errorf("got %q Content-Length %q Transfer-Encoding %q, want Content-Length %d", status, h.Get("Content-Length"), h.Get("Transfer-Encoding"), total)
		}
		if body != parts[0]+parts[1] {
			t.Errorf("body %q", body)
		}
	})
}

// TestCondureStreamedResponse: a response sent in several packets (more)
// without Content-Length is chunked, and condure grants back exactly the
// bytes it wrote to the client (reference §2.9.2, §2.5).
func TestCondureStreamedResponse(t *testing.T) {
	forImpls(t, harness.Condure, func(t *testing.T, impl harness.Impl) {
		c, r := startCondure(t, impl)
		type opened struct {
			s   *harness.Stream
			err error
		}
		ch := make(chan opened, 1)
		req := harness.NewRequest(t, "GET", c.URL()+"/stream", nil)
		go func() {
			s, err := harness.OpenStreamErr(req, wait)
			ch <- opened{s, err}
		}()
		m := expectRequest(t, r, c)
		s := condureSession(t, r, &m.Packet)
		s.sendPacket(zhttp.Packet{
			Code: 200, Has: zhttp.HasCode, Reason: "OK",
			Headers: []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}},
			More:    true,
		})
		var stream *harness.Stream
		select {
		case o := <-ch:
			if o.err != nil {
				t.Fatal(o.err)
			}
			stream = o.s
			t.Cleanup(stream.Close)
		case <-time.After(2 * wait):
			t.Fatal("no response headers")
		}
		if te := stream.Resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
			t.Errorf("Transfer-Encoding %v, want chunked", te)
		}
		if stream.Resp.ContentLength != -1 {
			t.Errorf("Content-Length %d on a streamed response", stream.Resp.ContentLength)
		}

		written := 0
		for i, chunk := range []string{"chunk1\n", "a longer second chunk\n", strings.Repeat("x", 3000) + "\n"} {
			s.sendPacket(zhttp.Packet{Body: []byte(chunk), More: true})
			if _, err := stream.ReadUntil(chunk, wait); err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
			written += len(chunk)
			// condure returns credits once the bytes are written to the
			// client socket, possibly batched: wait for the running sum.
			s.waitCredits(written)
		}
		// An empty body without more ends the response.
		s.sendPacket(zhttp.Packet{Body: []byte{}})
		if rest, err := stream.ReadAll(wait); err != nil || rest != "" {
			t.Errorf("end of stream: rest %q err %v", rest, err)
		}
	})
}

// TestCondureRequestBody: condure sends a request body only against credits
// the responder grants, in chunks no larger than the grant, numbered from
// seq 1 (reference §2.9.3).
func TestCondureRequestBody(t *testing.T) {
	forImpls(t, harness.Condure, func(t *testing.T, impl harness.Impl) {
		c, r := startCondure(t, impl)
		const size = 20000
		body := pattern(size)
		res := make(chan *harness.Response, 1)
		errc := make(chan error, 1)
		go func() {
			req, err := http.NewRequest("POST", c.URL()+"/upload", strings.NewReader(string(body)))
			if err != nil {
				errc <- err
				return
			}
			req.Header.Set("Content-Type", "application/octet-stream")
			resp, err := harness.DoErr(req, 2*wait)
			if err != nil {
				errc <- err
				return
			}
			res <- resp
		}()
		m := expectRequest(t, r, c)
		req := &m.Packet
		capture(t, "condure-http-post-more.zhttp", m.Raw)
		if req.Method != "POST" || !req.More || !req.Stream {
			t.Errorf("method %q more %v stream %v, want POST with more and stream", req.Method, req.More, req.Stream)
		}
		if len(req.Body) != 0 {
			t.Errorf("first packet carries %d body bytes before any credit was granted", len(req.Body))
		}
		if got := header(req, "Content-Length"); got != strconv.Itoa(size) {
			t.Errorf("Content-Length header %q", got)
		}

		s := condureSession(t, r, req)
		var got []byte
		done := false
		for step, grant := range []int{5000, 6000, size} {
			s.sendPacket(zhttp.Packet{Type: zhttp.Credit, Credits: grant, Has: zhttp.HasCredits})
			avail := grant
			for avail > 0 && !done {
				m := s.nextType(zhttp.Data)
				p := &m.Packet
				if m.Via != "router" {
					t.Errorf("body chunk via %s, want router", m.Via)
				}
				if len(p.Body) > avail {
					t.Errorf("step %d: chunk of %d bytes exceeds the %d credits left", step, len(p.Body), avail)
				}
				avail -= len(p.Body)
				got = append(got, p.Body...)
				done = !p.More
			}
			if done {
				break
			}
			// Nothing but keep-alives may arrive beyond the grant.
			for {
				m, err := r.Recv(100 * time.Millisecond)
				if err != nil {
					break
				}
				s.in.check(&m.Packet)
				if m.Packet.Type != zhttp.KeepAlive {
					t.Errorf("step %d: packet beyond the credit grant: %v", step, &m)
				}
			}
		}
		if !done {
			t.Fatal("request body never ended (no packet without more)")
		}
		equalBody(t, "request body", got, body)

		s.sendPacket(zhttp.Packet{Code: 200, Has: zhttp.HasCode, Reason: "OK", Body: []byte("got it\n")})
		select {
		case resp := <-res:
			if resp.Status != 200 || string(resp.Body) != "got it\n" {
				t.Errorf("client got %d %q", resp.Status, resp.Body)
			}
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(2 * wait):
			t.Fatal("client got no response")
		}
	})
}

// TestCondureWebSocket: condure turns a WebSocket handshake into a ZHTTP
// session without stream, relays text/binary messages with content-type,
// forwards pings without answering them itself, grants credits for bytes it
// wrote, and carries close codes both ways (reference §2.9.4).
func TestCondureWebSocket(t *testing.T) {
	forImpls(t, harness.Condure, func(t *testing.T, impl harness.Impl) {
		c, r := startCondure(t, impl)
		type dialed struct {
			c   *harness.WSConn
			err error
		}
		ch := make(chan dialed, 1)
		go func() {
			wc, _, err := harness.DialWSErr("ws://"+c.Addr+"/ws?x=1", wait, "X-Client", "interop")
			ch <- dialed{wc, err}
		}()
		m := expectRequest(t, r, c)
		req := &m.Packet
		capture(t, "condure-ws-request.zhttp", m.Raw)
		if want := "ws://" + c.Addr + "/ws?x=1"; req.URI != want {
			t.Errorf("uri %q, want %q", req.URI, want)
		}
		if req.Method != "GET" {
			t.Errorf("method %q, want GET", req.Method)
		}
		if req.Stream {
			t.Errorf("stream set on a WebSocket request")
		}
		for _, h := range []string{"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Upgrade", "Connection"} {
			if header(req, h) == "" {
				t.Errorf("handshake header %s not passed on", h)
			}
		}
		if header(req, "X-Client") != "interop" {
			t.Errorf("X-Client header not passed on")
		}

		s := condureSession(t, r, req)
		s.sendPacket(zhttp.Packet{
			Code: 101, Has: zhttp.HasCode | zhttp.HasCredits, Credits: 10000, Reason: "Switching Protocols",
			Headers: []zhttp.Header{{Name: "X-Interop", Value: "1"}},
		})
		var ws *harness.WSConn
		select {
		case d := <-ch:
			if d.err != nil {
				t.Fatal(d.err)
			}
			ws = d.c
			t.Cleanup(func() { ws.Close() })
		case <-time.After(2 * wait):
			t.Fatal("handshake did not complete")
		}
		if ws.Resp.Header.Get("X-Interop") != "1" || ws.Resp.Header.Get("Sec-WebSocket-Accept") == "" {
			t.Errorf("handshake response headers %v", ws.Resp.Header)
		}
		reads, pongs := readWS(t, ws)

		written := 0
		// text
		if err := ws.WriteText("hello"); err != nil {
			t.Fatal(err)
		}
		expectWSData(t, s, "text", "hello")
		s.sendPacket(zhttp.Packet{ContentType: "text", Body: []byte("echo:hello")})
		written += len("echo:hello")
		expectRead(t, reads, websocket.TextMessage, "echo:hello")
		// binary
		bin := []byte{0, 1, 2, 0xff, 0xfe}
		if err := ws.WriteBinary(bin); err != nil {
			t.Fatal(err)
		}
		capture(t, "condure-ws-binary.zhttp", expectWSData(t, s, "binary", string(bin)).Raw)
		s.sendPacket(zhttp.Packet{ContentType: "binary", Body: append([]byte("echo:"), bin...)})
		written += len("echo:") + len(bin)
		expectRead(t, reads, websocket.BinaryMessage, "echo:"+string(bin))
		// ping: condure forwards it; the pong is ours to send.
		if err := ws.WriteControl(websocket.PingMessage, []byte("pp"), time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		ping := s.nextType(zhttp.Ping)
		capture(t, "condure-ws-ping.zhttp", ping.Raw)
		if string(ping.Packet.Body) != "pp" {
			t.Errorf("ping body %q, want \"pp\"", ping.Packet.Body)
		}
		s.sendPacket(zhttp.Packet{Type: zhttp.Pong, Body: []byte("pp")})
		select {
		case p := <-pongs:
			if p != "pp" {
				t.Errorf("client got pong %q, want \"pp\"", p)
			}
		case <-time.After(wait):
			t.Error("client got no pong")
		}
		// condure grants what it wrote to the client: the message payloads
		// and, unlike zurl (which counts ping/pong as 0, reference §2.5), the
		// pong's payload too.
		s.waitCredits(written + len("pp"))
		// close from the client with a code and reason
		if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		cl := s.nextType(zhttp.Close)
		capture(t, "condure-ws-close.zhttp", cl.Raw)
		if cl.Packet.Has&zhttp.HasCode == 0 || cl.Packet.Code != 4001 || string(cl.Packet.Body) != "bye" {
			t.Errorf("close code %d (present %v) body %q, want 4001 \"bye\"", cl.Packet.Code, cl.Packet.Has&zhttp.HasCode != 0, cl.Packet.Body)
		}
		s.sendPacket(zhttp.Packet{Type: zhttp.Close, Code: 1000, Has: zhttp.HasCode, Body: []byte("done")})
		rd := nextRead(t, reads)
		var ce *websocket.CloseError
		if !errors.As(rd.err, &ce) || ce.Code != 1000 || ce.Text != "done" {
			t.Errorf("client read after close: %v, want close 1000 \"done\"", rd.err)
		}
	})
}

func expectWSData(t *testing.T, s *session, ct, body string) harness.ZMessage {
	t.Helper()
	m := s.nextType(zhttp.Data)
	if m.Packet.ContentType != ct || string(m.Packet.Body) != body {
		t.Errorf("got content-type %q body %q, want %q %q", m.Packet.ContentType, m.Packet.Body, ct, body)
	}
	return m
}

type wsRead struct {
	typ  int
	data []byte
	err  error
}

// readWS reads the client connection in the background, so control frames
// (pong, close) are processed; it stops at the first error.
func readWS(t *testing.T, ws *harness.WSConn) (<-chan wsRead, <-chan string) {
	reads := make(chan wsRead, 16)
	pongs := make(chan string, 4)
	ws.SetPongHandler(func(s string) error {
		select {
		case pongs <- s:
		default:
		}
		return nil
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			typ, data, err := ws.Read(2 * wait)
			reads <- wsRead{typ, data, err}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		ws.Close()
		<-done
	})
	return reads, pongs
}

func nextRead(t *testing.T, reads <-chan wsRead) wsRead {
	t.Helper()
	select {
	case rd := <-reads:
		return rd
	case <-time.After(2 * wait):
		t.Fatal("client read nothing")
		return wsRead{}
	}
}

func expectRead(t *testing.T, reads <-chan wsRead, typ int, data string) {
	t.Helper()
	rd := nextRead(t, reads)
	if rd.err != nil || rd.typ != typ || string(rd.data) != data {
		t.Errorf("client read type %d %q (err %v), want type %d %q", rd.typ, rd.data, rd.err, typ, data)
	}
}

// TestCondureClientDisconnect: when the client goes away condure tells the
// session's owner with a cancel (reference §2.9.4).
func TestCondureClientDisconnect(t *testing.T) {
	forImpls(t, harness.Condure, func(t *testing.T, impl harness.Impl) {
		c, r := startCondure(t, impl)
		conn, err := net.DialTimeout("tcp", c.Addr, wait)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /hold HTTP/1.1\r\nHost: "+c.Addr+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		m := expectRequest(t, r, c)
		s := condureSession(t, r, &m.Packet)
		// Start a streamed response so condure knows our address, then drop
		// the client.
		s.sendPacket(zhttp.Packet{Code: 200, Has: zhttp.HasCode, Reason: "OK", More: true})
		buf := make([]byte, 512)
		conn.SetReadDeadline(time.Now().Add(wait))
		if _, err := conn.Read(buf); err != nil {
			t.Fatalf("client read headers: %v", err)
		}
		conn.Close()
		cancel := s.nextType(zhttp.Cancel)
		capture(t, "condure-cancel.zhttp", cancel.Raw)
		if string(cancel.Packet.From) != c.ID {
			t.Errorf("cancel from %q", cancel.Packet.From)
		}
	})
}

// TestCondureWebSocketRejected: an error packet with condition rejected
// answers a WebSocket handshake with a plain HTTP response built from its
// code, reason, headers and body (reference §2.9.4).
func TestCondureWebSocketRejected(t *testing.T) {
	forImpls(t, harness.Condure, func(t *testing.T, impl harness.Impl) {
		c, r := startCondure(t, impl)
		type dialed struct {
			resp *http.Response
			err  error
		}
		ch := make(chan dialed, 1)
		go func() {
			wc, resp, err := harness.DialWSErr("ws://"+c.Addr+"/ws", wait)
			if wc != nil {
				wc.Close()
			}
			ch <- dialed{resp, err}
		}()
		m := expectRequest(t, r, c)
		s := condureSession(t, r, &m.Packet)
		s.sendPacket(zhttp.Packet{
			Type: zhttp.Error, Condition: zhttp.CondRejected,
			Code: 403, Has: zhttp.HasCode, Reason: "Forbidden",
			Headers: []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}, {Name: "X-Why", Value: "test"}},
			Body:    []byte("not you\n"),
		})
		var d dialed
		select {
		case d = <-ch:
		case <-time.After(2 * wait):
			t.Fatal("handshake did not end")
		}
		if d.err == nil || d.resp == nil {
			t.Fatalf("handshake: err %v resp %v, want a rejection", d.err, d.resp)
		}
		body, _ := io.ReadAll(d.resp.Body)
		d.resp.Body.Close()
		if d.resp.StatusCode != 403 || d.resp.Header.Get("X-Why") != "test" || d.resp.Header.Get("Upgrade") != "" {
			t.Errorf("rejection %d headers %v", d.resp.StatusCode, d.resp.Header)
		}
		// gorilla hands back the body it had read with the headers.
		if len(body) > 0 && string(body) != "not you\n" {
			t.Errorf("rejection body %q", body)
		}
	})
}

// TestCondureBadSeq: condure 1.9.1 logs "bad seq (expected 1, got 5),
// skipping" but then fails the connection with BadMessage: the client's
// response ends there and nothing more goes to the handler for the session.
// (Reference §2.4 says condure only drops the packet; the binary does more.)
func TestCondureBadSeq(t *testing.T) {
	forImpls(t, harness.Condure, func(t *testing.T, impl harness.Impl) {
		c, r := startCondure(t, impl)
		res := rawHTTP(c.Addr, "GET /seq HTTP/1.1\r\nHost: "+c.Addr+"\r\nConnection: close\r\n\r\n")
		m := expectRequest(t, r, c)
		s := condureSession(t, r, &m.Packet)
		s.sendPacket(zhttp.Packet{Code: 200, Has: zhttp.HasCode, Reason: "OK", More: true})
		// seq 5 instead of 1
		bad := zhttp.Packet{ID: s.id, Body: []byte("dropped\n"), More: true}
		bad.SetSeq(5)
		if err := r.Send(s.to, &bad); err != nil {
			t.Fatal(err)
		}
		raw := awaitRaw(t, res)
		if strings.Contains(raw, "dropped") {
			t.Errorf("the badly numbered body was delivered: %q", raw)
		}
		if !strings.HasPrefix(raw, "HTTP/1.1 200 OK\r\n") || strings.HasSuffix(raw, "0\r\n\r\n") {
			t.Errorf("response %q: want the headers, then the connection cut without a final chunk", raw)
		}
		for {
			m, err := r.Recv(200 * time.Millisecond)
			if err != nil {
				break
			}
			t.Logf("after bad seq: %v", &m)
		}
	})
}
