package connmgr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/condure/http1"
	"github.com/pushpin-go/pushpin/condure/wsproto"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

const (
	// maxCompressedMessage bounds an inbound permessage-deflate message,
	// compressed and inflated, which must be buffered whole to inflate.
	maxCompressedMessage = 1 << 20
	// closeWait bounds how long we wait for the peer's close reply after
	// sending a close frame.
	closeWait = 10 * time.Second
)

// skipUpgradeHeader drops responder headers condure computes itself for a
// WebSocket accept (and strips from a rejection).
func skipUpgradeHeader(name string) bool {
	return http1.EqualFoldString(name, "Upgrade") || http1.EqualFoldString(name, "Sec-WebSocket-Accept") ||
		http1.EqualFoldString(name, "Sec-WebSocket-Extensions")
}

// wsSession is a WebSocket session's state (flow §2.9.4).
type wsSession struct {
	c       *conn
	s       *session
	deflate bool

	inSeq      int
	outCredits int // message bytes the responder lets us send
	creditOwed int // bytes written to the client not yet granted back

	// client → responder
	inFrame   bool
	cur       wsproto.FrameHeader
	curLeft   int64
	maskPos   int
	msgOp     wsproto.Opcode // opcode of the message in progress, 0 if none
	msgComp   bool
	compBuf   []byte
	pending   []byte // inflated message bytes waiting for credits
	pendingOp wsproto.Opcode
	utf8      wsproto.UTF8Validator

	// responder → client
	outOpen bool // a fragmented message is in progress
	comp    wsproto.Compressor

	closeRecv bool // client sent close (forwarded)
	closeSent bool // close frame written to the client
	out       []byte
}

// serveWebSocket runs a WebSocket upgrade request as a ZHTTP session.
func (c *conn) serveWebSocket(ctx context.Context, req *http1.Request, headLen int) error {
	key, _ := req.Header("Sec-WebSocket-Key")
	ver, _ := req.Header("Sec-WebSocket-Version")
	if !http1.EqualFold(req.Method, "GET") || req.Minor < 1 || !req.HasToken("Connection", "upgrade") ||
		!wsproto.ValidKey(key) || string(ver) != "13" {
		return c.rejectHead(fmt.Errorf("%w: invalid WebSocket handshake", http1.ErrBadRequest))
	}
	accept := wsproto.AcceptKey(key)
	deflate := false
	if c.srv.cfg.Compression {
		var offers []string
		for _, h := range req.Headers {
			if http1.EqualFold(h.Name, "Sec-WebSocket-Extensions") {
				offers = append(offers, string(h.Value))
			}
		}
		deflate = wsproto.NegotiateDeflate(strings.Join(offers, ","))
	}
	info := newReqInfo(req)

	s := c.newSession(true)
	w := &wsSession{c: c, s: s, deflate: deflate}
	running := false // runWS owns the cleanup from then on
	defer func() {
		if !running {
			w.comp.Close()
			c.endSession(s)
		}
	}()

	p := &zhttp.Packet{}
	c.requestPacket(p, req, true)
	p.SetCredits(c.bufSize())
	c.consume(headLen)
	if err := s.send(c.srv.zs, p); err != nil {
		return err
	}
	c.setReadTimeout(c.srv.cfg.StreamTimeout)

	// Until the responder answers, client bytes stay buffered; only a
	// vanished client is acted on.
	var pk []*zhttp.Packet
	accepted := false
	for !accepted {
		if c.rdErr != nil {
			w.cancel()
			return errClientGone
		}
		c.armRead()
		var full, expired bool
		var err error
		pk, full, expired, err = c.waitEvent(ctx, pk[:0])
		if err != nil {
			return err
		}
		for i, p := range pk {
			pk[i] = nil
			if accepted {
				// Packets after the accept in the same batch.
				if err := w.handle(p); err != nil {
					return err
				}
				continue
			}
			if err := checkSeq(c, &w.inSeq, p); err != nil {
				return err
			}
			s.noteInbound(p)
			if p.Has&zhttp.HasCredits != 0 {
				w.outCredits += p.Credits
			}
			switch p.Type {
			case zhttp.Data:
				if p.Has&zhttp.HasCode == 0 {
					continue
				}
				if p.Code != 101 {
					return w.respondHTTP(ctx, info, p)
				}
				if err := w.accept(p, accept); err != nil {
					return err
				}
				accepted = true
			case zhttp.Error:
				if p.Condition == zhttp.CondRejected && p.Has&zhttp.HasCode != 0 {
					q := *p
					q.Type, q.More = zhttp.Data, false
					return w.respondHTTP(ctx, info, &q)
				}
				return fmt.Errorf("responder error: %s", p.Condition)
			case zhttp.Cancel:
				return errors.New("responder cancelled")
			case zhttp.HandoffStart:
				if err := w.handoff(); err != nil {
					return err
				}
			}
		}
		if full || expired {
			w.cancel()
			return errors.New("session failed before accept")
		}
	}
	running = true
	return c.runWS(ctx, w)
}

// runWS relays the accepted WebSocket to its end, then releases the
// session, or parks the connection (errParked) with itself as the
// continuation.
func (c *conn) runWS(ctx context.Context, w *wsSession) error {
	// Set before anything can park: a parked connection is not touched.
	c.cont = func(ctx context.Context) error { return c.runWS(ctx, w) }
	err := w.run(ctx)
	if err == errParked {
		return err
	}
	c.cont = nil
	w.comp.Close()
	c.endSession(w.s)
	return err
}

func (w *wsSession) cancel() { w.c.srv.zs.cancel(w.s) }

func (w *wsSession) handoff() error {
	if err := w.s.send(w.c.srv.zs, &zhttp.Packet{Type: zhttp.HandoffProceed}); err != nil {
		return err
	}
	w.s.mu.Lock()
	w.s.paused = true
	w.s.mu.Unlock()
	return nil
}

// respondHTTP renders a rejection (or any non-101 answer) as a plain HTTP
// response and ends the connection.
func (w *wsSession) respondHTTP(ctx context.Context, info reqInfo, p *zhttp.Packet) error {
	info.wantPersistent = false
	x := &httpExchange{c: w.c, s: w.s, info: info, inSeq: w.inSeq, bodyDone: true}
	hs := toResponseHeaders(p.Headers)
	x.respStarted = true
	x.plan = http1.Plan(info.minor, info.head, p.Code, hs, len(p.Body), p.More, false)
	x.out = http1.AppendResponseHead(w.c.srv.outs.get()[:0], info.minor, p.Code, p.Reason, hs, skipUpgradeHeader, nil, x.plan)
	if err := x.writeBody(p.Body, p.More); err != nil {
		return err
	}
	var pk []*zhttp.Packet
	for !x.respDone {
		if err := x.grantCredits(); err != nil {
			return err
		}
		if w.c.rdErr != nil {
			x.cancel()
			return errClientGone
		}
		var err error
		w.c.armRead() // notice a client that goes away
		pk, _, _, err = w.c.waitEvent(ctx, pk[:0])
		if err != nil {
			return err
		}
		for _, q := range pk {
			if err := x.handle(q); err != nil || x.respDone {
				return err
			}
		}
	}
	return nil
}

// accept writes the 101 response: the responder's headers minus the ones
// condure computes, then Upgrade, Connection, Sec-WebSocket-Accept and the
// negotiated extension.
func (w *wsSession) accept(p *zhttp.Packet, accept string) error {
	extra := []http1.ResponseHeader{
		{Name: "Upgrade", Value: "websocket"},
		{Name: "Connection", Value: "Upgrade"},
		{Name: "Sec-WebSocket-Accept", Value: accept},
	}
	if w.deflate {
		extra = append(extra, http1.ResponseHeader{Name: "Sec-WebSocket-Extensions", Value: wsproto.DeflateResponse})
	}
	reason := p.Reason
	if reason == "" {
		reason = "Switching Protocols"
	}
	out := http1.AppendResponseHead(w.c.srv.outs.get()[:0], 1, 101, reason, toResponseHeaders(p.Headers),
		skipUpgradeHeader, extra, http1.ResponsePlan{Framing: http1.FramingNone})
	err := w.c.write(out)
	w.c.srv.outs.put(out)
	return err
}

// run relays frames and packets until the close handshake completes or
// either side goes away.
func (w *wsSession) run(ctx context.Context) error {
	c := w.c
	var pk []*zhttp.Packet
	for {
		if err := w.fromClient(); err != nil {
			return err
		}
		if err := w.grantCredits(); err != nil {
			return err
		}
		if w.closeRecv && w.closeSent {
			return nil
		}
		if c.rdErr != nil && !w.closeRecv {
			if c.w-c.r < wsMinBuffered(w) || c.r == c.w {
				w.cancel()
				return errClientGone
			}
		}
		if !w.closeRecv {
			c.armRead()
		}
		var full, expired bool
		var err error
		pk, full, expired, err = c.waitOrPark(ctx, pk[:0])
		if err != nil {
			return err
		}
		if w.closeRecv && c.rdErr != nil && isTimeout(c.rdErr) {
			return nil
		}
		for i, p := range pk {
			pk[i] = nil
			if err := w.handle(p); err != nil {
				return err
			}
			if err := w.grantCredits(); err != nil {
				return err
			}
		}
		if full {
			c.srv.log.Warn("zhttp: websocket message queue overflow, closing", "id", w.s.id)
			w.cancel()
			w.writeClose(wsproto.ClosePolicyViolation, nil)
			return errors.New("message queue overflow")
		}
		if expired {
			w.writeClose(wsproto.CloseGoingAway, nil)
			return errors.New("session expired")
		}
	}
}

// wsMinBuffered is how many buffered bytes could still make progress when
// the client has stopped sending: anything at all.
func wsMinBuffered(*wsSession) int { return 1 }

// fail answers a client protocol violation with the right close code and
// cancels the session.
func (w *wsSession) fail(err error) error {
	code := wsproto.CloseCode(err)
	w.c.srv.log.Debug("websocket protocol error", "id", w.s.id, "code", code, "err", err)
	w.cancel()
	w.writeClose(code, nil)
	return err
}

// fromClient parses buffered client frames and forwards them within the
// available credits.
func (w *wsSession) fromClient() error {
	c := w.c
	z := c.srv.zs
	for !w.closeRecv && !w.s.isPaused() {
		if len(w.pending) > 0 {
			if !w.flushPending() {
				return nil
			}
			continue
		}
		d := c.data()
		if !w.inFrame {
			h, n, err := wsproto.ParseFrameHeader(d, true, w.deflate, 0)
			if errors.Is(err, wsproto.ErrIncomplete) {
				return nil
			}
			if err != nil {
				return w.fail(err)
			}
			if !h.Opcode.IsControl() {
				switch {
				case h.Opcode == wsproto.OpContinuation && w.msgOp == 0:
					return w.fail(&wsproto.ProtocolError{Code: wsproto.CloseProtocolError, Msg: "continuation without a message"})
				case h.Opcode != wsproto.OpContinuation && w.msgOp != 0:
					return w.fail(&wsproto.ProtocolError{Code: wsproto.CloseProtocolError, Msg: "new message inside a fragmented one"})
				case h.Opcode == wsproto.OpContinuation && h.RSV1:
					return w.fail(&wsproto.ProtocolError{Code: wsproto.CloseProtocolError, Msg: "RSV1 on a continuation frame"})
				case h.Opcode != wsproto.OpContinuation:
					w.msgOp, w.msgComp = h.Opcode, h.RSV1
					w.utf8.Reset()
				}
			}
			c.consume(n)
			w.inFrame, w.cur, w.curLeft, w.maskPos = true, h, h.Length, 0
			d = c.data()
		}
		if w.cur.Opcode.IsControl() {
			if int64(len(d)) < w.curLeft {
				return nil
			}
			payload := d[:w.curLeft]
			wsproto.MaskBytes(w.cur.Mask, 0, payload)
			var p zhttp.Packet
			switch w.cur.Opcode {
			case wsproto.OpPing:
				p = zhttp.Packet{Type: zhttp.Ping, Body: payload}
			case wsproto.OpPong:
				p = zhttp.Packet{Type: zhttp.Pong, Body: payload}
			case wsproto.OpClose:
				code, reason, err := wsproto.ParseClosePayload(payload)
				if err != nil {
					return w.fail(err)
				}
				p = zhttp.Packet{Type: zhttp.Close, Body: reason}
				if code != wsproto.CloseNoStatus {
					p.SetCode(code)
				}
				w.closeRecv = true
			}
			// Control frames cost no credits; they pass straight through
			// (condure does not answer pings itself, reference §10 item 12).
			if err := w.s.send(z, &p); err != nil {
				return err
			}
			c.consume(int(w.curLeft))
			w.inFrame = false
			continue
		}
		if w.msgComp {
			n := min(int64(len(d)), w.curLeft)
			if len(w.compBuf)+int(n) > maxCompressedMessage {
				return w.fail(wsproto.ErrTooBig)
			}
			w.maskPos = wsproto.MaskBytes(w.cur.Mask, w.maskPos, d[:n])
			w.compBuf = append(w.compBuf, d[:n]...)
			c.consume(int(n))
			w.curLeft -= n
			if w.curLeft > 0 {
				return nil
			}
			w.inFrame = false
			if !w.cur.Fin {
				continue
			}
			msg, err := wsproto.Decompress(nil, w.compBuf, maxCompressedMessage)
			w.compBuf = nil
			if err != nil {
				return w.fail(err)
			}
			if w.msgOp == wsproto.OpText && (!w.utf8.Write(msg) || !w.utf8.Final()) {
				return w.fail(&wsproto.ProtocolError{Code: wsproto.CloseInvalidPayload, Msg: "text message is not UTF-8"})
			}
			w.pendingOp = w.msgOp
			w.msgOp = 0
			if len(msg) == 0 {
				if err := w.sendData(w.pendingOp, []byte{}, false); err != nil {
					return err
				}
				continue
			}
			w.pending = msg
			continue
		}
		// Uncompressed data streams through in pieces bounded by credits.
		n := min(int64(len(d)), w.curLeft, int64(w.outCredits))
		if n == 0 && w.curLeft > 0 {
			return nil
		}
		piece := d[:n]
		w.maskPos = wsproto.MaskBytes(w.cur.Mask, w.maskPos, piece)
		w.curLeft -= n
		end := w.curLeft == 0
		final := end && w.cur.Fin
		if w.msgOp == wsproto.OpText {
			if !w.utf8.Write(piece) || (final && !w.utf8.Final()) {
				return w.fail(&wsproto.ProtocolError{Code: wsproto.CloseInvalidPayload, Msg: "text message is not UTF-8"})
			}
		}
		if n > 0 || final {
			if err := w.sendData(w.msgOp, piece, !final); err != nil {
				return err
			}
		}
		c.consume(int(n))
		if end {
			w.inFrame = false
			if w.cur.Fin {
				w.msgOp = 0
			}
		}
	}
	return nil
}

// flushPending forwards an inflated message within credits; false means
// it is waiting for credits.
func (w *wsSession) flushPending() bool {
	n := min(len(w.pending), w.outCredits)
	if n == 0 {
		return false
	}
	more := n < len(w.pending)
	if err := w.sendData(w.pendingOp, w.pending[:n], more); err != nil {
		return false
	}
	w.pending = w.pending[n:]
	if len(w.pending) == 0 {
		w.pending = nil
	}
	return true
}

func (w *wsSession) sendData(op wsproto.Opcode, body []byte, more bool) error {
	ct := zhttp.ContentText
	if op == wsproto.OpBinary {
		ct = zhttp.ContentBinary
	}
	w.outCredits -= len(body)
	return w.s.send(w.c.srv.zs, &zhttp.Packet{ContentType: ct, Body: body, More: more})
}

// grantCredits returns bytes written to the client as credits.
func (w *wsSession) grantCredits() error {
	if w.creditOwed == 0 || w.s.isPaused() || (w.closeSent && w.closeRecv) {
		return nil
	}
	p := &zhttp.Packet{Type: zhttp.Credit}
	p.SetCredits(w.creditOwed)
	w.creditOwed = 0
	return w.s.send(w.c.srv.zs, p)
}

// handle applies one packet from the responder after the accept.
func (w *wsSession) handle(p *zhttp.Packet) error {
	if err := checkSeq(w.c, &w.inSeq, p); err != nil {
		return err
	}
	w.s.noteInbound(p)
	if p.Has&zhttp.HasCredits != 0 {
		w.outCredits += p.Credits
	}
	switch p.Type {
	case zhttp.Data:
		if w.closeSent {
			return nil
		}
		return w.writeMessage(p)
	case zhttp.Ping, zhttp.Pong:
		if w.closeSent {
			return nil
		}
		op := wsproto.OpPing
		if p.Type == zhttp.Pong {
			op = wsproto.OpPong
		}
		body := p.Body
		if len(body) > wsproto.MaxControlPayload {
			body = body[:wsproto.MaxControlPayload]
		}
		w.out = wsproto.AppendFrameHeader(w.c.srv.outs.get()[:0], true, false, op, len(body))
		w.out = append(w.out, body...)
		// condure grants ping/pong payload bytes back too (verified).
		w.creditOwed += len(body)
		return w.flush()
	case zhttp.Close:
		code := 0
		if p.Has&zhttp.HasCode != 0 {
			code = p.Code
		}
		if !w.closeSent {
			if err := w.writeClose(code, p.Body); err != nil {
				return err
			}
		}
		return nil
	case zhttp.Error:
		w.c.srv.log.Debug("zhttp: responder error", "id", w.s.id, "condition", p.Condition)
		w.writeClose(wsproto.CloseInternalError, nil)
		return fmt.Errorf("responder error: %s", p.Condition)
	case zhttp.Cancel:
		return errors.New("responder cancelled")
	case zhttp.HandoffStart:
		return w.handoff()
	}
	return nil
}

// writeMessage writes a data packet as a frame: text or binary by
// content-type, continuation while the responder's message has "more".
func (w *wsSession) writeMessage(p *zhttp.Packet) error {
	op := wsproto.OpContinuation
	if !w.outOpen {
		op = wsproto.OpText
		if p.ContentType == zhttp.ContentBinary {
			op = wsproto.OpBinary
		}
	}
	fin := !p.More
	payload := p.Body
	rsv1 := false
	if w.deflate {
		var err error
		payload, err = w.comp.Write(p.Body, fin)
		if err != nil {
			return err
		}
		rsv1 = !w.outOpen
	}
	w.outOpen = !fin
	w.out = wsproto.AppendFrameHeader(w.c.srv.outs.get()[:0], fin, rsv1, op, len(payload))
	w.out = append(w.out, payload...)
	w.creditOwed += len(p.Body)
	return w.flush()
}

func (w *wsSession) writeClose(code int, reason []byte) error {
	w.closeSent = true
	if !wsproto.ValidCloseCode(code) {
		code = 0
	}
	payload := wsproto.AppendClosePayload(nil, code, reason)
	w.out = wsproto.AppendFrameHeader(w.c.srv.outs.get()[:0], true, false, wsproto.OpClose, len(payload))
	w.out = append(w.out, payload...)
	if !w.closeRecv {
		w.c.setReadTimeout(closeWait)
	}
	return w.flush()
}

func (w *wsSession) flush() error {
	out := w.out
	w.out = nil
	err := w.c.write(out)
	w.c.srv.outs.put(out)
	if err != nil {
		w.cancel()
	}
	return err
}
