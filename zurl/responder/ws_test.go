package responder

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/zurl/config"
)

// wsOrigin is a gorilla WebSocket server whose handler the test scripts.
type wsOrigin struct {
	srv     *httptest.Server
	mu      sync.Mutex
	headers http.Header
}

func newWSOrigin(t *testing.T, handle func(c *websocket.Conn)) *wsOrigin {
	return newWSOriginWith(t, websocket.Upgrader{}, handle)
}

func newWSOriginWith(t *testing.T, up websocket.Upgrader, handle func(c *websocket.Conn)) *wsOrigin {
	o := &wsOrigin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.headers = r.Header.Clone()
		o.headers.Set("Host", r.Host)
		o.mu.Unlock()
		if r.URL.Path == "/reject" {
			w.Header().Set("X-Why", "nope")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte("go away"))
			return
		}
		c, err := up.Upgrade(w, r, http.Header{"X-Probe": {"1"}})
		if err != nil {
			return
		}
		defer c.Close()
		handle(c)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *wsOrigin) url(path string) string {
	return "ws" + strings.TrimPrefix(o.srv.URL, "http") + path
}

func wsReq(id, uri string) *zhttp.Packet {
	p := &zhttp.Packet{ID: []byte(id), URI: uri}
	p.SetSeq(0)
	p.SetCredits(100000)
	return p
}

func echo(c *websocket.Conn) {
	for {
		t, m, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(t, append([]byte("echo:"), m...)); err != nil {
			return
		}
	}
}

func TestWebSocketEcho(t *testing.T) {
	o := newWSOrigin(t, echo)
	e := startEnv(t)
	p := wsReq("w1", o.url("/ws"))
	p.Headers = []zhttp.Header{{Name: "X-From-Zurl", Value: "1"}, {Name: "Sec-WebSocket-Key", Value: "bogus"},
		{Name: "Upgrade", Value: "websocket"}, {Name: "Sec-WebSocket-Extensions", Value: "grip"}}
	p.Multi = true
	e.send(p)
	acc := e.recv()
	if acc.Code != 101 || acc.Reason != "Switching Protocols" || acc.Credits != e.cfg.BufferSize || !acc.Multi ||
		header(acc, "X-Probe") != "1" || header(acc, "Sec-WebSocket-Accept") == "" {
		t.Fatalf("accept %+v", acc)
	}
	o.mu.Lock()
	h := o.headers
	o.mu.Unlock()
	if h.Get("X-From-Zurl") != "1" || h.Get("Sec-Websocket-Extensions") != "grip" || h.Get("Sec-Websocket-Key") == "bogus" ||
		!strings.HasPrefix(h.Get("Host"), "127.0.0.1:") {
		t.Errorf("origin headers %v", h)
	}

	seq := 1
	next := func() *zhttp.Packet { p := later("w1", seq); seq++; return p }
	m := next()
	m.Body = []byte("hi zurl")
	e.sendStream(m)
	b := next()
	b.Body, b.ContentType = []byte{0, 1, 2}, zhttp.ContentBinary
	e.sendStream(b)
	var credits int
	var got []*zhttp.Packet
	for len(got) < 2 {
		r := e.recv()
		switch r.Type {
		case zhttp.Credit:
			credits += r.Credits
		case zhttp.Data:
			got = append(got, r)
		default:
			t.Fatalf("unexpected %+v", r)
		}
	}
	if string(got[0].Body) != "echo:hi zurl" || got[0].ContentType != "" {
		t.Errorf("text echo %+v", got[0])
	}
	if string(got[1].Body) != "echo:\x00\x01\x02" || got[1].ContentType != zhttp.ContentBinary {
		t.Errorf("binary echo %+v", got[1])
	}

	// Fragmented message from the initiator.
	f1 := next()
	f1.Body, f1.More = []byte("frag-"), true
	e.sendStream(f1)
	f2 := next()
	f2.Body = []byte("ment")
	e.sendStream(f2)
	var frag []byte
	for {
		r := e.recv()
		if r.Type == zhttp.Credit {
			credits += r.Credits
			continue
		}
		frag = append(frag, r.Body...)
		if !r.More {
			break
		}
	}
	if string(frag) != "echo:frag-ment" {
		t.Errorf("fragmented echo %q", frag)
	}

	// Close handshake initiated by us.
	c := next()
	c.Type = zhttp.Close
	c.SetCode(1000)
	c.Body = []byte("done")
	e.sendStream(c)
	for {
		r := e.recv()
		if r.Type == zhttp.Credit {
			credits += r.Credits
			continue
		}
		if r.Type != zhttp.Close || r.Code != 1000 {
			t.Fatalf("want close, got %+v", r)
		}
		break
	}
	waitFor(t, "session end", func() bool { return e.srv.OpenSessions() == 0 })
	if credits > 7+3+9 || credits < 7+3 {
		t.Errorf("credits %d", credits)
	}
}

func TestWebSocketPingPongAndPeerClose(t *testing.T) {
	pongs := make(chan struct{}, 1)
	o := newWSOrigin(t, func(c *websocket.Conn) {
		c.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
		c.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(time.Second))
		go c.ReadMessage() // process the pong
		select {
		case <-pongs:
		case <-time.After(5 * time.Second):
		}
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
		time.Sleep(100 * time.Millisecond)
	})
	e := startEnv(t)
	e.send(wsReq("w2", o.url("/ws")))
	if a := e.recv(); a.Code != 101 {
		t.Fatalf("%+v", a)
	}
	if p := e.recv(); p.Type != zhttp.Ping || len(p.Body) != 0 {
		t.Fatalf("want ping, got %+v", p)
	}
	pong := later("w2", 1)
	pong.Type = zhttp.Pong
	e.sendStream(pong)
	var cl *zhttp.Packet
	for cl == nil {
		r := e.recv()
		switch r.Type {
		case zhttp.Credit:
		case zhttp.Close:
			cl = r
		default:
			t.Fatalf("unexpected %+v", r)
		}
	}
	if cl.Code != 4001 || string(cl.Body) != "bye" {
		t.Fatalf("close %+v", cl)
	}
	c := later("w2", 2)
	c.Type = zhttp.Close
	c.SetCode(4001)
	e.sendStream(c)
	waitFor(t, "session end", func() bool { return e.srv.OpenSessions() == 0 })
}

func TestWebSocketRejected(t *testing.T) {
	o := newWSOrigin(t, echo)
	e := startEnv(t)
	r := e.expectError(wsReq("w3", o.url("/reject")), zhttp.CondRejected)
	if r.Code != 403 || r.Reason != "" || len(r.Headers) != 0 || string(r.Body) != "go away" {
		t.Fatalf("%+v", r)
	}
}

func TestWebSocketFrameTooLarge(t *testing.T) {
	o := newWSOrigin(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.BinaryMessage, make([]byte, 2000))
		c.ReadMessage()
	})
	e := startEnv(t, func(c *config.Config, _ *Options) { c.BufferSize = 1000 })
	e.send(wsReq("w4", o.url("/ws")))
	if a := e.recv(); a.Code != 101 || a.Credits != 1000 {
		t.Fatalf("%+v", a)
	}
	if r := e.recv(); r.Type != zhttp.Error || r.Condition != zhttp.CondFrameTooLarge {
		t.Fatalf("%+v", r)
	}
}

func TestWebSocketCreditsAndFragments(t *testing.T) {
	// A small write buffer makes gorilla send frames of at most ~256 bytes.
	o := newWSOriginWith(t, websocket.Upgrader{WriteBufferSize: 256}, func(c *websocket.Conn) {
		w, _ := c.NextWriter(websocket.TextMessage)
		w.Write([]byte(strings.Repeat("a", 600)))
		w.Close()
		// A message longer than buffer_size, in fragments of 500.
		w, _ = c.NextWriter(websocket.BinaryMessage)
		for i := 0; i < 5; i++ {
			w.Write([]byte(strings.Repeat("b", 500)))
		}
		w.Close()
		c.ReadMessage()
	})
	e := startEnv(t, func(c *config.Config, _ *Options) { c.BufferSize = 1000 })
	p := wsReq("w5", o.url("/ws"))
	p.SetCredits(250)
	e.send(p)
	if a := e.recv(); a.Code != 101 {
		t.Fatalf("%+v", a)
	}
	// 600 bytes wait until the credits cover them.
	e.expectNone(100 * time.Millisecond)
	c := later("w5", 1)
	c.Type = zhttp.Credit
	c.SetCredits(350)
	e.sendStream(c)
	r := e.recv()
	if len(r.Body) != 600 || r.More || r.ContentType != "" {
		t.Fatalf("%d bytes more=%v", len(r.Body), r.More)
	}
	c = later("w5", 2)
	c.Type = zhttp.Credit
	c.SetCredits(5000)
	e.sendStream(c)
	var sizes []int
	for {
		r := e.recv()
		if r.ContentType != zhttp.ContentBinary {
			t.Fatalf("%+v", r)
		}
		sizes = append(sizes, len(r.Body))
		if !r.More {
			break
		}
	}
	if fmt.Sprint(sizes) != "[1000 1000 500]" {
		t.Fatalf("fragments %v", sizes)
	}
}

func TestWebSocketErrors(t *testing.T) {
	e := startEnv(t)
	e.expectError(wsReq("w6", "ws://"+closedPort(t)+"/"), zhttp.CondRemoteConnectionFailed)
	p := wsReq("w7", "ws://127.0.0.1:1/")
	p.SetSeq(1)
	e.expectError(p, zhttp.CondBadRequest)
}

func TestWebSocketPolicy(t *testing.T) {
	o := newWSOrigin(t, echo)
	e := startEnv(t, func(c *config.Config, _ *Options) {
		c.Policy = policyDeny("127.*")
	})
	e.expectError(wsReq("w8", o.url("/ws")), zhttp.CondPolicyViolation)
	p := wsReq("w9", o.url("/ws"))
	p.IgnorePolicies = true
	e.send(p)
	if a := e.recv(); a.Code != 101 {
		t.Fatalf("%+v", a)
	}
}

func TestWebSocketLargeMessage(t *testing.T) {
	o := newWSOrigin(t, echo)
	e := startEnv(t)
	p := wsReq("w10", o.url("/ws"))
	p.SetCredits(200000)
	e.send(p)
	if a := e.recv(); a.Code != 101 {
		t.Fatalf("%+v", a)
	}
	m := later("w10", 1)
	m.Body = []byte(strings.Repeat("w", 100000))
	e.sendStream(m)
	var got []byte
	for i := 0; i < 100; i++ {
		r := e.recv()
		if r.Type == zhttp.Credit {
			continue
		}
		got = append(got, r.Body...)
		if !r.More {
			break
		}
	}
	if len(got) != 100005 {
		t.Fatalf("got %d bytes", len(got))
	}
}
