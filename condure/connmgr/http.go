package connmgr

import (
	"context"
	"errors"
	"fmt"

	"github.com/pushpin-go/pushpin/condure/http1"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// reqInfo is what a session needs from the request head after the head's
// bytes are consumed (the parsed Request aliases the read buffer).
type reqInfo struct {
	minor          int
	head           bool
	wantPersistent bool
	expect100      bool // HTTP/1.1 "Expect: 100-continue"
	bodyHeader     bool // the request declared a body (Content-Length, even 0, or chunked)
	chunked        bool
	bodyLen        int64
}

// bodyFraming reads the request's body framing (RFC 9112 §6.3). A
// Transfer-Encoding other than a final "chunked", or one combined with
// Content-Length, is rejected: both are request-smuggling vectors.
func bodyFraming(req *http1.Request) (chunked bool, length int64, err error) {
	te, hasTE := req.Header("Transfer-Encoding")
	cls := 0
	for _, h := range req.Headers {
		if http1.EqualFold(h.Name, "Content-Length") {
			n, ok := http1.ParseContentLength(h.Value)
			if !ok || (cls > 0 && n != length) {
				return false, 0, fmt.Errorf("%w: bad Content-Length", http1.ErrBadRequest)
			}
			length = n
			cls++
		}
	}
	if hasTE {
		if cls > 0 || !http1.EqualFold(lastToken(te), "chunked") || req.Minor == 0 {
			return false, 0, fmt.Errorf("%w: unsupported Transfer-Encoding", http1.ErrBadRequest)
		}
		return true, 0, nil
	}
	return false, length, nil
}

func lastToken(v []byte) []byte {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ',' {
			v = v[i+1:]
			break
		}
	}
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

func newReqInfo(req *http1.Request) reqInfo {
	info := reqInfo{minor: req.Minor, head: http1.EqualFold(req.Method, "HEAD")}
	if req.Minor >= 1 {
		info.wantPersistent = !req.HasToken("Connection", "close")
		info.expect100 = req.HasToken("Expect", "100-continue")
	} else {
		info.wantPersistent = req.HasToken("Connection", "keep-alive")
	}
	return info
}

// isWebSocketUpgrade reports whether the request asks for a WebSocket.
func isWebSocketUpgrade(req *http1.Request) bool {
	return req.HasToken("Upgrade", "websocket")
}

// serveStream serves requests on a stream-mode connection until it closes.
func (c *conn) serveStream(ctx context.Context) error {
	var req http1.Request
	idle := c.srv.cfg.StreamTimeout
	for {
		n, err := c.readHead(ctx, &req, idle)
		if err != nil {
			return err
		}
		if isWebSocketUpgrade(&req) {
			return c.serveWebSocket(ctx, &req, n)
		}
		persistent, err := c.serveHTTP(ctx, &req, n)
		if err != nil || !persistent {
			return err
		}
	}
}

// httpExchange is the state of one request/response in stream mode.
type httpExchange struct {
	c    *conn
	s    *session
	info reqInfo

	inSeq      int
	outCredits int // request body bytes the responder lets us send
	bodyDone   bool
	bodyLeft   int64
	dec        http1.ChunkedDecoder
	sent100    bool

	respStarted bool
	respDone    bool
	plan        http1.ResponsePlan
	written     int64 // response body bytes written
	creditOwed  int   // bytes written to the client not yet granted back
	out         []byte
}

// serveHTTP runs one HTTP request as a ZHTTP session (flows §2.9.1–2.9.3)
// and reports whether the connection may carry another request.
func (c *conn) serveHTTP(ctx context.Context, req *http1.Request, headLen int) (bool, error) {
	chunked, length, err := bodyFraming(req)
	if err != nil {
		return false, c.rejectHead(err)
	}
	x := &httpExchange{c: c, info: newReqInfo(req)}
	x.info.chunked, x.info.bodyLen = chunked, length
	_, hasCL := req.Header("Content-Length")
	x.info.bodyHeader = chunked || hasCL
	x.bodyLeft = length
	hasBody := chunked || length > 0
	x.bodyDone = !hasBody

	x.s = c.newSession(false)
	if err := c.sendRequest(x.s, req, headLen, hasBody); err != nil {
		c.endSession(x.s)
		return false, err
	}
	c.setReadTimeout(c.srv.cfg.StreamTimeout)
	return c.runExchange(ctx, x)
}

// runExchange runs x to its end and ends its session, or parks the
// connection (errParked) with a continuation that finishes the exchange
// and goes on serving the connection's next requests.
func (c *conn) runExchange(ctx context.Context, x *httpExchange) (bool, error) {
	// Set before anything can park: a parked connection is not touched.
	c.cont = func(ctx context.Context) error {
		persistent, err := c.runExchange(ctx, x)
		if err != nil || !persistent {
			return err
		}
		return c.serveStream(ctx)
	}
	persistent, err := x.run(ctx)
	if err == errParked {
		return false, err
	}
	c.cont = nil
	c.endSession(x.s)
	return persistent, err
}

// sendRequest sends a session's first packet. It is kept out of line (as
// are the loops' rare paths) so that the frames a held connection parks
// in stay small: the goroutine stack then shrinks to a few KiB while idle.
//
//go:noinline
func (c *conn) sendRequest(s *session, req *http1.Request, headLen int, hasBody bool) error {
	p := &zhttp.Packet{}
	c.requestPacket(p, req, false)
	p.SetCredits(c.bufSize())
	p.Stream = true
	p.More = hasBody
	c.consume(headLen)
	return s.send(c.srv.zs, p)
}

// run relays the exchange until the response is complete.
func (x *httpExchange) run(ctx context.Context) (bool, error) {
	c := x.c
	var pk []*zhttp.Packet
	for {
		if err := x.forwardBody(); err != nil {
			return false, err
		}
		if err := x.grantCredits(); err != nil {
			return false, err
		}
		if x.respDone {
			if !x.bodyDone {
				// The responder answered without reading the whole body;
				// the rest of it cannot be told from a next request.
				return false, nil
			}
			return x.plan.Persistent, nil
		}
		if c.rdErr != nil && (c.r == c.w || x.bodyDone) {
			x.cancel()
			return false, errClientGone
		}
		c.armRead()
		var full, expired bool
		var err error
		pk, full, expired, err = c.waitOrPark(ctx, pk[:0])
		if err != nil {
			return false, err
		}
		for i, p := range pk {
			pk[i] = nil
			if err := x.handle(p); err != nil {
				return false, err
			}
			if x.respDone {
				break
			}
			// Grant per packet, as condure does, so the responder's window
			// reopens as soon as each piece is written.
			if err := x.grantCredits(); err != nil {
				return false, err
			}
		}
		if full || expired {
			return false, x.fail(full)
		}
	}
}

// fail ends the exchange on a queue overflow (cancelling the session) or
// an expiry.
//
//go:noinline
func (x *httpExchange) fail(overflow bool) error {
	if overflow {
		x.c.srv.log.Warn("zhttp: inbound queue overflow, dropping session", "id", x.s.id)
		x.cancel()
		return errors.New("inbound queue overflow")
	}
	x.c.srv.log.Debug("zhttp: session expired", "id", x.s.id)
	return errors.New("session expired")
}

// cancel tells the responder the client is gone (condure sends cancel, not
// error, reference §2.3); see streamClient.cancel for a client that leaves
// before the responder answered.
func (x *httpExchange) cancel() { x.c.srv.zs.cancel(x.s) }

// forwardBody sends buffered request body bytes within the credits the
// responder granted: chunks of at most outCredits, "more" until the end.
func (x *httpExchange) forwardBody() error {
	c := x.c
	for !x.bodyDone && x.outCredits > 0 && !x.s.isPaused() {
		d := c.data()
		if x.info.chunked {
			data, used, err := x.dec.Next(d, x.outCredits)
			if err != nil {
				x.cancel()
				if !x.respStarted {
					c.sendSimple(x.info.minor, 400, "Bad chunked request body\n")
				}
				return fmt.Errorf("request body: %w", err)
			}
			if len(data) > 0 {
				// data aliases the buffer: the packet is encoded before
				// consume lets the buffer move.
				if err := x.sendBody(data, true); err != nil {
					return err
				}
			}
			c.consume(used)
			if x.dec.Done() {
				// condure ends a chunked body with a data packet that has
				// neither body nor more (verified).
				x.bodyDone = true
				return x.s.send(c.srv.zs, &zhttp.Packet{})
			}
			if used == 0 && len(data) == 0 {
				return nil
			}
			continue
		}
		n := min(int64(len(d)), x.bodyLeft, int64(x.outCredits))
		if n == 0 {
			return nil
		}
		x.bodyLeft -= n
		more := x.bodyLeft > 0
		if err := x.sendBody(d[:n], more); err != nil {
			return err
		}
		c.consume(int(n))
		if !more {
			x.bodyDone = true
		}
	}
	return nil
}

func (x *httpExchange) sendBody(data []byte, more bool) error {
	x.outCredits -= len(data)
	return x.s.send(x.c.srv.zs, &zhttp.Packet{Body: data, More: more})
}

// grantCredits returns the response bytes written to the client as
// credits, as condure does while a response is still streaming.
func (x *httpExchange) grantCredits() error {
	if x.creditOwed == 0 || x.respDone || x.s.isPaused() {
		return nil
	}
	p := &zhttp.Packet{Type: zhttp.Credit}
	p.SetCredits(x.creditOwed)
	x.creditOwed = 0
	return x.s.send(x.c.srv.zs, p)
}

// checkSeq enforces the responder's sequence. condure 1.9.1 logs "bad
// seq (expected X, got Y), skipping" and then fails the connection (the
// interop suite verified the binary: nothing more is delivered or sent for
// the session), so a mismatch is an error here too.
func checkSeq(c *conn, inSeq *int, p *zhttp.Packet) error {
	if p.Has&zhttp.HasSeq == 0 {
		return nil
	}
	if p.Seq != *inSeq {
		c.srv.log.Debug(fmt.Sprintf("zhttp: bad seq (expected %d, got %d), skipping", *inSeq, p.Seq))
		return errBadSeq
	}
	*inSeq++
	return nil
}

var errBadSeq = errors.New("zhttp: bad seq")

// handle applies one packet from the responder.
func (x *httpExchange) handle(p *zhttp.Packet) error {
	c := x.c
	if err := checkSeq(c, &x.inSeq, p); err != nil {
		return err
	}
	x.s.noteInbound(p)
	if p.Has&zhttp.HasCredits != 0 && p.Credits > 0 {
		x.outCredits += p.Credits
		if x.want100() && !x.respStarted && !x.bodyDone {
			// condure 1.9.1 answers Expect: 100-continue when the
			// responder first grants credits for the body (verified).
			x.sent100 = true
			if err := c.write([]byte(continue100)); err != nil {
				x.cancel()
				return err
			}
		}
	}
	switch p.Type {
	case zhttp.Data:
		if !x.respStarted {
			if p.Has&zhttp.HasCode == 0 {
				return nil // a body before the response head: ignore
			}
			return x.startResponse(p)
		}
		return x.writeBody(p.Body, p.More)
	case zhttp.Error:
		c.srv.log.Debug("zhttp: responder error", "id", x.s.id, "condition", p.Condition)
		return fmt.Errorf("responder error: %s", p.Condition)
	case zhttp.Cancel:
		return errors.New("responder cancelled")
	case zhttp.HandoffStart:
		if err := x.s.send(c.srv.zs, &zhttp.Packet{Type: zhttp.HandoffProceed}); err != nil {
			return err
		}
		x.s.mu.Lock()
		x.s.paused = true
		x.s.mu.Unlock()
	}
	return nil
}

func toResponseHeaders(hs []zhttp.Header) []http1.ResponseHeader {
	out := make([]http1.ResponseHeader, len(hs))
	for i, h := range hs {
		out[i] = http1.ResponseHeader{Name: h.Name, Value: h.Value}
	}
	return out
}

const continue100 = "HTTP/1.1 100 Continue\r\n\r\n"

// want100 reports whether an interim "100 Continue" is still owed: the
// client expects one (HTTP/1.1) for a request that declares a body.
func (x *httpExchange) want100() bool {
	return x.info.expect100 && x.info.bodyHeader && !x.sent100
}

func (x *httpExchange) startResponse(p *zhttp.Packet) error {
	x.respStarted = true
	hs := toResponseHeaders(p.Headers)
	// A response that starts before the request body was read ends the
	// connection: the rest of the body cannot be told from a next
	// request. condure 1.9.1 says so in the head ("Connection: close",
	// verified), so decide before rendering.
	x.plan = http1.Plan(x.info.minor, x.info.head, p.Code, hs, len(p.Body), p.More, x.info.wantPersistent && x.bodyDone)
	out := x.c.srv.outs.get()[:0]
	if x.want100() {
		// condure 1.9.1 still sends the owed "100 Continue" ahead of a
		// final response that comes before any credits, even for
		// "Content-Length: 0" (verified).
		x.sent100 = true
		out = append(out, continue100...)
	}
	x.out = http1.AppendResponseHead(out, x.info.minor, p.Code, p.Reason, hs, nil, nil, x.plan)
	return x.writeBody(p.Body, p.More)
}

// writeBody writes a body piece with the planned framing (the head, if
// pending, goes in the same write) and ends the response when more is
// unset.
func (x *httpExchange) writeBody(body []byte, more bool) error {
	if x.out == nil {
		x.out = x.c.srv.outs.get()[:0]
	}
	n := 0
	switch {
	case x.info.head || x.plan.Framing == http1.FramingNone:
	case x.plan.Framing == http1.FramingLength:
		room := x.plan.Length - x.written
		b := body
		if int64(len(b)) > room {
			b = b[:room] // a responder sending past its Content-Length
		}
		x.out = append(x.out, b...)
		n = len(b)
	case x.plan.Framing == http1.FramingChunked:
		x.out = http1.AppendChunk(x.out, body)
		n = len(body)
	default:
		x.out = append(x.out, body...)
		n = len(body)
	}
	x.written += int64(n)
	if !more {
		x.respDone = true
		switch {
		case x.info.head || x.plan.Framing == http1.FramingNone:
		case x.plan.Framing == http1.FramingChunked:
			x.out = append(x.out, http1.LastChunk...)
		case x.plan.Framing == http1.FramingLength && x.written < x.plan.Length:
			x.plan.Persistent = false // short body: only closing can end it
		case x.plan.Framing == http1.FramingClose:
			x.plan.Persistent = false
		}
	} else {
		// Credits count every byte the responder sent, so the grant
		// restores its full window even when framing dropped some.
		x.creditOwed += len(body)
	}
	out := x.out
	x.out = nil
	defer x.c.srv.outs.put(out)
	if len(out) == 0 {
		return nil
	}
	if err := x.c.write(out); err != nil {
		x.cancel()
		return err
	}
	return nil
}
