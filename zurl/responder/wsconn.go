package responder

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/zurl/httpclient"
)

// errFrameTooLarge is returned by the frame sniffer when the origin sends a
// data frame longer than buffer_size (zurl's maximum frame size).
var errFrameTooLarge = errors.New("websocket frame too large")

// sniffConn sits under gorilla's connection. It records the handshake
// response head verbatim (gorilla's parsed copy loses header case and
// order, which zurl passes on), then follows the frame headers of the
// server's stream to refuse oversized data frames the way zurl does —
// gorilla only limits whole messages.
type sniffConn struct {
	net.Conn
	maxFrame int64

	mu      sync.Mutex
	head    []byte
	inHead  bool
	hdr     [14]byte
	hdrLen  int
	skip    int64 // payload bytes of the current frame still to pass
	tooBig  bool
	headCap int
}

func newSniffConn(c net.Conn, maxFrame int) *sniffConn {
	return &sniffConn{Conn: c, maxFrame: int64(maxFrame), inHead: true, headCap: 64 * 1024}
}

func (c *sniffConn) Read(p []byte) (int, error) {
	if c.frameTooLarge() {
		return 0, errFrameTooLarge
	}
	c.mu.Lock()
	handshaking := c.inHead
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	if n > 0 && c.observe(p[:n]) && !handshaking {
		return 0, errFrameTooLarge
	}
	// When the oversized frame came in the same read as the handshake
	// response, the handshake must still succeed; the reader checks
	// frameTooLarge before delivering anything.
	return n, err
}

// observe follows the byte stream; it reports an oversized frame.
func (c *sniffConn) observe(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tooBig {
		return true
	}
	if c.inHead {
		start := len(c.head)
		c.head = append(c.head, b...)
		i := bytes.Index(c.head[max(0, start-3):], []byte("\r\n\r\n"))
		if i < 0 {
			if len(c.head) > c.headCap {
				c.inHead = false // give up recording; gorilla fails the handshake
				c.head = nil
			}
			return false
		}
		end := max(0, start-3) + i + 4
		b = c.head[end:]
		c.head = c.head[:end:end]
		c.inHead = false
	}
	for len(b) > 0 {
		if c.skip > 0 {
			n := min(c.skip, int64(len(b)))
			c.skip -= n
			b = b[n:]
			continue
		}
		c.hdr[c.hdrLen] = b[0]
		c.hdrLen++
		b = b[1:]
		if c.hdrLen < 2 {
			continue
		}
		need := 2
		l7 := c.hdr[1] & 0x7f
		switch l7 {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		if c.hdr[1]&0x80 != 0 {
			need += 4
		}
		if c.hdrLen < need {
			continue
		}
		var length int64
		switch l7 {
		case 126:
			length = int64(c.hdr[2])<<8 | int64(c.hdr[3])
		case 127:
			for i := 2; i < 10; i++ {
				length = length<<8 | int64(c.hdr[i])
			}
		default:
			length = int64(l7)
		}
		opcode := c.hdr[0] & 0x0f
		c.hdrLen = 0
		if opcode < 8 && (length < 0 || length > c.maxFrame) {
			c.tooBig = true
			return true
		}
		c.skip = length
	}
	return false
}

func (c *sniffConn) recordedHead() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head
}

func (c *sniffConn) frameTooLarge() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tooBig
}

// wsItem is something read from the origin.
type wsItem struct {
	kind   zhttp.Type // Data, Ping, Pong or Close
	data   []byte
	binary bool
	more   bool // the message continues
	code   int  // close code
}

// wsOp is something to write to the origin.
type wsOp struct {
	kind   zhttp.Type
	data   []byte
	binary bool
	more   bool
	code   int
}

// wsClient is one outbound WebSocket. Its goroutines (dial/read, write)
// belong to it; close stops them and waits. Like httpclient.Exchange it
// signals progress on notify and the session polls its state.
type wsClient struct {
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	notify   chan struct{}
	maxFrame int

	mu        sync.Mutex
	sniff     *sniffConn
	conn      *websocket.Conn
	head      *httpclient.Head
	rejected  *rejection
	err       string // error condition
	in        []wsItem
	inBytes   int
	space     chan struct{}
	out       []wsOp
	outWake   chan struct{}
	written   []int // credits per finished write, in order
	closeSent bool
}

type rejection struct {
	head *httpclient.Head
	body []byte
}

func (w *wsClient) signal() { wake(w.notify) }

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// dialWS starts the handshake in the background.
func dialWS(s *Server, uri string, hdr []zhttp.Header, t *httpclient.Target, maxFrame int) *wsClient {
	ctx, cancel := context.WithCancel(s.ctx)
	w := &wsClient{ctx: ctx, cancel: cancel, notify: make(chan struct{}, 1), maxFrame: maxFrame,
		space: make(chan struct{}, 1), outWake: make(chan struct{}, 1)}
	w.wg.Add(1)
	go w.run(s, uri, hdr, t) // owner: w; close waits via w.wg
	return w
}

// handshakeHeaders are written by gorilla itself (zurl's WebSocket class
// likewise generates them), so the initiator's copies are dropped.
func handshakeHeader(name string) bool {
	for _, n := range [...]string{"Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
		"Content-Length", "Transfer-Encoding", "Keep-Alive"} {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

func (w *wsClient) run(s *Server, uri string, hdr []zhttp.Header, t *httpclient.Target) {
	defer w.wg.Done()
	dial := func(ctx context.Context, tls bool) (net.Conn, error) {
		tt := *t
		tt.TLS = tls
		c, err := s.client.Dial(ctx, &tt)
		if err != nil {
			return nil, err
		}
		sc := newSniffConn(c, w.maxFrame)
		w.mu.Lock()
		w.sniff = sc
		w.mu.Unlock()
		return sc, nil
	}
	timeout := s.opts.ConnectTimeout
	if timeout <= 0 {
		timeout = 300 * time.Second
	}
	d := websocket.Dialer{
		NetDialContext:    func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, false) },
		NetDialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, true) },
		HandshakeTimeout:  timeout,
		ReadBufferSize:    32 * 1024,
		WriteBufferSize:   32 * 1024,
	}
	h := http.Header{}
	for _, e := range hdr {
		if handshakeHeader(e.Name) {
			continue
		}
		name := e.Name
		if strings.EqualFold(name, "User-Agent") {
			name = "User-Agent" // net/http only recognises this spelling
		}
		// Keep the initiator's spelling otherwise: gorilla writes map keys
		// as given.
		h[name] = append(h[name], e.Value)
	}
	if _, ok := h["User-Agent"]; !ok {
		// An empty value stops net/http from adding "Go-http-client/1.1";
		// zurl sends no User-Agent of its own.
		h["User-Agent"] = []string{""}
	}
	conn, resp, err := d.DialContext(w.ctx, uri, h)
	if err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		defer w.signal()
		if w.ctx.Err() != nil {
			return
		}
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			rj := &rejection{head: w.recordedHeadLocked(resp)}
			if resp.Body != nil {
				rj.body, _ = io.ReadAll(io.LimitReader(resp.Body, int64(w.maxFrame)))
			}
			w.rejected = rj
			return
		}
		var he *httpclient.Error
		if errors.As(err, &he) {
			w.err = he.Condition
			return
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			w.err = zhttp.CondConnectionTimeout
			return
		}
		w.err = zhttp.CondRemoteConnectionFailed
		if resp != nil {
			w.err = zhttp.CondUndefined
		}
		return
	}
	// The origin's pings are passed to the initiator, which answers them
	// (zurl relays ping/pong rather than answering itself).
	conn.SetPingHandler(func(string) error {
		w.push(wsItem{kind: zhttp.Ping})
		return nil
	})
	conn.SetPongHandler(func(string) error {
		w.push(wsItem{kind: zhttp.Pong})
		return nil
	})
	conn.SetCloseHandler(func(code int, text string) error {
		if code == websocket.CloseNoStatusReceived {
			code = -1
		}
		w.push(wsItem{kind: zhttp.Close, code: code, data: []byte(text)})
		return nil
	})
	w.mu.Lock()
	w.conn = conn
	w.head = w.recordedHeadLocked(resp)
	w.mu.Unlock()
	w.signal()

	w.wg.Add(1)
	go w.writeLoop(conn) // owner: w; close waits via w.wg
	w.readLoop(conn)
}

// recordedHeadLocked returns the handshake response head as the origin
// wrote it, falling back to gorilla's parsed response.
func (w *wsClient) recordedHeadLocked(resp *http.Response) *httpclient.Head {
	if w.sniff != nil {
		if raw := w.sniff.recordedHead(); len(raw) > 0 {
			if h, err := httpclient.ParseHead(raw); err == nil {
				return h
			}
		}
	}
	h := &httpclient.Head{Code: resp.StatusCode, Reason: strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)+" ")}
	for k, vs := range resp.Header {
		for _, v := range vs {
			h.Header = append(h.Header, zhttp.Header{Name: k, Value: v})
		}
	}
	return h
}

func (w *wsClient) push(it wsItem) {
	w.mu.Lock()
	w.in = append(w.in, it)
	w.inBytes += len(it.data)
	w.mu.Unlock()
	w.signal()
}

func (w *wsClient) fail(cond string) {
	w.mu.Lock()
	if w.err == "" {
		w.err = cond
	}
	w.mu.Unlock()
	w.signal()
}

// readLoop reads messages into the inbound queue, at most maxFrame bytes
// ahead of the initiator's credits.
func (w *wsClient) readLoop(conn *websocket.Conn) {
	for {
		w.mu.Lock()
		full := w.inBytes >= w.maxFrame
		w.mu.Unlock()
		if full {
			select {
			case <-w.space:
				continue
			case <-w.ctx.Done():
				return
			}
		}
		typ, r, err := conn.NextReader()
		if err == nil && w.sniffTooLarge() {
			err = errFrameTooLarge
		}
		if err != nil {
			w.readFailed(err)
			return
		}
		// zurl hands each frame to the initiator as one packet. gorilla
		// hides frame boundaries, so we read whole messages instead: a
		// message up to buffer_size (the largest frame zurl accepts) is one
		// packet, and a longer one (necessarily fragmented by the origin)
		// goes out in buffer_size pieces with "more" set, as fragments.
		binary := typ == websocket.BinaryMessage
		for {
			buf := make([]byte, 0, min(w.maxFrame, 64*1024))
			var rerr error
			for len(buf) < w.maxFrame {
				if len(buf) == cap(buf) {
					buf = append(buf, 0)[:len(buf)]
				}
				n, err := r.Read(buf[len(buf):min(cap(buf), w.maxFrame)])
				buf = buf[:len(buf)+n]
				if w.sniffTooLarge() {
					w.readFailed(errFrameTooLarge)
					return
				}
				if err != nil {
					rerr = err
					break
				}
			}
			if rerr != nil && rerr != io.EOF {
				w.readFailed(rerr)
				return
			}
			w.push(wsItem{kind: zhttp.Data, data: buf, binary: binary, more: rerr == nil})
			if rerr == io.EOF {
				break
			}
		}
	}
}

func (w *wsClient) readFailed(err error) {
	if w.ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	sc := w.sniff
	w.mu.Unlock()
	var ce *websocket.CloseError
	switch {
	case sc != nil && sc.frameTooLarge(), errors.Is(err, errFrameTooLarge):
		w.fail(zhttp.CondFrameTooLarge)
	case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
		// The close item was queued by the close handler; reading is over.
	default:
		w.fail(zhttp.CondUndefined)
	}
}

// enqueue queues a write.
func (w *wsClient) enqueue(op wsOp) {
	w.mu.Lock()
	w.out = append(w.out, op)
	w.mu.Unlock()
	wake(w.outWake)
}

func (w *wsClient) writeLoop(conn *websocket.Conn) {
	defer w.wg.Done()
	var mw io.WriteCloser
	for {
		w.mu.Lock()
		ops := w.out
		w.out = nil
		w.mu.Unlock()
		for _, op := range ops {
			credit, err := w.write(conn, &mw, op)
			if err != nil {
				if w.ctx.Err() == nil {
					w.fail(zhttp.CondUndefined)
				}
				return
			}
			w.mu.Lock()
			if op.kind == zhttp.Close {
				w.closeSent = true
			} else {
				w.written = append(w.written, credit)
			}
			w.mu.Unlock()
			w.signal()
		}
		if len(ops) > 0 {
			continue
		}
		select {
		case <-w.outWake:
		case <-w.ctx.Done():
			return
		}
	}
}

const controlTimeout = 10 * time.Second

func (w *wsClient) write(conn *websocket.Conn, mw *io.WriteCloser, op wsOp) (int, error) {
	switch op.kind {
	case zhttp.Data:
		if *mw == nil {
			typ := websocket.TextMessage
			if op.binary {
				typ = websocket.BinaryMessage
			}
			nw, err := conn.NextWriter(typ)
			if err != nil {
				return 0, err
			}
			*mw = nw
		}
		if _, err := (*mw).Write(op.data); err != nil {
			return 0, err
		}
		if !op.more {
			err := (*mw).Close()
			*mw = nil
			if err != nil {
				return 0, err
			}
		}
		return len(op.data), nil
	case zhttp.Ping:
		return 0, conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(controlTimeout))
	case zhttp.Pong:
		return 0, conn.WriteControl(websocket.PongMessage, nil, time.Now().Add(controlTimeout))
	case zhttp.Close:
		code := op.code
		if code <= 0 {
			code = websocket.CloseNoStatusReceived
		}
		return 0, conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, string(op.data)), time.Now().Add(controlTimeout))
	}
	return 0, nil
}

// close stops the client's goroutines and closes the connection.
func (w *wsClient) close() {
	w.cancel()
	w.mu.Lock()
	if w.conn != nil {
		w.conn.Close()
	} else if w.sniff != nil {
		w.sniff.Close()
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *wsClient) sniffTooLarge() bool {
	w.mu.Lock()
	sc := w.sniff
	w.mu.Unlock()
	return sc != nil && sc.frameTooLarge()
}
