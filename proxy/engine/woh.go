package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/protocol/grip"
	"github.com/pushpin-go/pushpin/protocol/wsevents"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// WebSocket-over-HTTP (reference §5.8, Pushpin's websocketoverhttp.cpp):
// the client's WebSocket is carried to an over_http origin as a series of
// POSTs with application/websocket-events bodies, one outstanding at a time.

const (
	wohMaxRequestBody  = 200000  // events per request (Pushpin's BUFFER_SIZE)
	wohMaxResponseBody = 1000000 // events per response
	wohMaxRejectBody   = 100000
	wohFrameSize       = 16384 // client frames a message is split into
	wohRetries         = 5
	wohMinKeepAlive    = 20 * time.Second
)

// wohResult is one completed origin request.
type wohResult struct {
	code    int
	reason  string
	headers []zhttp.Header
	body    []byte
}

// errWOHConnect marks a connect-level failure (eligible for retries).
var errWOHConnect = errors.New("connect failed")

func (w *wsSession) runOverHTTP() error {
	w.woh = true
	meta := map[string]string{}
	// The first request opens the session.
	res, err := w.wohRequest([]byte("OPEN\r\n"), meta)
	if err != nil {
		if errors.Is(err, errWOHConnect) {
			return w.proxyError(fmt.Sprintf(textConnectAnyFmt, w.logTarget))
		}
		return err
	}
	ct, _ := firstHeader(res.headers, "Content-Type")
	if res.code != 200 || ct != wsevents.ContentType {
		body := res.body
		if len(body) > wohMaxRejectBody {
			body = body[:wohMaxRejectBody]
		}
		return w.reject(res.code, res.reason, wsResponseHeaders(res.headers, false), body)
	}
	evs, err := wsevents.Decode(res.body)
	if err != nil || (len(evs) > 0 && evs[0].Type != wsevents.Open) {
		return w.proxyError("Error: origin did not open the session.\n")
	}
	kaInterval := w.applyResponseHeaders(res.headers, meta)
	if len(evs) == 0 && kaInterval == 0 {
		return w.proxyError("Error: origin did not open the session.\n")
	}
	if w.route.Grip && !w.trusted {
		w.parseGripExtension(res.headers)
	}
	var hdrs []zhttp.Header
	for _, h := range wsResponseHeaders(res.headers, false) {
		if isOneOfFold(h.Name, []string{"Content-Type", "Keep-Alive-Interval"}) || hasPrefixFold(h.Name, "Set-Meta-") {
			continue
		}
		hdrs = append(hdrs, h)
	}
	if err := w.open(101, "Switching Protocols", hdrs); err != nil {
		return err
	}
	if len(evs) > 0 {
		evs = evs[1:]
	}
	if done, err := w.wohEvents(evs); done || err != nil {
		return err
	}

	// Main loop: one request at a time, sent when there are events to
	// deliver, the keep-alive interval passed, or a refresh was asked for.
	lastReq := time.Now()
	forced := false
	for {
		if err := w.flush(); err != nil {
			return err
		}
		if w.clientSent && w.originSent && len(w.toClient) == 0 {
			return errSessionDone
		}
		due := forced || len(w.toOrigin) > 0 || (kaInterval > 0 && time.Since(lastReq) >= kaInterval)
		if due && !w.detached {
			body, closing := w.encodeOutgoing()
			forced = false
			res, err := w.wohRequestRetrying(body, meta)
			lastReq = time.Now()
			if err != nil {
				return err
			}
			if ct, _ := firstHeader(res.headers, "Content-Type"); res.code != 200 || ct != wsevents.ContentType {
				return fmt.Errorf("websocket-over-http: origin answered %d %q", res.code, ct)
			}
			if ka := w.applyResponseHeaders(res.headers, meta); ka > 0 || kaInterval > 0 {
				kaInterval = ka
			}
			evs, err := wsevents.Decode(res.body)
			if err != nil {
				return fmt.Errorf("websocket-over-http: %w", err)
			}
			done, err := w.wohEvents(evs)
			if done || err != nil {
				return err
			}
			if closing && !w.originSent && kaInterval == 0 {
				// We sent CLOSE and the origin did not answer it: an
				// unclean disconnect (Pushpin behaves the same).
				return errors.New("websocket-over-http: origin did not acknowledge close")
			}
			continue
		}
		timeout := time.Duration(0)
		if kaInterval > 0 {
			timeout = max(time.Until(lastReq.Add(kaInterval)), time.Millisecond)
		}
		from, p, err := w.p.next(timeout)
		if errors.Is(err, errTimeout) {
			continue
		}
		if errors.Is(err, errCancelled) && from == fromServer {
			w.disconnectInBackground(meta)
			return errSessionDone
		}
		if err != nil {
			return err
		}
		switch from {
		case fromServer:
			if err := w.fromClient(p); err != nil {
				return err
			}
		case fromControl:
			if err := w.control(w.p.item); err != nil {
				return err
			}
		case fromRefresh:
			forced = true
		case fromAlarm:
			if err := w.onAlarm(); err != nil {
				return err
			}
		}
	}
}

// parseGripExtension turns on GRIP when the origin's response names the
// grip extension, with its message-prefix.
func (w *wsSession) parseGripExtension(headers []zhttp.Header) {
	for _, v := range grip.Values(headers, "Sec-WebSocket-Extensions") {
		name, params, _ := strings.Cut(v, ";")
		if strings.TrimSpace(name) != "grip" {
			continue
		}
		w.grip = true
		w.prefix = []byte("m:")
		for _, prm := range strings.Split(params, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(prm), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "message-prefix") {
				w.prefix = []byte(strings.Trim(strings.TrimSpace(val), `"`))
			}
		}
	}
}

// applyResponseHeaders stores Set-Meta-* values and returns the
// Keep-Alive-Interval (0 = none; at least 20 s).
func (w *wsSession) applyResponseHeaders(headers []zhttp.Header, meta map[string]string) time.Duration {
	var ka time.Duration
	for _, h := range headers {
		if hasPrefixFold(h.Name, "Set-Meta-") {
			name := h.Name[len("Set-Meta-"):]
			if h.Value == "" {
				delete(meta, strings.ToLower(name))
			} else {
				meta[strings.ToLower(name)] = h.Value
			}
		}
		if equalFold(h.Name, "Keep-Alive-Interval") {
			if n, err := strconv.Atoi(strings.TrimSpace(h.Value)); err == nil && n > 0 {
				ka = max(time.Duration(n)*time.Second, wohMinKeepAlive)
			}
		}
	}
	return ka
}

// encodeOutgoing turns queued client frames into events, at most
// wohMaxRequestBody bytes (one event with one_event), and gives the client
// the credits back. It reports whether a CLOSE is among them.
func (w *wsSession) encodeOutgoing() ([]byte, bool) {
	var body []byte
	closing := false
	n := 0
	for n < len(w.toOrigin) {
		f := w.toOrigin[n]
		if len(body) > 0 && (len(body)+len(f.body) > wohMaxRequestBody || w.target.OneEvent) {
			break
		}
		switch f.typ {
		case zhttp.Data:
			if f.ct == zhttp.ContentBinary {
				body = wsevents.AppendBinary(body, f.body)
			} else {
				body = wsevents.AppendText(body, f.body)
			}
		case zhttp.Ping:
			body = wsevents.AppendPing(body, f.body)
		case zhttp.Pong:
			body = wsevents.AppendPong(body, f.body)
		case zhttp.Close:
			code := f.code
			if code == 0 {
				code = -1
			}
			body = wsevents.AppendClose(body, code, f.body)
			closing = true
		}
		w.grantClient(f.cost())
		n++
	}
	w.toOrigin = w.toOrigin[n:]
	return body, closing
}

// wohEvents applies a response's events; done is true when the session is
// over (origin closed after our close, or disconnected).
func (w *wsSession) wohEvents(evs []wsevents.Event) (bool, error) {
	for _, ev := range evs {
		switch ev.Type {
		case wsevents.Text, wsevents.Binary:
			ct := zhttp.ContentText
			if ev.Type == wsevents.Binary {
				ct = zhttp.ContentBinary
			}
			// Split into client frames of at most wohFrameSize bytes; the
			// grip rules look at the first fragment only.
			body := append([]byte(nil), ev.Content...)
			first := true
			for first || len(body) > 0 {
				n := min(len(body), wohFrameSize)
				p := &zhttp.Packet{ContentType: ct, Body: body[:n], More: n < len(body)}
				if !first {
					p.ContentType = ""
				}
				if err := w.fromOrigin(p); err != nil {
					return false, err
				}
				body = body[n:]
				first = false
			}
		case wsevents.Ping:
			w.toClient = append(w.toClient, frame{typ: zhttp.Ping, body: append([]byte(nil), ev.Content...)})
		case wsevents.Pong:
			w.toClient = append(w.toClient, frame{typ: zhttp.Pong, body: append([]byte(nil), ev.Content...)})
		case wsevents.Close:
			code, reason, ok := wsevents.ParseClose(ev.Content)
			f := frame{typ: zhttp.Close}
			if ok {
				f.code = code
				f.body = append([]byte(nil), reason...)
			}
			w.originSent = true
			if !w.clientSent {
				w.toClient = append(w.toClient, f)
			} else {
				// Answer to our close: the client already has its close
				// handshake reply from us below.
				w.toClient = append(w.toClient, f)
			}
			if err := w.flush(); err != nil {
				return true, err
			}
			if w.clientSent {
				return true, errSessionDone
			}
		case wsevents.Disconnect, wsevents.Open:
			return true, errors.New("websocket-over-http: origin disconnected")
		}
	}
	return false, nil
}

// wohRequestRetrying sends a request, retrying connect failures up to
// wohRetries times with exponential backoff.
func (w *wsSession) wohRequestRetrying(body []byte, meta map[string]string) (*wohResult, error) {
	for attempt := 0; ; attempt++ {
		res, err := w.wohRequest(body, meta)
		if err == nil || !errors.Is(err, errWOHConnect) || attempt >= wohRetries {
			return res, err
		}
		delay := time.Second<<attempt + time.Duration(rand.IntN(1000))*time.Millisecond
		w.e.log.Debug(fmt.Sprintf("websocket-over-http %s: retrying in %v", w.cid, delay))
		t := time.NewTimer(delay)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return nil, w.ctx.Err()
		case <-t.C:
		}
	}
}

// wohHeaders are the request headers: the handshake's, rewritten as for
// any origin request, without the handshake-only and spoofable ones.
func (w *wsSession) wohHeaders(meta map[string]string) (string, []zhttp.Header) {
	hs := &httpSession{e: w.e, ctx: w.ctx, srv: w.srv, p: w.p, u: w.u, scheme: w.scheme, headers: w.req.Headers,
		peerAddr: w.req.PeerAddress, route: w.route, trusted: w.trusted}
	or := hs.buildOriginRequest(w.target, true)
	uri := or.uri
	if strings.HasPrefix(uri, "wss:") {
		uri = "https:" + uri[4:]
	} else if strings.HasPrefix(uri, "ws:") {
		uri = "http:" + uri[3:]
	}
	out := make([]zhttp.Header, 0, len(or.headers)+6)
	for _, h := range or.headers {
		if isOneOfFold(h.Name, []string{"Upgrade", "Accept", "Connection-Id", "Content-Length", "Content-Type"}) || hasPrefixFold(h.Name, "Meta-") {
			continue
		}
		out = append(out, h)
	}
	out = append(out,
		zhttp.Header{Name: "Accept", Value: wsevents.ContentType},
		zhttp.Header{Name: "Connection-Id", Value: w.cid},
		zhttp.Header{Name: "Content-Type", Value: wsevents.ContentType})
	for k, v := range meta {
		out = append(out, zhttp.Header{Name: "Meta-" + canonicalMetaName(k), Value: v})
	}
	return uri, out
}

func canonicalMetaName(k string) string {
	parts := strings.Split(k, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

// wohRequest performs one POST through zurl and collects the response.
func (w *wsSession) wohRequest(body []byte, meta map[string]string) (*wohResult, error) {
	uri, headers := w.wohHeaders(meta)
	c := w.e.newClientSession()
	w.p.setClient(c)
	defer func() {
		c.close()
		w.p.cli = nil
	}()
	tg := w.target
	pkt := &zhttp.Packet{Method: "POST", URI: uri, Headers: headers, Stream: true, Body: nonNil(body)}
	pkt.SetCredits(idealCredits)
	pkt.ConnectHost = tg.ConnectHost
	pkt.SetConnectPort(tg.ConnectPort)
	pkt.IgnorePolicies = tg.Trusted
	pkt.TrustConnectHost = tg.TrustConnectHost
	pkt.IgnoreTLSErrors = tg.Insecure
	if err := c.send(w.ctx, pkt); err != nil {
		return nil, err
	}
	var res *wohResult
	for {
		from, p, err := w.p.next(0)
		var pe *peerError
		if errors.As(err, &pe) && pe.from == fromClient {
			switch pe.condition {
			case zhttp.CondRemoteConnectionFailed, zhttp.CondConnectionTimeout, zhttp.CondTLSError:
				return nil, fmt.Errorf("%w: %s", errWOHConnect, pe.condition)
			}
			return nil, fmt.Errorf("websocket-over-http: origin request failed: %s", pe.condition)
		}
		if err != nil {
			if errors.Is(err, errCancelled) && from == fromServer {
				return nil, err
			}
			return nil, err
		}
		switch from {
		case fromServer:
			if err := w.fromClient(p); err != nil {
				return nil, err
			}
		case fromControl:
			if err := w.control(w.p.item); err != nil {
				return nil, err
			}
		case fromAlarm:
			if err := w.onAlarm(); err != nil {
				return nil, err
			}
		case fromClient:
			if p.Type != zhttp.Data {
				continue
			}
			if res == nil {
				res = &wohResult{code: p.Code, reason: p.Reason, headers: p.Headers}
			}
			res.body = append(res.body, p.Body...)
			if len(res.body) > wohMaxResponseBody {
				return nil, errors.New("websocket-over-http: response too large")
			}
			if !p.More {
				return res, nil
			}
			if len(p.Body) > 0 {
				cp := &zhttp.Packet{Type: zhttp.Credit}
				cp.SetCredits(len(p.Body))
				if err := c.send(w.ctx, cp); err != nil {
					return nil, err
				}
			}
		}
	}
}

// disconnectInBackground tells the origin that the client went away
// uncleanly: a DISCONNECT request whose answer nobody waits for.
func (w *wsSession) disconnectInBackground(meta map[string]string) {
	e := w.e
	uri, headers := w.wohHeaders(meta)
	tg := w.target
	e.wg.Add(1)
	// Owner: Run (e.wg); ends when zurl answers or after sessionExpire.
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.ctx, sessionExpire)
		defer cancel()
		c := e.newClientSession()
		defer c.close()
		pkt := &zhttp.Packet{Method: "POST", URI: uri, Headers: headers, Stream: true, Body: []byte("DISCONNECT\r\n")}
		pkt.SetCredits(idealCredits)
		pkt.ConnectHost = tg.ConnectHost
		pkt.SetConnectPort(tg.ConnectPort)
		pkt.IgnorePolicies = tg.Trusted
		if err := c.send(ctx, pkt); err != nil {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-c.in.ch:
				if p.Type == zhttp.Error || p.Type == zhttp.Cancel || (p.Type == zhttp.Data && !p.More) {
					return
				}
			}
		}
	}()
}
