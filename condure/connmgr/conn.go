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
// number of packets (a responder flooding keep-alives or tiny chunks).
// WebSocket messages are bounded tighter, by --messages-max (see enqueue).
// Overflow fails the session: it is cancelled and the client closed.
const queueLimit = 1024

// readResult is what one blocking read (or readiness wait) produced.
type readResult struct {
	n    int
	err  error
	peek bool // a readiness wait finished (no bytes consumed)
}

// aLongTimeAgo is a read deadline in the past: setting it wakes a
// goroutine blocked reading the connection.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one client connection, served by at most one goroutine at a
// time (serve, later resume), which owns everything but the inbound queue
// and the park state. While a request is being read or a response written
// the goroutine blocks either in a read of the client socket or, when it
// does not want client bytes, on the notify channel; a packet arriving
// while it blocks in a read wakes it by moving the read deadline into the
// past (enqueue), and the deadline is then restored.
//
// An idle held stream or WebSocket (nothing buffered, waiting for the
// client or the responder) parks instead: its goroutine ends, the socket
// goes to the poller's epoll set, and a packet, client bytes, the read
// deadline or shutdown starts a new goroutine that continues with c.cont.
// So a held connection costs its structs and no goroutine stack or buffer
// (see test/condure/condurebench).
type conn struct {
	srv    *Server
	nc     net.Conn
	rc     syscall.RawConn // for readiness waits without a buffer; nil for TLS
	fd     int             // the socket, for the poller; -1 without rc
	ln     *listener
	worker int
	slot   uint64

	peerAddr string
	peerPort int
	hasPort  bool

	// Client bytes not yet consumed are buf[r:w]. buf is pooled and
	// released while the connection idles with nothing buffered.
	buf        []byte
	r, w       int
	wantRead   bool // armRead: the next wait reads the client too
	readable   bool // a readiness wait succeeded: read into a buffer next
	rdErr      error
	deadline   time.Duration // read inactivity timeout while in a session
	rdDeadline time.Time     // the read deadline in force (restored after a wake)

	qmu      sync.Mutex
	queue    []*zhttp.Packet
	qsess    *session
	qFull    bool
	qExpired bool
	qMsgs    int  // WebSocket messages started in the queue
	qInMsg   bool // the last queued WebSocket data packet had "more"
	ioWait   bool // serve is blocked reading the client (wake by deadline)
	woken    bool // the read deadline was moved to wake serve
	parked   bool // no goroutine: the next event starts one (resume)
	parkRead bool // parked with the socket armed in the poller
	notify   chan struct{}

	// parkOK lets waitEvent park (set around the waits of the held-stream
	// loops only); cont continues the connection after a park. Both belong
	// to the running goroutine and are never touched once it parked.
	parkOK bool
	cont   func(context.Context) error

	reqCounter int
}

// errClientGone marks the client closing or failing its connection.
var errClientGone = errors.New("client connection closed")

func (srv *Server) newConn(nc net.Conn, ln *listener) *conn {
	c := &conn{
		srv:    srv,
		nc:     nc,
		ln:     ln,
		fd:     -1,
		notify: make(chan struct{}, 1),
	}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			rc.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	}
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		c.peerAddr, c.peerPort, c.hasPort = a.IP.String(), a.Port, true
	}
	return c
}

// serve runs the connection until it ends or parks. Owner: the listener's
// accept loop; Server.Run waits for every connection's finish (connWG).
func (c *conn) serve(ctx context.Context) {
	if tc, ok := c.nc.(*tls.Conn); ok && !c.handshake(ctx, tc) {
		c.finish(nil)
		return
	}
	var err error
	if c.ln.cfg.Mode == ModeReq {
		err = c.serveReq(ctx)
	} else {
		err = c.serveStream(ctx)
	}
	c.afterRun(err)
}

// resume continues a parked connection on a new goroutine. Owner: whoever
// unparked it; Server.Run waits for the connection's finish (connWG).
func (c *conn) resume() {
	if !c.rdDeadline.IsZero() {
		// park cleared it; an expired one makes the next read time out.
		c.nc.SetReadDeadline(c.rdDeadline)
	}
	c.afterRun(c.cont(c.srv.connCtx))
}

// afterRun ends the connection unless it parked (and then touches nothing:
// another goroutine may already own it).
func (c *conn) afterRun(err error) {
	if errors.Is(err, errParked) {
		return
	}
	c.finish(err)
}

// finish closes the connection and releases everything it held.
func (c *conn) finish(err error) {
	if err != nil && !errors.Is(err, errClientGone) && !errors.Is(err, context.Canceled) {
		c.logEnd(err)
	}
	if c.fd >= 0 && c.srv.poller != nil {
		c.srv.poller.forget(c)
	}
	c.nc.Close()
	c.releaseBuf()
	c.cont = nil
	c.srv.connDone(c)
}

// handshake runs the TLS handshake within HeadTimeout. Out of line, like
// logEnd, to keep serve's frame (under every parked connection) small.
//
//go:noinline
func (c *conn) handshake(ctx context.Context, tc *tls.Conn) bool {
	tc.SetDeadline(time.Now().Add(c.srv.cfg.HeadTimeout))
	hctx, cancel := context.WithTimeout(ctx, c.srv.cfg.HeadTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		c.srv.log.Debug("tls handshake failed", "peer", c.nc.RemoteAddr().String(), "err", err)
		return false
	}
	tc.SetDeadline(time.Time{})
	return true
}

//go:noinline
func (c *conn) logEnd(err error) {
	c.srv.log.Debug("connection ended", "peer", c.nc.RemoteAddr().String(), "err", err)
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

// releaseBuf returns the read buffer when it holds nothing.
func (c *conn) releaseBuf() {
	if c.buf != nil && c.r == c.w {
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
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
}

// armRead asks the next wait to read the client as well, if the client
// has not finished and there is room to read into.
func (c *conn) armRead() {
	c.wantRead = c.rdErr == nil && (c.buf == nil || c.r > 0 || c.w < len(c.buf))
}

// readClient performs the read armRead asked for. With nothing buffered on
// a plain socket it only waits for readiness, holding no buffer, so an
// idle connection costs no buffer memory; the bytes are read next time.
func (c *conn) readClient() readResult {
	if c.r == c.w && c.rc != nil && !c.readable {
		c.releaseBuf()
		return readResult{peek: true, err: c.waitReadable()}
	}
	c.ensureBuf()
	if c.r > 0 {
		copy(c.buf, c.buf[c.r:c.w])
		c.w -= c.r
		c.r = 0
	}
	c.readable = false
	n, err := c.nc.Read(c.buf[c.w:])
	return readResult{n: n, err: err}
}

// gotRead applies a read result.
func (c *conn) gotRead(res readResult) {
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
		c.setReadDeadline(time.Now().Add(c.deadline))
	}
}

// setReadDeadline sets (and records, for restoring after a wake) the read
// deadline. Only serve calls it, never while blocked in a read.
func (c *conn) setReadDeadline(t time.Time) {
	c.rdDeadline = t
	c.nc.SetReadDeadline(t)
}

// setReadTimeout sets the inactivity timeout applied to reads and writes.
func (c *conn) setReadTimeout(d time.Duration) {
	c.deadline = d
	c.setReadDeadline(time.Now().Add(d))
}

// write sends b to the client, refreshing the inactivity timeout.
func (c *conn) write(b []byte) error {
	d := c.deadline
	if d == 0 {
		d = c.srv.cfg.StreamTimeout
	}
	now := time.Now()
	c.nc.SetWriteDeadline(now.Add(d))
	_, err := c.nc.Write(b)
	// Clear it again so an idle connection holds one timer at most.
	c.nc.SetWriteDeadline(time.Time{})
	if err != nil {
		return errors.Join(errClientGone, err)
	}
	if c.deadline > 0 {
		// Output counts as activity for the inactivity timeout too.
		c.setReadDeadline(now.Add(c.deadline))
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
	c.setReadDeadline(time.Now().Add(idle))
	for {
		if d := c.data(); len(d) > 0 {
			if !started {
				started = true
				c.setReadDeadline(time.Now().Add(c.srv.cfg.HeadTimeout))
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
		if _, _, _, err := c.waitEvent(ctx, nil); err != nil {
			return 0, err
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
	c.setReadDeadline(time.Now().Add(time.Second))
	for i := 0; i < 64 && c.rdErr == nil; i++ {
		c.consume(c.w - c.r)
		c.readable = true // read straight into a buffer
		c.gotRead(c.readClient())
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
//
// --messages-max: condure 1.9.1 tracks the WebSocket messages from the
// responder that it holds for a connection, not yet written to the client,
// in a tracker of messages_max entries, and fails the connection when one
// more starts. Here those are the messages waiting in this queue (the
// connection goroutine writes each message it takes before taking more),
// so a message packet that would start message messages-max+1 fails the
// session the same way.
func (c *conn) enqueue(s *session, p *zhttp.Packet) {
	c.qmu.Lock()
	if c.qsess != s {
		c.qmu.Unlock()
		if s.orphaned.Load() {
			c.srv.zs.cancelOrphan(s, p)
		}
		return
	}
	startsMsg := s.ws && p.Type == zhttp.Data && !c.qInMsg
	switch {
	case len(c.queue) >= queueLimit:
		c.qFull = true
	case startsMsg && c.qMsgs >= c.srv.cfg.MessagesMax:
		c.qFull = true
	default:
		c.queue = append(c.queue, p)
		if s.ws && p.Type == zhttp.Data {
			if startsMsg {
				c.qMsgs++
			}
			c.qInMsg = p.More
		}
	}
	c.wakeLocked()
	c.qmu.Unlock()
}

// wakeLocked wakes serve, wherever it blocks. Moving the read deadline
// happens under qmu so that serve, which restores the deadline under qmu
// once its read returns, can never see a stale wake-up deadline.
func (c *conn) wakeLocked() {
	if c.parked {
		c.parked = false
		// Owner: see resume.
		go c.resume()
		return
	}
	if c.ioWait && !c.woken {
		c.woken = true
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// unpark resumes a connection parked with its socket armed: it became
// readable (or hung up), or, from the sweep, its read deadline passed. The
// new goroutine reads at once, so it sees the bytes, the EOF or the
// timeout.
func (c *conn) unpark(sweep bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if !c.parked || !c.parkRead {
		return
	}
	if sweep && (c.rdDeadline.IsZero() || time.Now().Before(c.rdDeadline)) {
		return
	}
	c.parked = false
	c.readable = true
	// Owner: see resume.
	go c.resume()
}

// shutdown closes the socket and resumes the connection if parked, so
// that it finishes (Server.Run, after cancelling the connections' ctx).
func (c *conn) shutdown() {
	c.nc.Close()
	c.qmu.Lock()
	if c.parked {
		c.parked = false
		c.readable = true
		// Owner: see resume.
		go c.resume()
	}
	c.qmu.Unlock()
}

// park ends the goroutine's hold on an idle connection: it reports false
// when packets are already queued (take them) or the socket cannot be
// armed (block instead). On true the caller must return errParked up its
// call chain without touching c again.
func (c *conn) park(watchRead bool) (parked, queued bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.queue) > 0 || c.qFull || c.qExpired {
		return false, true
	}
	if watchRead {
		// Armed under qmu: an event waits in unpark until parked is set.
		if err := c.srv.poller.arm(c); err != nil {
			return false, false
		}
	}
	// A parked connection keeps no runtime timer: the poller's sweep
	// watches rdDeadline instead, and resume sets it again.
	c.nc.SetReadDeadline(time.Time{})
	c.parked, c.parkRead = true, watchRead
	return true, false
}

// waitOrPark is waitEvent for the held-stream loops: an idle connection
// parks (errParked) instead of blocking.
func (c *conn) waitOrPark(ctx context.Context, pk []*zhttp.Packet) ([]*zhttp.Packet, bool, bool, error) {
	c.parkOK = true
	pk, full, expired, err := c.waitEvent(ctx, pk)
	if err != errParked {
		c.parkOK = false
	}
	return pk, full, expired, err
}

// wake wakes serve (req mode: the response arrived).
func (c *conn) wake() {
	c.qmu.Lock()
	c.wakeLocked()
	c.qmu.Unlock()
}

// expire marks the session as silent for too long (from the wheel).
func (c *conn) expire(s *session) {
	c.qmu.Lock()
	if c.qsess == s {
		c.qExpired = true
	}
	c.wakeLocked()
	c.qmu.Unlock()
}

// takeQueue moves queued packets into dst.
func (c *conn) takeQueue(dst []*zhttp.Packet) ([]*zhttp.Packet, bool, bool) {
	c.qmu.Lock()
	dst = append(dst, c.queue...)
	clear(c.queue)
	c.queue = c.queue[:0]
	c.qMsgs = 0
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
	c.qMsgs, c.qInMsg = 0, false
	c.qmu.Unlock()
}

// newSession creates and registers a session with a fresh id of condure's
// "<worker>-<conn>-<counter>" hex shape.
func (c *conn) newSession(ws bool) *session {
	n := c.srv.nextReqID(c.worker)
	id := strconv.FormatUint(uint64(c.worker), 16) + "-" + strconv.FormatUint(c.slot, 16) + "-" + strconv.FormatUint(n, 16)
	s := &session{id: id, idb: []byte(id), conn: c, ws: ws}
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

// waitEvent blocks until packets are queued, or (after armRead) the client
// sent bytes or finished, or ctx ends (Run also closes every connection,
// which ends a read). It returns the packets taken from the queue
// (appended to pk). A wake-up may be spurious: callers loop.
func (c *conn) waitEvent(ctx context.Context, pk []*zhttp.Packet) ([]*zhttp.Packet, bool, bool, error) {
	read := c.wantRead
	c.wantRead = false
	if c.parkOK && c.srv.poller != nil {
		idle := read && c.r == c.w && c.rc != nil && c.fd >= 0 && !c.readable
		if idle || !read {
			if err := ctx.Err(); err != nil {
				return pk, false, false, err
			}
			c.releaseBuf()
			parked, queued := c.park(idle)
			if parked {
				return pk, false, false, errParked
			}
			if queued {
				pk, full, expired := c.takeQueue(pk)
				return pk, full, expired, nil
			}
		}
	}
	if !read {
		c.qmu.Lock()
		ready := len(c.queue) > 0 || c.qFull || c.qExpired
		c.qmu.Unlock()
		if !ready {
			select {
			case <-c.notify:
			case <-ctx.Done():
				return pk, false, false, ctx.Err()
			}
		}
		pk, full, expired := c.takeQueue(pk)
		return pk, full, expired, nil
	}
	c.qmu.Lock()
	if len(c.queue) > 0 || c.qFull || c.qExpired {
		c.qmu.Unlock()
		pk, full, expired := c.takeQueue(pk)
		return pk, full, expired, nil
	}
	c.ioWait = true
	c.qmu.Unlock()
	res := c.readClient()
	c.qmu.Lock()
	c.ioWait = false
	woken := c.woken
	if woken {
		c.woken = false
		c.nc.SetReadDeadline(c.rdDeadline)
	}
	c.qmu.Unlock()
	switch {
	case woken && isTimeout(res.err) && res.peek:
		// Interrupted readiness wait: nothing learned about the client.
	case woken && isTimeout(res.err):
		res.err = nil
		c.gotRead(res)
	default:
		c.gotRead(res)
	}
	pk, full, expired := c.takeQueue(pk)
	return pk, full, expired, nil
}

// clientEOF reports whether the client finished sending (EOF or error)
// with nothing left buffered.
func (c *conn) clientEOF() bool { return c.rdErr != nil && c.r == c.w }

// errIsEOF reports whether the read error was an orderly close.
func errIsEOF(err error) bool { return err == io.EOF }
