package interop

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/test/harness"
)

// clientID is the instance id we talk to zurl with.
const clientID = "interop-client"

// zurlID is the instance_id we give zurl.
const zurlID = "zurl-interop"

// startZurl starts a standalone zurl, a local origin and our
// initiator connected to zurl's sockets, ready to send.
func startZurl(t *testing.T, impl harness.Impl) (*harness.ZurlServer, *harness.Origin, *harness.ZPeer) {
	t.Helper()
	z := harness.StartZurl(t, harness.ZurlOptions{Impl: impl, InstanceID: zurlID})
	o := harness.NewOrigin(t)
	in := harness.NewZInitiator(t, clientID, z.InitiatorSpecs())
	from, err := in.WaitResponder(wait)
	if err != nil {
		t.Fatal(err)
	}
	if string(from) != zurlID {
		t.Fatalf("zurl answers from %q, want its instance_id %q", from, zurlID)
	}
	return z, o, in
}

// zurlSession starts a session: it sends first through the PUSH socket,
// later packets go through the ROUTER to zurl's DEALER.
func zurlSession(t *testing.T, in *harness.ZPeer, id string, first zhttp.Packet) *session {
	t.Helper()
	s := &session{
		t: t, peer: in, id: []byte(id), to: []byte(zurlID),
		in: seqCheck{t: t, name: "zurl→client", next: 0},
	}
	s.send = func(p *zhttp.Packet) error { return in.SendStream(s.to, p) }
	first.ID = s.id
	s.out.stamp(&first)
	if err := in.SendFirst(&first); err != nil {
		t.Fatal(err)
	}
	return s
}

// expectAck checks zurl's immediate first answer: a keep-alive, or a credit
// when the request said more (reference §2.7), from zurl's instance id,
// seq 0.
func expectAck(t *testing.T, s *session, typ zhttp.Type) harness.ZMessage {
	t.Helper()
	m := s.next("first answer", func(*zhttp.Packet) bool { return true })
	p := &m.Packet
	if m.Via != "sub" || string(m.Addr) != clientID {
		t.Errorf("answer via %s to %q, want sub addressed to %q", m.Via, m.Addr, clientID)
	}
	if string(p.From) != zurlID {
		t.Errorf("from %q, want %q", p.From, zurlID)
	}
	if p.Type != typ {
		t.Errorf("first answer is %q, want %q", typeName(p.Type), typeName(typ))
	}
	return m
}

// TestZurlPlainGet: zurl acks with a keep-alive, then sends the whole
// response in one packet (reference §2.9.5).
func TestZurlPlainGet(t *testing.T) {
	forImpls(t, harness.Zurl, func(t *testing.T, impl harness.Impl) {
		_, o, in := startZurl(t, impl)
		o.Handle("/plain", harness.Text(http.StatusOK, "hello\n", "X-Origin", "1"))

		first := zhttp.Packet{
			Method: "GET", URI: o.URL + "/plain?q=1",
			Headers: []zhttp.Header{{Name: "X-Test", Value: "1"}},
			Stream:  true,
		}
		first.SetCredits(100000)
		s := zurlSession(t, in, "r1", first)
		ack := expectAck(t, s, zhttp.KeepAlive)
		capture(t, "zurl-keep-alive.zhttp", ack.Raw)

		m := s.nextType(zhttp.Data)
		capture(t, "zurl-http-response.zhttp", m.Raw)
		p := &m.Packet
		if p.Has&zhttp.HasCode == 0 || p.Code != 200 || p.Reason != "OK" {
			t.Errorf("code %d reason %q", p.Code, p.Reason)
		}
		if string(p.Body) != "hello\n" || p.More {
			t.Errorf("body %q more %v, want the whole body without more", p.Body, p.More)
		}
		if header(p, "Content-Length") != "6" || header(p, "X-Origin") != "1" {
			t.Errorf("headers %v", p.Headers)
		}

		got := o.NextRequest(t, wait)
		if got.Method != "GET" || got.RequestURI != "/plain?q=1" {
			t.Errorf("origin got %s %s", got.Method, got.RequestURI)
		}
		if got.Header.Get("X-Test") != "1" {
			t.Errorf("origin did not get X-Test: %v", got.Header)
		}
		if got.Host != o.Addr {
			t.Errorf("origin got Host %q, want %q (zurl adds it from the uri)", got.Host, o.Addr)
		}
	})
}

// TestZurlCredits: a response body larger than the initial credits is sent
// in packets that never exceed the credits granted so far, continuing only
// after credit packets through the ROUTER (reference §2.5, §2.9.5).
func TestZurlCredits(t *testing.T) {
	forImpls(t, harness.Zurl, func(t *testing.T, impl harness.Impl) {
		_, o, in := startZurl(t, impl)
		const size = 120000
		body := pattern(size)
		o.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Write(body)
		})

		const initial = 50000
		first := zhttp.Packet{Method: "GET", URI: o.URL + "/large", Stream: true}
		first.SetCredits(initial)
		s := zurlSession(t, in, "big1", first)
		expectAck(t, s, zhttp.KeepAlive)

		var got []byte
		avail := initial
		done := false
		sawHeaders := false
		readGrant := func(step int) {
			// Read until the grant is used up or the body ends; zurl may
			// split a grant over several packets.
			for avail > 0 && !done {
				m := s.nextType(zhttp.Data)
				p := &m.Packet
				if !sawHeaders {
					sawHeaders = true
					if p.Code != 200 || header(p, "Content-Length") != strconv.Itoa(size) {
						t.Errorf("first data packet: code %d headers %v", p.Code, p.Headers)
					}
				} else if p.Has&zhttp.HasCode != 0 {
					t.Errorf("code repeated in a later data packet")
				}
				if len(p.Body) > avail {
					t.Errorf("step %d: %d body bytes exceed the %d credits left", step, len(p.Body), avail)
				}
				avail -= len(p.Body)
				got = append(got, p.Body...)
				done = !p.More
			}
		}
		readGrant(0)
		if len(got) != initial {
			t.Errorf("with %d initial credits zurl sent %d bytes, want exactly the credits", initial, len(got))
		}
		for step, grant := range []int{30000, 100000} {
			if done {
				break
			}
			s.sendPacket(zhttp.Packet{Type: zhttp.Credit, Credits: grant, Has: zhttp.HasCredits})
			avail += grant
			readGrant(step + 1)
		}
		if !done {
			t.Fatal("response never ended (no packet without more)")
		}
		equalBody(t, "response body", got, body)
	})
}

// TestZurlRequestBody: a request with more gets a credit ack of zurl's
// buffer size; zurl grants credits back as it writes the body upstream.
func TestZurlRequestBody(t *testing.T) {
	forImpls(t, harness.Zurl, func(t *testing.T, impl harness.Impl) {
		_, o, in := startZurl(t, impl)
		o.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("got " + strconv.Itoa(len(b)) + "\n"))
		})
		const size = 70000
		body := pattern(size)
		first := zhttp.Packet{
			Method: "POST", URI: o.URL + "/upload", Stream: true, More: true,
			Headers: []zhttp.Header{{Name: "Content-Length", Value: strconv.Itoa(size)}, {Name: "Content-Type", Value: "application/octet-stream"}},
		}
		first.SetCredits(100000)
		s := zurlSession(t, in, "post1", first)
		ack := expectAck(t, s, zhttp.Credit)
		capture(t, "zurl-credit-ack.zhttp", ack.Raw)
		if ack.Packet.Credits != 200000 {
			t.Errorf("credit ack %d, want buffer_size 200000", ack.Packet.Credits)
		}
		// Send the body in two packets within the granted credits.
		half := size / 2
		s.sendPacket(zhttp.Packet{Body: body[:half], More: true})
		s.sendPacket(zhttp.Packet{Body: body[half:]})
		m := s.nextType(zhttp.Data)
		if m.Packet.Code != 200 || string(m.Packet.Body) != "got "+strconv.Itoa(size)+"\n" {
			t.Errorf("response %d %q", m.Packet.Code, m.Packet.Body)
		}
		// zurl grants credits for the bytes it wrote upstream as it writes
		// them; whether they arrive before the response is a matter of timing,
		// but they can never exceed what was sent.
		if s.credits < 200000 || s.credits > 200000+size {
			t.Errorf("credits %d: want the 200000 ack plus at most the %d bytes sent", s.credits, size)
		}
	})
}

// TestZurlWebSocket: a ws:// session through zurl: the 101 carries zurl's
// buffer size as credits, text and binary messages are echoed, a ping gets
// a pong, and a close is answered with a close (reference §2.9.6).
func TestZurlWebSocket(t *testing.T) {
	forImpls(t, harness.Zurl, func(t *testing.T, impl harness.Impl) {
		_, o, in := startZurl(t, impl)
		o.Handle("/ws", harness.WebSocket(harness.WSOptions{ResponseHeader: http.Header{"X-Origin": {"1"}}}, func(c *websocket.Conn, r *http.Request) {
			for i := 0; i < 100; i++ {
				typ, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(typ, append([]byte("echo:"), msg...)); err != nil {
					return
				}
			}
		}))

		first := zhttp.Packet{
			URI:     "ws://" + o.Addr + "/ws",
			Headers: []zhttp.Header{{Name: "X-From-Zurl", Value: "1"}},
		}
		first.SetCredits(100000)
		s := zurlSession(t, in, "w1", first)
		m := s.nextType(zhttp.Data)
		capture(t, "zurl-ws-accept.zhttp", m.Raw)
		p := &m.Packet
		if string(p.From) != zurlID || p.Code != 101 {
			t.Fatalf("handshake answer from %q code %d: %v", p.From, p.Code, &m)
		}
		if p.Has&zhttp.HasCredits == 0 || p.Credits != 200000 {
			t.Errorf("101 credits %d, want buffer_size 200000", p.Credits)
		}
		if header(p, "Sec-WebSocket-Accept") == "" || header(p, "X-Origin") != "1" {
			t.Errorf("101 headers %v", p.Headers)
		}
		req := o.NextRequest(t, wait)
		if req.Header.Get("X-From-Zurl") != "1" || req.Header.Get("Sec-WebSocket-Key") == "" {
			t.Errorf("origin handshake headers %v", req.Header)
		}

		// text: zurl omits content-type for text
		s.sendPacket(zhttp.Packet{ContentType: "text", Body: []byte("hi zurl")})
		echo := s.nextType(zhttp.Data)
		if string(echo.Packet.Body) != "echo:hi zurl" || echo.Packet.ContentType != "" {
			t.Errorf("echo content-type %q body %q", echo.Packet.ContentType, echo.Packet.Body)
		}
		capture(t, "zurl-ws-text.zhttp", echo.Raw)
		// binary
		bin := []byte{0, 0xff, 7}
		s.sendPacket(zhttp.Packet{ContentType: "binary", Body: bin})
		echo = s.nextType(zhttp.Data)
		if echo.Packet.ContentType != "binary" || string(echo.Packet.Body) != "echo:"+string(bin) {
			t.Errorf("echo content-type %q body %q", echo.Packet.ContentType, echo.Packet.Body)
		}
		// zurl grants credits for the message bytes it sent to the origin.
		s.waitCredits(200000 + len("hi zurl") + len(bin))
		// ping → pong
		s.sendPacket(zhttp.Packet{Type: zhttp.Ping})
		pong := s.nextType(zhttp.Pong)
		capture(t, "zurl-ws-pong.zhttp", pong.Raw)
		// close
		s.sendPacket(zhttp.Packet{Type: zhttp.Close, Code: 1000, Has: zhttp.HasCode, Body: []byte("done")})
		cl := s.nextType(zhttp.Close)
		if cl.Packet.Has&zhttp.HasCode == 0 || cl.Packet.Code != 1000 {
			t.Errorf("close code %d (present %v)", cl.Packet.Code, cl.Packet.Has&zhttp.HasCode != 0)
		}
	})
}

// TestZurlErrors: zurl answers a request it cannot complete with an error
// packet naming the condition.
func TestZurlErrors(t *testing.T) {
	forImpls(t, harness.Zurl, func(t *testing.T, impl harness.Impl) {
		_, _, in := startZurl(t, impl)
		port := harness.FreePort(t) // nothing listens there
		first := zhttp.Packet{Method: "GET", URI: "http://127.0.0.1:" + strconv.Itoa(port) + "/", Stream: true}
		first.SetCredits(1000)
		s := zurlSession(t, in, "e1", first)
		expectAck(t, s, zhttp.KeepAlive)
		m := s.nextType(zhttp.Error)
		capture(t, "zurl-error.zhttp", m.Raw)
		if m.Packet.Condition != zhttp.CondRemoteConnectionFailed {
			t.Errorf("condition %q, want %q", m.Packet.Condition, zhttp.CondRemoteConnectionFailed)
		}
	})
}

// TestZurlJSONFormat: zurl accepts a 'J' (JSON) request and answers in
// JSON (reference §2.12); our codec decodes both.
func TestZurlJSONFormat(t *testing.T) {
	forImpls(t, harness.Zurl, func(t *testing.T, impl harness.Impl) {
		_, o, in := startZurl(t, impl)
		o.Handle("/j", harness.Text(http.StatusOK, "json ok\n"))
		p := zhttp.Packet{From: []byte(clientID), ID: []byte("j1"), Method: "GET", URI: o.URL + "/j", Stream: true}
		p.SetSeq(0)
		p.SetCredits(10000)
		if err := in.SendFirstRaw(zhttp.AppendJSON(nil, &p)); err != nil {
			t.Fatal(err)
		}
		var seen []harness.ZMessage
		deadline := time.Now().Add(wait)
		for len(seen) < 2 && time.Now().Before(deadline) {
			m, err := in.Recv(time.Until(deadline))
			if err != nil {
				break
			}
			seen = append(seen, m)
		}
		if len(seen) < 2 {
			t.Fatalf("got %d packets, want keep-alive and response", len(seen))
		}
		for _, m := range seen {
			if m.Err != nil || m.Format != zhttp.FormatJ {
				t.Errorf("packet format %q err %v: %v", m.Format, m.Err, &m)
			}
		}
		capture(t, "zurl-json-response.zhttp", seen[1].Raw)
		if seen[1].Packet.Code != 200 || string(seen[1].Packet.Body) != "json ok\n" {
			t.Errorf("response %v", &seen[1])
		}
	})
}

// TestZurlBadSeq: zurl answers a packet with the wrong seq by cancelling
// the session (reference §2.4).
func TestZurlBadSeq(t *testing.T) {
	forImpls(t, harness.Zurl, func(t *testing.T, impl harness.Impl) {
		_, o, in := startZurl(t, impl)
		o.Handle("/slow", harness.StreamFrom("text/plain", make(chan string))) // never ends
		first := zhttp.Packet{Method: "GET", URI: o.URL + "/slow", Stream: true}
		first.SetCredits(1000)
		s := zurlSession(t, in, "bs1", first)
		expectAck(t, s, zhttp.KeepAlive)
		s.nextType(zhttp.Data) // response headers, more
		bad := zhttp.Packet{ID: s.id, Type: zhttp.Credit, Credits: 10, Has: zhttp.HasCredits}
		bad.SetSeq(7)
		if err := in.SendStream(s.to, &bad); err != nil {
			t.Fatal(err)
		}
		m := s.next("cancel", func(p *zhttp.Packet) bool { return p.Type == zhttp.Cancel || p.Type == zhttp.Error })
		capture(t, "zurl-cancel.zhttp", m.Raw)
		if m.Packet.Type != zhttp.Cancel {
			t.Errorf("got %s (condition %q), want cancel", typeName(m.Packet.Type), m.Packet.Condition)
		}
	})
}
