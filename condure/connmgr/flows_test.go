package connmgr

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/condure/internal/zhttptest"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Flow §2.9.1: plain request/response, Content-Length added.
func TestPlainResponse(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	fmt.Fprintf(c, "GET /simple?a=b HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t\r\n\r\n")
	s, m := e.request()
	p := &m.Packet
	if p.Method != "GET" || p.URI != "http://example.com:8080/simple?a=b" || !p.Stream || p.More ||
		p.Credits != DefaultBufferSize || p.PeerAddress != "127.0.0.1" || p.Has&zhttp.HasPeerPort == 0 ||
		len(p.Headers) != 2 || p.Headers[0] != (zhttp.Header{Name: "Host", Value: "example.com:8080"}) {
		t.Fatalf("request packet %v", m)
	}
	s.respond(200, "hello from probe\n", false, zhttp.Header{Name: "Content-Type", Value: "text/plain"})
	resp, body := readResponse(t, c, bufio.NewReader(c), "GET")
	if resp.StatusCode != 200 || body != "hello from probe\n" || resp.ContentLength != 17 ||
		resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("response %v %q", resp, body)
	}
	// A complete response is not followed by credits.
	e.expectNone(200 * time.Millisecond)
}

// Flow §2.9.2: streamed response; condure grants exactly the bytes written.
func TestStreamedResponse(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	fmt.Fprintf(c, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
	s, _ := e.request()
	s.respond(200, "", true, zhttp.Header{Name: "Content-Type", Value: "text/plain"})
	br := bufio.NewReader(c)
	wantSeq := 1
	for i := 0; i < 3; i++ {
		chunk := fmt.Sprintf("chunk%d\n", i)
		s.send(zhttp.Packet{Body: []byte(chunk), More: true})
		m := s.next()
		if m.Via != zhttptest.ViaRouter || m.Packet.Type != zhttp.Credit || m.Packet.Credits != len(chunk) || m.Packet.Seq != wantSeq {
			t.Fatalf("credit %v", m)
		}
		wantSeq++
	}
	s.send(zhttp.Packet{Body: []byte{}})
	resp, body := readResponse(t, c, br, "GET")
	if strings.Join(resp.TransferEncoding, ",") != "chunked" || body != "chunk0\nchunk1\nchunk2\n" {
		t.Fatalf("response %v %q", resp, body)
	}
	// Persistent: the next request gets a fresh id.
	fmt.Fprintf(c, "GET /again HTTP/1.1\r\nHost: h\r\n\r\n")
	s2, _ := e.request()
	if string(s2.id) == string(s.id) {
		t.Fatal("persistent connection reused the session id")
	}
	s2.respond(204, "ignored", false)
	resp, body = readResponse(t, c, br, "GET")
	if resp.StatusCode != 204 || body != "" {
		t.Fatalf("204 %v %q", resp, body)
	}
}

// Flow §2.9.3: a request body goes out only under granted credits, in
// pieces, with more until the end.
func TestRequestBody(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	body := strings.Repeat("0123456789", 2000)
	fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	s, m := e.request()
	if !m.Packet.More || m.Packet.Body != nil {
		t.Fatalf("first packet %v", m)
	}
	e.expectNone(200 * time.Millisecond) // nothing without credits
	credit := zhttp.Packet{Type: zhttp.Credit}
	credit.SetCredits(100000)
	s.send(credit)
	var got strings.Builder
	for seq := 1; ; seq++ {
		m := s.next()
		if m.Packet.Seq != seq || m.Packet.Type != zhttp.Data || len(m.Packet.Body) > DefaultBufferSize {
			t.Fatalf("body packet %v", m)
		}
		got.Write(m.Packet.Body)
		if !m.Packet.More {
			break
		}
	}
	if got.String() != body {
		t.Fatalf("body %d bytes, want %d", got.Len(), len(body))
	}
	s.respond(200, "got it\n", false)
	resp, rb := readResponse(t, c, bufio.NewReader(c), "POST")
	if resp.StatusCode != 200 || rb != "got it\n" {
		t.Fatalf("%v %q", resp, rb)
	}
}

// A chunked request body is decoded; its end is a data packet with neither
// body nor more (verified against condure 1.9.1).
func TestChunkedRequestBody(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
	s, m := e.request()
	if !m.Packet.More {
		t.Fatalf("first packet %v", m)
	}
	credit := zhttp.Packet{Type: zhttp.Credit}
	credit.SetCredits(3) // smaller than the body: it must wait for more
	s.send(credit)
	var got []byte
	for {
		m := s.next()
		got = append(got, m.Packet.Body...)
		if !m.Packet.More {
			if m.Packet.Body != nil {
				t.Fatalf("final packet has a body: %v", m)
			}
			break
		}
		if len(got) == 3 {
			credit.SetCredits(10)
			s.send(credit)
		}
	}
	if string(got) != "abcde" {
		t.Fatalf("body %q", got)
	}
	s.respond(200, "", false)
	readResponse(t, c, bufio.NewReader(c), "POST")

	// Broken chunk framing is answered with 400 and cancelled.
	c2 := e.dial()
	fmt.Fprintf(c2, "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
	s2, _ := e.request()
	credit.SetCredits(100)
	s2.send(credit)
	if m := s2.next(); m.Packet.Type != zhttp.Cancel {
		t.Fatalf("want cancel, got %v", m)
	}
	if out := readAll(t, c2); !strings.HasPrefix(out, "HTTP/1.1 400 ") {
		t.Fatalf("got %q", out)
	}
}

// HTTP/1.0: close-delimited streaming; keep-alive only when asked for.
func TestHTTP10(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	fmt.Fprintf(c, "GET /s HTTP/1.0\r\n\r\n")
	s, m := e.request()
	if !strings.HasPrefix(m.Packet.URI, "http://127.0.0.1:") {
		t.Fatalf("uri without Host: %q", m.Packet.URI)
	}
	s.respond(200, "a", true)
	s.next() // credit
	s.send(zhttp.Packet{Body: []byte("b")})
	if out := readAll(t, c); out != "HTTP/1.0 200 OK\r\n\r\nab" {
		t.Fatalf("got %q", out)
	}

	c2 := e.dial()
	fmt.Fprintf(c2, "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	s2, _ := e.request()
	s2.respond(200, "x", false)
	resp, _ := readResponse(t, c2, bufio.NewReader(c2), "GET")
	if resp.Header.Get("Connection") != "keep-alive" || resp.ContentLength != 1 {
		t.Fatalf("%v", resp)
	}
}

// A HEAD response declares the length but sends no body.
func TestHeadResponse(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	fmt.Fprintf(c, "HEAD /h HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	s, _ := e.request()
	s.respond(200, "123456", false)
	if out := readAll(t, c); out != "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 6\r\n\r\n" {
		t.Fatalf("got %q", out)
	}
}

// Client disconnect → cancel to the responder (§2.9.4 note).
func TestClientDisconnectCancel(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	fmt.Fprintf(c, "GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	s, _ := e.request()
	s.respond(200, "", true)
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(wait))
	if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("status %q", line)
	}
	c.Close()
	m := s.next()
	if m.Via != zhttptest.ViaRouter || m.Packet.Type != zhttp.Cancel || m.Packet.Seq != 1 {
		t.Fatalf("want cancel seq 1, got %v", m)
	}
}

// Responder error or cancel before a response: the client connection is
// closed without a response (condure 1.9.1 behaviour).
func TestResponderErrorCloses(t *testing.T) {
	e := start(t, nil)
	for _, typ := range []zhttp.Type{zhttp.Error, zhttp.Cancel} {
		c := e.dial()
		fmt.Fprintf(c, "GET /e HTTP/1.1\r\nHost: h\r\n\r\n")
		s, _ := e.request()
		s.send(zhttp.Packet{Type: typ, Condition: "bad-request"})
		if out := readAll(t, c); out != "" {
			t.Fatalf("%v: got %q", typ, out)
		}
	}
}

// A packet out of sequence ends the connection (condure 1.9.1 fails it).
func TestBadSeqEndsConnection(t *testing.T) {
	e := start(t, nil)
	c := e.dial()
	fmt.Fprintf(c, "GET /seq HTTP/1.1\r\nHost: h\r\n\r\n")
	s, _ := e.request()
	s.respond(200, "", true)
	s.seq = 5
	s.send(zhttp.Packet{Body: []byte("dropped"), More: true})
	out := readAll(t, c)
	if strings.Contains(out, "dropped") || !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("got %q", out)
	}
}

// Handoff (§2.8): handoff-start → handoff-proceed, pause, then the new
// owner's packets re-address the session.
func TestHandoff(t *testing.T) {
	e := start(t, nil)
	h2, err := zhttptest.New(e.base, zhttptest.Options{ID: "h2", NoPull: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	c := e.dial()
	fmt.Fprintf(c, "GET /handoff HTTP/1.1\r\nHost: h\r\n\r\n")
	s, _ := e.request()
	s.multi = true
	s.send(zhttp.Packet{Type: zhttp.KeepAlive})
	s.send(zhttp.Packet{Type: zhttp.HandoffStart})
	m := s.next()
	if m.Packet.Type != zhttp.HandoffProceed || m.Packet.Seq != 1 {
		t.Fatalf("want handoff-proceed seq 1, got %v", m)
	}
	// The new owner continues the counters (accept carries in/out seq).
	s2 := &rsess{e: e, r: h2, id: s.id, to: s.to, seq: s.seq, multi: true}
	if err := h2.WaitSubscribed(wait); err != nil {
		t.Fatal(err)
	}
	s2.send(zhttp.Packet{Type: zhttp.KeepAlive})
	s2.respond(200, "", true)
	s2.send(zhttp.Packet{Body: []byte("from h2"), More: true})
	m2, err := h2.Recv(wait)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Via != zhttptest.ViaRouter || m2.Packet.Type != zhttp.Credit || m2.Packet.Seq != 2 || m2.Packet.Credits != 7 {
		t.Fatalf("want credit seq 2 to h2, got %v", m2)
	}
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(line, "from h2") {
			break
		}
	}
}

// Keep-alives: one per session per cycle, batched with list-form ids for a
// multi responder; a silent session expires.
func TestKeepAlivesAndExpiry(t *testing.T) {
	oldTick, oldExpire, oldInterval := kaTick, sessionExpire, expiryInterval
	kaTick, sessionExpire, expiryInterval = time.Millisecond, 3*time.Second, 50*time.Millisecond
	defer func() { kaTick, sessionExpire, expiryInterval = oldTick, oldExpire, oldInterval }()
	e := start(t, nil)
	var sess []*rsess
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		c := e.dial()
		fmt.Fprintf(c, "GET /hold%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		s, _ := e.request()
		s.multi = true
		s.respond(200, "", true)
		sess = append(sess, s)
		conns = append(conns, c)
	}
	// Within one 450 ms cycle both sessions get a keep-alive; sessions
	// registered in the same slot share a batch.
	got := map[string]int{}
	deadline := time.Now().Add(wait)
	for len(got) < 2 && time.Now().Before(deadline) {
		m := e.expect()
		if m.Packet.Type != zhttp.KeepAlive {
			t.Fatalf("want keep-alive, got %v", m)
		}
		if len(m.Packet.IDs) > 0 {
			for _, id := range m.Packet.IDs {
				got[string(id.ID)] = id.Seq
			}
		} else {
			got[string(m.Packet.ID)] = m.Packet.Seq
		}
	}
	for _, s := range sess {
		if got[string(s.id)] != 1 {
			t.Fatalf("keep-alive seqs %v", got)
		}
	}
	// Silence from the responder for sessionExpire drops the session and
	// the client connection.
	conns[0].SetReadDeadline(time.Now().Add(wait))
	if out := readAll(t, conns[0]); !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("got %q", out)
	}
}
