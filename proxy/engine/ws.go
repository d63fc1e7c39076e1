package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/pkg/routes"
	"github.com/pushpin-go/pushpin/protocol/grip"
	"github.com/pushpin-go/pushpin/protocol/wscontrol"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/proxy/rewrite"
)

// frame is one WebSocket frame (or message fragment) in ZHTTP terms.
type frame struct {
	typ  zhttp.Type // Data, Ping, Pong or Close
	ct   string     // text/binary for data
	body []byte
	code int // close code; 0 = none
	more bool
}

func frameOf(p *zhttp.Packet) frame {
	f := frame{typ: p.Type, ct: p.ContentType, body: p.Body, more: p.More}
	if p.Type == zhttp.Close && p.Has&zhttp.HasCode != 0 {
		f.code = p.Code
	}
	if f.typ == zhttp.Data && f.ct == "" {
		f.ct = zhttp.ContentText // zurl omits text
	}
	return f
}

func (f frame) packet() *zhttp.Packet {
	p := &zhttp.Packet{Type: f.typ, More: f.more}
	if f.typ == zhttp.Data {
		p.ContentType = f.ct
		p.Body = nonNil(f.body)
	} else if len(f.body) > 0 {
		p.Body = f.body
	}
	if f.typ == zhttp.Close && f.code > 0 {
		p.SetCode(f.code)
	}
	return p
}

// cost is what a frame takes from the receiver's credits: body bytes of
// data frames only (ping, pong and close are free).
func (f frame) cost() int {
	if f.typ == zhttp.Data {
		return len(f.body)
	}
	return 0
}

// wsSession proxies one client WebSocket (reference §5.7).
type wsSession struct {
	e   *Engine
	ctx context.Context
	p   *pump
	srv *serverSession

	req     *zhttp.Packet
	u       *url.URL
	scheme  string
	route   *routes.Route
	target  *routes.Target
	trusted bool
	debug   bool
	cid     string

	grip   bool
	prefix []byte
	ctl    *wsCtlSession

	toClient []frame
	toOrigin []frame
	// dropping: the rest of an origin message whose first fragment was not
	// for the client (unprefixed or control).
	dropping   bool
	detached   bool
	clientSent bool // client sent close
	originSent bool // origin sent close
	reqID      int
	acks       map[string]time.Time

	// woh: the origin is spoken to with WebSocket-over-HTTP requests.
	woh bool

	kaTimeout time.Duration
	kaMode    string
	kaDue     time.Time
	alarm     *time.Timer

	logTarget string
	logHTTP   bool
	code      int
}

// serveWS runs a client WebSocket session.
func (e *Engine) serveWS(ctx context.Context, s *serverSession, req *zhttp.Packet) {
	w := &wsSession{e: e, ctx: ctx, srv: s, p: newPump(ctx, e, s), req: req, cid: newUUID(), acks: map[string]time.Time{}}
	defer w.p.stop()
	e.stats.requestReceived()
	err := w.run()
	if w.ctl != nil {
		e.wsctl.unregister(w.ctl)
	}
	if w.alarm != nil {
		w.alarm.Stop()
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errSessionDone) {
		e.log.Debug(fmt.Sprintf("wsproxysession %s: %v", s.id, err))
		s.cancel(ctx)
		if w.p.cli != nil {
			w.p.cli.cancel(ctx)
		}
	}
	if w.code != 0 {
		e.stats.connEnd(w.cid)
	}
}

func (w *wsSession) logLine(code int) {
	var b strings.Builder
	b.WriteString(w.req.Method)
	if w.req.Method == "" {
		b.WriteString("GET")
	}
	b.WriteString(" " + w.req.URI)
	if w.logTarget != "" {
		b.WriteString(" -> " + w.logTarget)
		if w.logHTTP {
			b.WriteString("[http]")
		}
	}
	if w.e.cfg.LogFrom {
		b.WriteString(" from=" + w.req.PeerAddress)
	}
	fmt.Fprintf(&b, " code=%d 0", code)
	if w.e.cfg.LogUserAgent {
		if ua, ok := firstHeader(w.req.Headers, "User-Agent"); ok {
			b.WriteString(" ua=" + ua)
		}
	}
	w.e.log.Info(b.String())
}

// reject answers the handshake with a plain HTTP response.
func (w *wsSession) reject(code int, reason string, headers []zhttp.Header, body []byte) error {
	p := &zhttp.Packet{Type: zhttp.Error, Condition: zhttp.CondRejected, Reason: reason, Headers: headers, Body: nonNil(body)}
	p.SetCode(code)
	w.logLine(code)
	if err := w.srv.send(w.ctx, p); err != nil {
		return err
	}
	return errSessionDone
}

func (w *wsSession) rejectText(code int, reason, text string) error {
	return w.reject(code, reason, []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}}, []byte(text))
}

func (w *wsSession) run() error {
	e := w.e
	u, err := url.Parse(w.req.URI)
	if err != nil || u.Host == "" {
		return w.rejectText(400, "Bad Request", textBadRequest)
	}
	w.u = u
	w.scheme = rewrite.ClientScheme(u.Scheme, w.req.Headers, e.cfg.AcceptXFProto)
	if e.cfg.UpstreamKey != nil {
		if tok, ok := firstHeader(w.req.Headers, "Grip-Sig"); ok && e.cfg.UpstreamKey.Valid(tok, time.Now()) {
			w.trusted = true
		}
	}
	t := e.routes.Load()
	if t != nil {
		if e.cfg.AcceptPushpinRoute {
			if id, ok := firstHeader(w.req.Headers, "Pushpin-Route"); ok {
				w.route = t.ByID(id)
			}
		}
		if w.route == nil {
			w.route = t.Match(u.Hostname(), u.EscapedPath(), true, rewrite.Secure(w.scheme))
		}
	}
	if w.route == nil {
		return w.rejectText(502, "Bad Gateway", fmt.Sprintf(textNoRoute, u.Hostname()))
	}
	w.debug = e.cfg.Debug || w.route.Debug

	var tried []string
	for i := range w.route.Targets {
		tg := &w.route.Targets[i]
		w.target = tg
		w.logTarget = targetLabel(tg)
		tried = append(tried, w.logTarget)
		switch {
		case tg.Type == routes.TargetTest:
			return w.runTest()
		case tg.Type == routes.TargetCustom:
			continue
		case tg.OverHTTP:
			w.logHTTP = true
			return w.runOverHTTP()
		}
		err := w.connectOrigin(tg)
		if err == nil {
			return w.relay()
		}
		var pe *peerError
		if errors.As(err, &pe) && pe.from == fromClient {
			switch pe.condition {
			case zhttp.CondRemoteConnectionFailed, zhttp.CondConnectionTimeout, zhttp.CondTLSError:
				continue
			case zhttp.CondRejected:
				p := pe.pkt
				return w.reject(p.Code, p.Reason, wsResponseHeaders(p.Headers, false), p.Body)
			case zhttp.CondPolicyViolation:
				return w.proxyError(textOriginBlocked)
			}
			return w.proxyError(fmt.Sprintf("Error while proxying to origin: %s\n", pe.condition))
		}
		return err
	}
	return w.proxyError(fmt.Sprintf(textConnectAnyFmt, strings.Join(tried, ", ")))
}

func (w *wsSession) proxyError(detail string) error {
	if w.debug {
		return w.rejectText(502, "Bad Gateway", detail)
	}
	return w.rejectText(502, "Bad Gateway", textProxyError)
}

// wsResponseHeaders drops the handshake headers condure computes itself
// (and the grip extension, which is between the origin and us).
func wsResponseHeaders(in []zhttp.Header, keepExtensions bool) []zhttp.Header {
	out := make([]zhttp.Header, 0, len(in))
	for _, h := range in {
		if isOneOfFold(h.Name, []string{"Upgrade", "Connection", "Sec-WebSocket-Accept", "Content-Length", "Transfer-Encoding"}) {
			continue
		}
		if !keepExtensions && equalFold(h.Name, "Sec-WebSocket-Extensions") {
			continue
		}
		out = append(out, h)
	}
	return out
}

// connectOrigin opens the WebSocket to the origin through zurl and waits
// for its handshake answer.
func (w *wsSession) connectOrigin(tg *routes.Target) error {
	e := w.e
	hs := &httpSession{e: e, ctx: w.ctx, srv: w.srv, p: w.p, u: w.u, scheme: w.scheme, headers: w.req.Headers,
		peerAddr: w.req.PeerAddress, route: w.route, trusted: w.trusted}
	or := hs.buildOriginRequest(tg, true)
	c := e.newClientSession()
	w.p.setClient(c)
	pkt := &zhttp.Packet{URI: or.uri, Headers: or.headers}
	pkt.SetCredits(idealCredits)
	pkt.ConnectHost = tg.ConnectHost
	pkt.SetConnectPort(tg.ConnectPort)
	pkt.IgnorePolicies = tg.Trusted
	pkt.TrustConnectHost = tg.TrustConnectHost
	pkt.IgnoreTLSErrors = tg.Insecure
	if err := c.send(w.ctx, pkt); err != nil {
		return err
	}
	for {
		from, p, err := w.p.next(0)
		if err != nil {
			return err
		}
		switch from {
		case fromServer:
			if p.Type == zhttp.Close {
				return errSessionDone
			}
		case fromClient:
			if p.Type == zhttp.Data && p.Has&zhttp.HasCode != 0 {
				return w.accepted(p)
			}
		}
	}
}

// accepted completes the client handshake after the origin's 101.
func (w *wsSession) accepted(p *zhttp.Packet) error {
	gripOn := false
	if w.route.Grip && !w.trusted {
		for _, v := range grip.Values(p.Headers, "Sec-WebSocket-Extensions") {
			name, params, _ := strings.Cut(v, ";")
			if strings.TrimSpace(name) != "grip" {
				continue
			}
			gripOn = true
			w.prefix = []byte(wscontrol.DefaultMessagePrefix)
			for _, prm := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(prm), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "message-prefix") {
					w.prefix = []byte(strings.Trim(strings.TrimSpace(val), `"`))
				}
			}
		}
	}
	w.grip = gripOn
	headers := wsResponseHeaders(p.Headers, !w.route.Grip || w.trusted)
	return w.open(p.Code, p.Reason, headers)
}

// open sends the 101 to the client and registers with the handler when
// the session needs it (grip or implicit subscriptions).
func (w *wsSession) open(code int, reason string, headers []zhttp.Header) error {
	if code == 0 {
		code = 101
	}
	if reason == "" {
		reason = "Switching Protocols"
	}
	out := &zhttp.Packet{Reason: reason, Headers: headers}
	out.SetCode(code)
	out.SetCredits(idealCredits)
	if err := w.srv.send(w.ctx, out); err != nil {
		return err
	}
	w.code = code
	w.logLine(code)
	w.e.stats.connStart(w.cid, "ws", w.req.PeerAddress, rewrite.Secure(w.scheme))
	if (w.grip || len(w.target.Subscriptions) > 0) && w.e.wsctl.enabled() {
		here := wscontrol.Item{URI: w.req.URI, Route: w.route.ID, SeparateStats: w.route.ExplicitID, ChannelPrefix: w.route.Prefix}
		w.ctl = w.e.wsctl.register(w.cid, here)
		w.p.ctl = w.ctl.items
		w.p.refresh = w.ctl.refresh
		for _, ch := range w.target.Subscriptions {
			w.sendCtl(wscontrol.Item{Type: wscontrol.Subscribe, Channel: ch})
		}
	}
	return nil
}

// sendCtl sends an item that the handler must ack within 8 s.
func (w *wsSession) sendCtl(it wscontrol.Item) {
	id := strconv.Itoa(w.reqID)
	w.reqID++
	it.CID = []byte(w.cid)
	it.ReqID = []byte(id)
	w.acks[id] = time.Now().Add(wscontrol.AckTimeoutMS * time.Millisecond)
	w.e.wsctl.send(it)
	w.armAlarm()
}

// armAlarm sets the session timer to the earliest of the ack deadlines and
// the keep-alive due time.
func (w *wsSession) armAlarm() {
	var next time.Time
	for _, d := range w.acks {
		if next.IsZero() || d.Before(next) {
			next = d
		}
	}
	if !w.kaDue.IsZero() && (next.IsZero() || w.kaDue.Before(next)) {
		next = w.kaDue
	}
	if w.alarm != nil {
		w.alarm.Stop()
		w.alarm = nil
		w.p.alarm = nil
	}
	if next.IsZero() {
		return
	}
	w.alarm = time.NewTimer(max(time.Until(next), 0))
	w.p.alarm = w.alarm.C
}

// scheduleKeepAlive restarts the keep-alive timer (minus up to 1 s of
// jitter, as Pushpin does).
func (w *wsSession) scheduleKeepAlive() {
	if w.kaTimeout <= 0 {
		w.kaDue = time.Time{}
	} else {
		jitter := time.Duration(rand.IntN(1000)) * time.Millisecond
		w.kaDue = time.Now().Add(max(w.kaTimeout-jitter, 0))
	}
	w.armAlarm()
}

// relay moves frames both ways until both sides have closed.
func (w *wsSession) relay() error {
	for {
		if err := w.flush(); err != nil {
			return err
		}
		if w.clientSent && (w.originSent || w.detached || w.p.cli == nil) && len(w.toClient) == 0 {
			return errSessionDone
		}
		from, p, err := w.p.next(0)
		if err != nil {
			return err
		}
		switch from {
		case fromServer:
			if err := w.fromClient(p); err != nil {
				return err
			}
		case fromClient:
			if w.detached {
				continue
			}
			if err := w.fromOrigin(p); err != nil {
				return err
			}
		case fromControl:
			if err := w.control(w.p.item); err != nil {
				return err
			}
		case fromAlarm:
			if err := w.onAlarm(); err != nil {
				return err
			}
		}
	}
}

// fromClient handles a packet from condure.
func (w *wsSession) fromClient(p *zhttp.Packet) error {
	switch p.Type {
	case zhttp.Data, zhttp.Ping, zhttp.Pong, zhttp.Close:
	default:
		return nil
	}
	f := frameOf(p)
	if f.typ == zhttp.Close {
		w.clientSent = true
	}
	if w.detached || (!w.woh && w.p.cli == nil) {
		// Nothing behind us any more: give the credits back and answer a
		// close ourselves.
		if f.cost() > 0 {
			w.grantClient(f.cost())
		}
		if f.typ == zhttp.Close {
			w.toClient = append(w.toClient, frame{typ: zhttp.Close, code: f.code})
		}
		return nil
	}
	w.toOrigin = append(w.toOrigin, f)
	return nil
}

// fromOrigin handles a packet from zurl, applying the grip rules.
func (w *wsSession) fromOrigin(p *zhttp.Packet) error {
	switch p.Type {
	case zhttp.Data:
	case zhttp.Ping, zhttp.Pong:
		w.toClient = append(w.toClient, frameOf(p))
		return nil
	case zhttp.Close:
		w.originSent = true
		w.toClient = append(w.toClient, frameOf(p))
		return nil
	default:
		return nil
	}
	f := frameOf(p)
	if !w.grip {
		w.toClient = append(w.toClient, f)
		return nil
	}
	if w.dropping {
		w.grantOrigin(len(f.body))
		w.dropping = f.more
		return nil
	}
	if f.ct == zhttp.ContentText && !f.more && bytes.HasPrefix(f.body, []byte(wscontrol.ControlPrefix)) {
		w.grantOrigin(len(f.body))
		if w.ctl != nil {
			w.sendCtl(wscontrol.Item{Type: wscontrol.Grip, Message: append([]byte(nil), f.body[len(wscontrol.ControlPrefix):]...)})
		}
		return nil
	}
	if !bytes.HasPrefix(f.body, w.prefix) {
		w.e.log.Debug("wsproxysession: dropping unprefixed message")
		w.grantOrigin(len(f.body))
		w.dropping = f.more
		return nil
	}
	// The prefix bytes never reach the client: give zurl their credits now.
	w.grantOrigin(len(w.prefix))
	f.body = f.body[len(w.prefix):]
	w.toClient = append(w.toClient, f)
	return nil
}

func (w *wsSession) grantOrigin(n int) {
	if n > 0 && !w.woh && w.p.cli != nil && w.p.cli.peer != nil && !w.p.cli.closed {
		cp := &zhttp.Packet{Type: zhttp.Credit}
		cp.SetCredits(n)
		_ = w.p.cli.send(w.ctx, cp)
	}
}

func (w *wsSession) grantClient(n int) {
	if n > 0 {
		cp := &zhttp.Packet{Type: zhttp.Credit}
		cp.SetCredits(n)
		_ = w.srv.send(w.ctx, cp)
	}
}

// flush writes queued frames as far as credits allow; frames written to one
// side return their credits to the other.
func (w *wsSession) flush() error {
	for len(w.toClient) > 0 {
		f := w.toClient[0]
		if f.cost() > w.srv.credits {
			break
		}
		if err := w.srv.send(w.ctx, f.packet()); err != nil {
			return err
		}
		w.srv.credits -= f.cost()
		w.toClient = w.toClient[1:]
		w.grantOrigin(f.cost())
		if w.kaMode == wscontrol.KeepAliveIdle && f.typ == zhttp.Data {
			w.scheduleKeepAlive()
		}
	}
	c := w.p.cli
	for !w.woh && len(w.toOrigin) > 0 && c != nil && !c.closed && c.peer != nil {
		f := w.toOrigin[0]
		if f.cost() > c.credits {
			break
		}
		if err := c.send(w.ctx, f.packet()); err != nil {
			return err
		}
		c.credits -= f.cost()
		w.toOrigin = w.toOrigin[1:]
		w.grantClient(f.cost())
	}
	return nil
}

// control handles an item from the handler.
func (w *wsSession) control(it wscontrol.Item) error {
	switch it.Type {
	case wscontrol.Ack:
		delete(w.acks, string(it.ReqID))
		w.armAlarm()
	case wscontrol.Send:
		f := frame{typ: zhttp.Data, body: append([]byte(nil), it.Message...)}
		switch it.ContentType {
		case wscontrol.ContentBinary:
			f.ct = zhttp.ContentBinary
		case wscontrol.ContentPing:
			f.typ = zhttp.Ping
		case wscontrol.ContentPong:
			f.typ = zhttp.Pong
		default:
			f.ct = zhttp.ContentText
		}
		w.toClient = append(w.toClient, f)
		if it.ReqID != nil {
			w.e.wsctl.send(wscontrol.Item{CID: []byte(w.cid), Type: wscontrol.Ack, ReqID: append([]byte(nil), it.ReqID...)})
		}
	case wscontrol.Close:
		code := 0
		if it.Has&wscontrol.HasCode != 0 {
			code = it.Code
		}
		w.toClient = append(w.toClient, frame{typ: zhttp.Close, code: code, body: []byte(it.Reason)})
		w.originClose(code)
	case wscontrol.Detach:
		w.originClose(1000)
		w.detached = true
	case wscontrol.KeepAliveSetup:
		w.kaTimeout = 0
		if it.Has&wscontrol.HasTimeout != 0 && it.Timeout > 0 {
			w.kaTimeout = time.Duration(it.Timeout) * time.Second
		}
		w.kaMode = it.KeepAliveMode
		if w.kaMode == "" {
			w.kaMode = wscontrol.KeepAliveIdle
		}
		w.scheduleKeepAlive()
	case wscontrol.Cancel:
		return errors.New("wscontrol session cancelled by handler")
	}
	return nil
}

// originClose closes the origin side (if any is left).
func (w *wsSession) originClose(code int) {
	if w.woh {
		if !w.detached && !w.originSent {
			w.toOrigin = append(w.toOrigin, frame{typ: zhttp.Close, code: code})
		}
		return
	}
	c := w.p.cli
	if c == nil || c.closed || w.detached || w.originSent {
		return
	}
	w.toOrigin = append(w.toOrigin, frame{typ: zhttp.Close, code: code})
	_ = w.flush()
	w.originSent = true
}

func (w *wsSession) onAlarm() error {
	now := time.Now()
	for id, d := range w.acks {
		if now.After(d) {
			return fmt.Errorf("wscontrol session error: no ack for request %s", id)
		}
	}
	if !w.kaDue.IsZero() && !now.Before(w.kaDue) {
		w.e.wsctl.send(wscontrol.Item{CID: []byte(w.cid), Type: wscontrol.NeedKeepAlive})
		w.scheduleKeepAlive()
		return nil
	}
	w.armAlarm()
	return nil
}

// runTest is the test target's WebSocket endpoint (/ws): it echoes
// messages and subscribes the connection to ?channel= (default test)
// through the handler, so publishes reach it.
func (w *wsSession) runTest() error {
	if testPath(w.u, w.route) != "/ws" {
		return w.rejectText(404, "Not Found", "no such test resource\n")
	}
	w.grip = true
	w.prefix = nil
	if err := w.open(101, "Switching Protocols", nil); err != nil {
		return err
	}
	if w.ctl != nil {
		for _, ch := range testChannels(w.u) {
			msg := fmt.Sprintf(`{"type": "subscribe", "channel": %q}`, ch)
			w.sendCtl(wscontrol.Item{Type: wscontrol.Grip, Message: []byte(msg)})
		}
	}
	w.p.setClient(nil)
	for {
		if err := w.flush(); err != nil {
			return err
		}
		if w.clientSent && len(w.toClient) == 0 {
			return errSessionDone
		}
		from, p, err := w.p.next(0)
		if err != nil {
			return err
		}
		switch from {
		case fromServer:
			switch p.Type {
			case zhttp.Data, zhttp.Ping, zhttp.Close:
				f := frameOf(p)
				w.grantClient(f.cost())
				switch f.typ {
				case zhttp.Ping:
					f = frame{typ: zhttp.Pong, body: f.body}
				case zhttp.Close:
					w.clientSent = true
				}
				w.toClient = append(w.toClient, f)
			}
		case fromControl:
			if err := w.control(w.p.item); err != nil {
				return err
			}
		case fromAlarm:
			if err := w.onAlarm(); err != nil {
				return err
			}
		}
	}
}
