package connmgr

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pushpin-go/pushpin/condure/http1"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// maxHeaders bounds header lines per request (431 beyond).
const maxHeaders = 100

// queueLimit bounds a connection's inbound packet queue. Credits already
// bound the body bytes a responder may have in flight; this bounds the
// number of packets (a responder flooding keep-alives or tiny messages).
// Overflow fails the session: it is cancelled and the client closed.
const queueLimit = 1024

// readResult is what the reader goroutine reports.
type readResult struct {
	n    int
	err  error
	peek bool // a readiness wait finished (no bytes consumed)
}

// conn is one client connection. Everything but the inbound queue is owned
// by the connection goroutine (serve).
type conn struct {
	srv    *Server
	nc     net.Conn
	rc     syscall.RawConn // for readiness waits without a buffer; nil for TLS
	ln     *listener
	worker int
	slot   uint64

	peerAddr string
	peerPort int
	hasPort  bool

	// Client bytes not yet consumed are buf[r:w]. buf is pooled and
	// released while the connection idles with nothing buffered.
	buf      []byte
	r, w     int
	rdReq    chan []byte
	rdRes    chan readResult
	rdDone   chan struct{}
	reading  bool // a request is outstanding with the reader
	readable bool // a readiness wait succeeded: read into a buffer next
	rdErr    error
	deadline time.Duration // read inactivity timeout while in a session

	qmu      sync.Mutex
	queue    []*zhttp.Packet
	qsess    *session
	qFull    bool
	qExpired bool
	notify   chan struct{}

	reqCounter int
}

// errClientGone marks the client closing or failing its connection.
var errClientGone = errors.New("client connection closed")

func (srv *Server) newConn(nc net.Conn, ln *listener) *conn {
	c := &conn{
		srv:    srv,
		nc:     nc,
		ln:     ln,
		rdReq:  make(chan []byte, 1),
		rdRes:  make(chan readResult, 1),
		rdDone: make(chan struct{}),
		notify: make(chan struct{}, 1),
	}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
		}
	}
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		c.peerAddr, c.peerPort, c.hasPort = a.IP.String(), a.Port, true
	}
	return c
}

// serve runs the connection to its end. Owner: the listener's accept loop
// (tracked by Server.conns).
func (c *conn) serve(ctx context.Context) {
	// Owner: serve; it closes rdReq and waits for rdDone below.
	go c.readLoop()
	defer func() {
		c.nc.Close()
		close(c.rdReq)
		<-c.rdDone
		c.releaseBuf()
	}()
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(c.srv.cfg.HeadTimeout))
		hctx, cancel := context.WithTimeout(ctx, c.srv.cfg.HeadTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			c.srv.log.Debug("tls handshake failed", "peer", c.nc.RemoteAddr().String(), "err", err)
			return
		}
		tc.SetDeadline(time.Time{})
	}
	var err error
	if c.ln.cfg.Mode == ModeReq {
		err = c.serveReq(ctx)
	} else {
		err = c.serveStream(ctx)
	}
	if err != nil && !errors.Is(err, errClientGone) && !errors.Is(err, context.Canceled) {
		c.srv.log.Debug("connection ended", "peer", c.nc.RemoteAddr().String(), "err", err)
	}
}

// readLoop performs the reads the connection goroutine asks for: a nil
// buffer is a readiness wait (so an idle connection holds no buffer).
func (c *conn) readLoop() {
	defer close(c.rdDone)
	for b := range c.rdReq {
		if b == nil {
			c.rdRes <- readResult{peek: true, err: c.waitReadable()}
			continue
		}
		n, err := c.nc.Read(b)
		c.rdRes <- readResult{n: n, err: err}
	}
}

// waitReadable blocks until the socket has data or EOF, without reading it:
// a zero-length MSG_PEEK is not enough to see EOF, so peek one byte.
func (c *conn) waitReadable() error {
	var opErr error
	var b [1]byte
	err := c.rc.Read(func(fd uintptr) bool {
		_, _, e := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if e == syscall.EAGAIN || e == syscall.EINTR {
			return false
		}
		opErr = e
		return true
	})
	if err != nil {
		return err
	}
	if opErr != nil {
		return opErr
	}
	return nil
}

func (c *conn) bufSize() int { return c.srv.cfg.BufferSize }

func (c *conn) ensureBuf() {
	if c.buf == nil {
		c.buf = c.srv.bufs.get()
		c.r, c.w = 0, 0
	}
}

// releaseBuf returns the read buffer when it holds nothing (never while a
// read into it is outstanding).
func (c *conn) releaseBuf() {
	if c.buf != nil && !c.reading && c.r == c.w {
		c.srv.bufs.put(c.buf)
		c.buf = nil
		c.r, c.w = 0, 0
	}
}

// data returns the buffered, unconsumed client bytes.
func (c *conn) data() []byte {
	if c.buf == nil {
		return nil
	}
	return c.buf[c.r:c.w]
}

func (c *conn) consume(n int) {
	c.r += n
	if c.r == c.w && !c.reading {
		c.r, c.w = 0, 0
	}
}

// armRead makes sure a read is outstanding if there is room to read into
// and the client has not finished. With nothing buffered on a plain socket
// it first waits for readiness with no buffer held.
func (c *conn) armRead() {
	if c.reading || c.rdErr != nil {
		return
	}
	if c.r == c.w && c.rc != nil && !c.readable {
		c.releaseBuf()
		c.reading = true
		c.rdReq <- nil
		return
	}
	c.ensureBuf()
	if c.r > 0 {
		copy(c.buf, c.buf[c.r:c.w])
		c.w -= c.r
		c.r = 0
	}
	if c.w == len(c.buf) {
		return // full: the consumer must make room first
	}
	c.readable = false
	c.reading = true
	c.rdReq <- c.buf[c.w:]
}

// gotRead applies a reader result.
func (c *conn) gotRead(res readResult) {
	c.reading = false
	if res.peek {
		if res.err != nil {
			c.rdErr = res.err
		} else {
			c.readable = true
		}
		return
	}
	c.w += res.n
	if res.err != nil {
		c.rdErr = res.err
	}
	if res.n > 0 {
		c.touchRead()
	}
}

func (c *conn) touchRead() {
	if c.deadline > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.deadline))
	}
}

// setReadTimeout sets the inactivity timeout applied to reads and writes.
func (c *conn) setReadTimeout(d time.Duration) {
	c.deadline = d
	c.nc.SetReadDeadline(time.Now().Add(d))
}

// write sends b to the client, refreshing the inactivity timeout.
func (c *conn) write(b []byte) error {
	d := c.deadline
	if d == 0 {
		d = c.srv.cfg.StreamTimeout
	}
	now := time.Now()
	c.nc.SetWriteDeadline(now.Add(d))
	if _, err := c.nc.Write(b); err != nil {
		return errors.Join(errClientGone, err)
	}
	if c.deadline > 0 {
		// Output counts as activity for the inactivity timeout too.
		c.nc.SetReadDeadline(now.Add(c.deadline))
	}
	return nil
}

// readHead reads until a complete request head is buffered and parses it.
// An idle persistent connection waits up to idle for the first byte; the
// head must then complete within HeadTimeout. Parse errors are answered
// with 400/431/505 before the connection closes (condure closes silently).
func (c *conn) readHead(ctx context.Context, req *http1.Request, idle time.Duration) (int, error) {
	c.deadline = 0
	started := false
	c.nc.SetReadDeadline(time.Now().Add(idle))
	for {
		if d := c.data(); len(d) > 0 {
			if !started {
				started = true
				c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.HeadTimeout))
			}
			n, err := http1.ParseRequestHead(d, req, maxHeaders)
			if err == nil {
				return n, nil
			}
			if !errors.Is(err, http1.ErrIncomplete) {
				return 0, c.rejectHead(err)
			}
			if c.w-c.r >= c.bufSize() {
				return 0, c.rejectHead(http1.ErrHeadTooLarge)
			}
		}
		if c.rdErr != nil {
			if started {
				c.srv.log.Debug("client closed mid-head", "err", c.rdErr)
				if isTimeout(c.rdErr) {
					c.sendSimple(1, 408, "Request Timeout\n")
				}
			}
			return 0, errClientGone
		}
		c.armRead()
		select {
		case res := <-c.rdRes:
			c.gotRead(res)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// rejectHead answers a malformed head and ends the connection.
func (c *conn) rejectHead(err error) error {
	code := http1.Status(err)
	if code == 0 {
		code = 400
	}
	c.srv.stats.badRequests.Add(1)
	c.srv.log.Debug("rejecting request", "peer", c.nc.RemoteAddr().String(), "status", code, "err", err)
	c.sendSimple(1, code, err.Error()+"\n")
	c.lingerClose()
	return err
}

// lingerClose half-closes and discards what the client still sends, for a
// bounded time and amount, so that closing with unread input does not
// reset the connection before the client has read our error response.
func (c *conn) lingerClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.deadline = 0
	c.nc.SetReadDeadline(time.Now().Add(time.Second))
	for i := 0; i < 64 && c.rdErr == nil; i++ {
		c.consume(c.w - c.r)
		c.readable = true // read straight into a buffer
		c.armRead()
		if !c.reading {
			return
		}
		c.gotRead(<-c.rdRes)
	}
}

func (c *conn) sendSimple(minor, code int, body string) {
	out := http1.AppendSimpleResponse(nil, minor, code, body)
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.nc.Write(out)
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// enqueue hands an inbound packet to the connection. It runs on the SUB
// dispatcher and never blocks.
func (c *conn) enqueue(s *session, p *zhttp.Packet) {
	c.qmu.Lock()
	if c.qsess != s {
		c.qmu.Unlock()
		if s.orphaned.Load() {
			c.srv.zs.cancelOrphan(s, p)
		}
		return
	}
	if len(c.queue) >= queueLimit+c.srv.cfg.MessagesMax {
		c.qFull = true
	} else {
		c.queue = append(c.queue, p)
	}
	c.qmu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// expire marks the session as silent for too long (from the wheel).
func (c *conn) expire(s *session) {
	c.qmu.Lock()
	if c.qsess == s {
		c.qExpired = true
	}
	c.qmu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// takeQueue moves queued packets into dst.
func (c *conn) takeQueue(dst []*zhttp.Packet) ([]*zhttp.Packet, bool, bool) {
	c.qmu.Lock()
	dst = append(dst, c.queue...)
	clear(c.queue)
	c.queue = c.queue[:0]
	if cap(c.queue) > 64 {
		c.queue = nil // don't keep a burst's capacity on an idle connection
	}
	full, expired := c.qFull, c.qExpired
	c.qmu.Unlock()
	return dst, full, expired
}

// bindSession directs the inbound queue to s (nil to stop accepting).
func (c *conn) bindSession(s *session) {
	c.qmu.Lock()
	c.qsess = s
	clear(c.queue)
	c.queue = c.queue[:0]
	c.qFull, c.qExpired = false, false
	c.qmu.Unlock()
}

// newSession creates and registers a session with a fresh id of condure's
// "<worker>-<conn>-<counter>" hex shape.
func (c *conn) newSession() *session {
	n := c.srv.nextReqID(c.worker)
	id := strconv.FormatUint(uint64(c.worker), 16) + "-" + strconv.FormatUint(c.slot, 16) + "-" + strconv.FormatUint(n, 16)
	s := &session{id: id, idb: []byte(id), conn: c}
	c.bindSession(s)
	c.srv.zs.register(s)
	return s
}

func (c *conn) endSession(s *session) {
	if !s.orphaned.Load() {
		c.srv.zs.unregister(s)
	}
	c.bindSession(nil)
}

// scheme returns the URI scheme for a request on this listener.
func (c *conn) scheme(ws bool) string {
	switch {
	case ws && c.ln.cfg.TLS:
		return "wss"
	case ws:
		return "ws"
	case c.ln.cfg.TLS:
		return "https"
	}
	return "http"
}

// requestURI builds the absolute URI condure puts in "uri": scheme, the
// Host header (else the local address), and the request target.
func (c *conn) requestURI(req *http1.Request, ws bool) string {
	target := string(req.Target)
	if len(target) > 0 && target[0] != '/' && target != "*" {
		// absolute-form: keep its host, fix the scheme.
		if _, rest, ok := cutScheme(target); ok {
			return c.scheme(ws) + "://" + rest
		}
	}
	host, ok := req.Header("Host")
	h := string(host)
	if !ok || len(host) == 0 {
		h = c.nc.LocalAddr().String()
		if c.ln.cfg.Local {
			h = "localhost"
		}
	}
	return c.scheme(ws) + "://" + h + target
}

func cutScheme(s string) (scheme, rest string, ok bool) {
	for i := 0; i < len(s) && i < 8; i++ {
		if s[i] == ':' {
			if len(s) > i+2 && s[i+1] == '/' && s[i+2] == '/' {
				return s[:i], s[i+3:], true
			}
			return "", "", false
		}
	}
	return "", "", false
}

// requestPacket fills the fields condure puts in every first packet.
func (c *conn) requestPacket(p *zhttp.Packet, req *http1.Request, ws bool) {
	p.Method = string(req.Method)
	p.URI = c.requestURI(req, ws)
	p.Headers = make([]zhttp.Header, len(req.Headers))
	for i, h := range req.Headers {
		p.Headers[i] = zhttp.Header{Name: string(h.Name), Value: string(h.Value)}
	}
	if c.peerAddr != "" {
		p.PeerAddress = c.peerAddr
	}
	if c.hasPort {
		p.SetPeerPort(c.peerPort)
	}
}

// waitEvent blocks until the reader reports, packets arrive, or ctx ends.
// It returns the packets taken from the queue (appended to pk).
func (c *conn) waitEvent(ctx context.Context, pk []*zhttp.Packet) ([]*zhttp.Packet, bool, bool, error) {
	select {
	case res := <-c.rdRes:
		c.gotRead(res)
		return pk, false, false, nil
	case <-c.notify:
		pk, full, expired := c.takeQueue(pk)
		return pk, full, expired, nil
	case <-ctx.Done():
		return pk, false, false, ctx.Err()
	}
}

// clientEOF reports whether the client finished sending (EOF or error)
// with nothing left buffered.
func (c *conn) clientEOF() bool { return c.rdErr != nil && c.r == c.w }

// errIsEOF reports whether the read error was an orderly close.
func errIsEOF(err error) bool { return err == io.EOF }
