package engine

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/pkg/routes"
	"github.com/pushpin-go/pushpin/protocol/grip"
	"github.com/pushpin-go/pushpin/protocol/handoff"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/proxy/rewrite"
)

const (
	// inspectPrefetch is how much request body the inspect call carries.
	inspectPrefetch = 10000
	// maxAcceptResponseBody is Pushpin's MAX_ACCEPT_RESPONSE_BODY: a GRIP
	// response body larger than this cannot be handed to the handler.
	maxAcceptResponseBody = 100000
	// maxAcceptRequestBody bounds the request body of accepted requests.
	maxAcceptRequestBody = 100000
	// requestBuffer is how much request body we hold before we start
	// streaming it to the origin (Pushpin's request buffer).
	requestBuffer = idealCredits
)

// Error texts Pushpin 1.36 answers with.
const (
	textProxyError      = "Error while proxying to origin.\n"
	textAcceptUnavail   = "Accept service unavailable.\n"
	textBodyTooLarge    = "Body must not exceed %d bytes\n"
	textNoRoute         = "No route for host: %s\n"
	textWSEventsForbid  = "Client not allowed to send WebSocket events directly.\n"
	textBadRequest      = "Bad request.\n"
	textOriginBlocked   = "Error: Origin host/IP blocked.\n"
	textConnectAnyFmt   = "Unable to connect to any targets. Tried: %s\n"
	textAcceptParseFmt  = "Failed to parse accept instructions: %s\n"
	textOriginRespLarge = "Error: response too large.\n"
)

// retryInfo is what a retry packet carries for one request.
type retryInfo struct {
	route   string
	inspect *handoff.InspectData
	https   bool
	peer    string
	debug   bool
	aco     bool
	jsonpCB string
	jsonpEx bool
	user    any
}

// httpSession serves one client HTTP request.
type httpSession struct {
	e   *Engine
	ctx context.Context
	p   *pump
	srv *serverSession

	method  string
	uri     string
	u       *url.URL
	scheme  string
	headers []zhttp.Header
	body    []byte
	// bodyDone: the whole request body has arrived.
	bodyDone bool
	// bodyStreamed: part of the body went to an origin and was not kept,
	// so the request can neither fail over nor be accepted.
	bodyStreamed bool

	peerAddr    string
	logicalAddr string
	route       *routes.Route
	trusted     bool
	internal    bool
	passthrough *handoff.Passthrough
	debug       bool
	aco         bool
	retry       *retryInfo
	inspect     *handoff.InspectData

	// Log line parts.
	logTarget string
	logHTTP   bool
	logResult string
	respCode  int
	respBytes int
	started   bool // response headers sent to the client
}

// serveHTTP runs the session to completion. retry is non-nil for a request
// recreated from a retry packet.
func (e *Engine) serveHTTP(ctx context.Context, s *serverSession, req *zhttp.Packet, retry *retryInfo) {
	h := &httpSession{e: e, ctx: ctx, srv: s, p: newPump(ctx, e, s), retry: retry, internal: s.r.internal}
	defer h.p.stop()
	e.stats.requestReceived()
	err := h.run(req)
	if err != nil && !errors.Is(err, context.Canceled) {
		e.log.Debug(fmt.Sprintf("proxysession %s: %v", s.id, err))
		if h.p.srvOwned {
			if errors.Is(err, errBadSeq) || errors.Is(err, errOverflow) || errors.Is(err, errExpired) {
				s.cancel(ctx)
			}
		}
		if h.p.cli != nil {
			h.p.cli.cancel(ctx)
		}
	}
	if h.logResult != "" {
		e.log.Info(h.logLine())
	}
}

func (h *httpSession) run(req *zhttp.Packet) error {
	e := h.e
	h.method = req.Method
	h.uri = req.URI
	h.headers = req.Headers
	h.peerAddr = req.PeerAddress
	if len(req.Body) > 0 {
		h.body = append(h.body, req.Body...)
	}
	h.bodyDone = !req.More

	// Acknowledge at once so condure learns our address: a credit grant
	// when a body follows, else a keep-alive (Pushpin's first packet).
	ack := &zhttp.Packet{Type: zhttp.KeepAlive}
	if req.More && h.retry == nil {
		ack = &zhttp.Packet{Type: zhttp.Credit}
		ack.SetCredits(idealCredits)
	}
	if err := h.srv.send(h.ctx, ack); err != nil {
		return err
	}

	u, err := url.Parse(h.uri)
	if err != nil || u.Host == "" {
		h.logResult = "error"
		return h.respond(400, "Bad Request", textBadRequest)
	}
	h.u = u
	h.scheme = rewrite.ClientScheme(u.Scheme, h.headers, e.cfg.AcceptXFProto)
	if h.retry != nil {
		if h.retry.https && h.scheme == "http" {
			h.scheme = "https"
		}
		h.peerAddr = h.retry.peer
	}
	xff := e.cfg.XFF
	if !req.Passthrough.IsZero() {
		pt, err := handoff.ParsePassthrough(req.Passthrough)
		if err == nil {
			h.passthrough = &pt
		}
	}
	if _, ok := firstHeader(h.headers, "Pushpin-Check"); ok {
		h.logResult = "code"
		return h.respondHeaders(200, "OK", []zhttp.Header{{Name: "Content-Type", Value: "text/plain"},
			{Name: "Content-Length", Value: strconv.Itoa(len(pushpinCheckText))}}, []byte(pushpinCheckText))
	}

	// Trust: a valid Grip-Sig for upstream_key makes the client an
	// upstream GRIP proxy whose headers pass through.
	if e.cfg.UpstreamKey != nil {
		if tok, ok := firstHeader(h.headers, "Grip-Sig"); ok && e.cfg.UpstreamKey.Valid(tok, time.Now()) {
			h.trusted = true
			xff = e.cfg.XFFTrusted
		}
	}
	h.logicalAddr = rewrite.LogicalPeerAddress(h.headers, xff, h.peerAddr)

	h.route = h.selectRoute()
	if h.route == nil {
		h.logResult = "code"
		body := fmt.Sprintf(textNoRoute, u.Hostname())
		return h.respond(502, "Bad Gateway", body)
	}
	h.debug = e.cfg.Debug || h.route.Debug || (h.retry != nil && h.retry.debug)
	h.aco = e.cfg.AutoCrossOrigin || h.route.AutoCrossOrigin || (h.retry != nil && h.retry.aco)

	if len(h.route.Targets) > 0 && h.route.Targets[0].OverHTTP {
		if ct, ok := firstHeader(h.headers, "Content-Type"); ok && ct == "application/websocket-events" && !h.trusted {
			h.logResult = "code"
			return h.respond(403, "Forbidden", textWSEventsForbid)
		}
	}

	// Read the body (up to the buffer) before inspecting and forwarding.
	if err := h.readBody(requestBuffer); err != nil {
		return err
	}

	if h.retry != nil {
		h.inspect = h.retry.inspect
	} else if e.inspect != nil {
		h.doInspect()
	}

	return h.proxy()
}

// selectRoute finds the route: a retry's or passthrough's route id, a
// trusted Pushpin-Route header, or the routes table by host and path.
func (h *httpSession) selectRoute() *routes.Route {
	e := h.e
	t := e.routes.Load()
	if t == nil {
		return nil
	}
	if h.retry != nil && h.retry.route != "" {
		if r := t.ByID(h.retry.route); r != nil {
			return r
		}
	}
	if h.passthrough != nil {
		if h.passthrough.PreferInternal && h.passthrough.Route != "" {
			if r := t.ByID(h.passthrough.Route); r != nil {
				return r
			}
		}
		return h.directRoute(t)
	}
	if e.cfg.AcceptPushpinRoute {
		if id, ok := firstHeader(h.headers, "Pushpin-Route"); ok && id != "" {
			if r := t.ByID(id); r != nil {
				return r
			}
		}
	}
	path := h.u.EscapedPath()
	return t.Match(h.u.Hostname(), path, false, rewrite.Secure(h.scheme))
}

// directRoute builds a one-target route for a next link that leaves the
// original host: the target comes from the URI, only the original route's
// signing settings are kept (Pushpin's passthrough without prefer-internal).
func (h *httpSession) directRoute(t *routes.Table) *routes.Route {
	r := &routes.Route{Domain: h.u.Hostname(), Grip: true}
	if h.passthrough.Route != "" {
		if orig := t.ByID(h.passthrough.Route); orig != nil {
			r.ID = orig.ID
			r.SigIss = orig.SigIss
			r.SigKey = orig.SigKey
		}
	}
	port := 80
	ssl := h.u.Scheme == "https"
	if ssl {
		port = 443
	}
	if ps := h.u.Port(); ps != "" {
		if n, err := strconv.Atoi(ps); err == nil {
			port = n
		}
	}
	r.Targets = []routes.Target{{Type: routes.TargetOrigin, ConnectHost: h.u.Hostname(), ConnectPort: port,
		SSL: ssl, Trusted: h.passthrough.Trusted}}
	return r
}

// readBody collects request body packets until the body is complete or
// limit bytes are buffered.
func (h *httpSession) readBody(limit int) error {
	for !h.bodyDone && len(h.body) < limit {
		from, pkt, err := h.p.next(0)
		if err != nil {
			return err
		}
		if from == fromServer && pkt.Type == zhttp.Data {
			h.body = append(h.body, pkt.Body...)
			if !pkt.More {
				h.bodyDone = true
			}
		}
	}
	return nil
}

func (h *httpSession) doInspect() {
	e := h.e
	body := h.body
	truncated := !h.bodyDone
	if len(body) > inspectPrefetch {
		body = body[:inspectPrefetch]
		truncated = true
	}
	args := handoff.InspectArgs{Method: h.method, URI: h.uri, Headers: h.headers, Body: nonNil(body),
		Truncated: truncated, GetSession: h.route.Session}
	if h.passthrough != nil && h.passthrough.AutoShare {
		args.AutoShare = true
	}
	v, err := e.inspect.call(h.ctx, "inspect", args.Value(), e.cfg.InspectTimeout)
	if err != nil {
		e.log.Debug(fmt.Sprintf("inspect unavailable: %v", err))
		return
	}
	d, err := handoff.ParseInspectResult(v)
	if err != nil {
		e.log.Warn(fmt.Sprintf("inspect: bad result: %v", err))
		return
	}
	h.inspect = &d
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// gripEnabled: origin GRIP responses are interpreted (handed off).
func (h *httpSession) gripEnabled() bool {
	return h.route.Grip && !h.trusted && !h.internal
}

// originRequest is the request as sent to one target.
type originRequest struct {
	uri     string
	headers []zhttp.Header
}

func (h *httpSession) buildOriginRequest(t *routes.Target, ws bool) originRequest {
	e := h.e
	r := h.route
	u := *h.u
	switch {
	case ws && t.SSL:
		u.Scheme = "wss"
	case ws:
		u.Scheme = "ws"
	case t.SSL:
		u.Scheme = "https"
	default:
		u.Scheme = "http"
	}
	hostRewritten := false
	if r.AsHost != "" {
		u.Host = r.AsHost
		hostRewritten = true
	}
	if t.Host != "" {
		u.Host = t.Host
		hostRewritten = true
	}
	reqURI := rewrite.Path(h.u.RequestURI(), r)
	if pu, err := url.ParseRequestURI(reqURI); err == nil {
		u.Path, u.RawPath, u.RawQuery = pu.Path, pu.RawPath, pu.RawQuery
	}
	o := rewrite.Options{
		Trusted:            h.trusted,
		Internal:           h.internal,
		Grip:               r.Grip,
		WebSocket:          ws,
		Scheme:             h.scheme,
		PeerAddress:        h.peerAddr,
		AcceptXFProto:      e.cfg.AcceptXFProto,
		SetXFProto:         e.cfg.SetXFProto,
		SetXFProtocol:      e.cfg.SetXFProtocol,
		XFF:                e.cfg.XFF,
		XFFTrusted:         e.cfg.XFFTrusted,
		AcceptPushpinRoute: e.cfg.AcceptPushpinRoute,
		OrigHeaders:        r.OrigHeaders,
		NeedMark:           e.cfg.OrigHeadersNeedMark,
		RouteHeaders:       r.Headers,
	}
	if !h.trusted && r.Grip {
		o.GripSig = e.gripSig(r)
		if h.inspect != nil {
			o.SessionID = h.inspect.SID
			o.LastIDs = h.inspect.LastIDs
		}
	}
	hdrs := rewrite.OriginHeaders(h.headers, o)
	if hostRewritten {
		hdrs = rewrite.RemoveAll(hdrs, "Host")
	}
	return originRequest{uri: u.String(), headers: hdrs}
}

// proxy sends the request to the route's targets in order until one
// answers, then relays or hands off the response.
func (h *httpSession) proxy() error {
	r := h.route
	var tried []string
	var lastErr string
	for i := range r.Targets {
		t := &r.Targets[i]
		label := targetLabel(t)
		h.logTarget = label
		tried = append(tried, label)
		if t.Type == routes.TargetTest {
			resp := testHTTPResponse(h.method, h.u, r)
			return h.handleResponse(resp)
		}
		if t.Type == routes.TargetCustom {
			lastErr = "zhttp"
			continue
		}
		resp, err := h.startOrigin(t)
		if err == nil {
			return h.handleResponse(resp)
		}
		var pe *peerError
		if errors.As(err, &pe) && pe.from == fromClient {
			switch pe.condition {
			case zhttp.CondRemoteConnectionFailed, zhttp.CondConnectionTimeout, zhttp.CondTLSError:
				lastErr = "connect"
				if !h.bodyStreamed {
					continue // fail over to the next target
				}
			case zhttp.CondPolicyViolation:
				h.logResult = "code"
				return h.respondProxyError(textOriginBlocked)
			case zhttp.CondLengthRequired:
				h.logResult = "code"
				return h.respond(411, "Length Required", "Must provide Content-Length header.\n")
			}
			h.logResult = "code"
			return h.respondProxyError(fmt.Sprintf("Error while proxying to origin: %s\n", pe.condition))
		}
		return err
	}
	h.logResult = "code"
	if lastErr == "zhttp" {
		return h.respondProxyError("Error: zhttp service for route is unreachable.\n")
	}
	return h.respondProxyError(fmt.Sprintf(textConnectAnyFmt, strings.Join(tried, ", ")))
}

func targetLabel(t *routes.Target) string {
	switch t.Type {
	case routes.TargetTest:
		return "test"
	case routes.TargetCustom:
		if t.Zhttp.Req {
			return "zhttpreq/" + t.Zhttp.BaseSpec
		}
		return "zhttp/" + t.Zhttp.BaseSpec
	}
	return t.ConnectHost + ":" + strconv.Itoa(t.ConnectPort)
}

// originResponse is the head of an origin's response plus the body so far.
type originResponse struct {
	code    int
	reason  string
	headers []zhttp.Header
	body    []byte
	more    bool
}

// startOrigin opens a session to the target through zurl and waits for the
// response head, streaming the rest of the request body meanwhile.
func (h *httpSession) startOrigin(t *routes.Target) (*originResponse, error) {
	e := h.e
	or := h.buildOriginRequest(t, false)
	c := e.newClientSession()
	h.p.setClient(c)

	first := h.body
	if len(first) > requestBuffer {
		first = first[:requestBuffer]
	}
	pending := h.body[len(first):]
	more := !h.bodyDone || len(pending) > 0
	pkt := &zhttp.Packet{Method: h.method, URI: or.uri, Headers: or.headers, Stream: true, More: more}
	if len(first) > 0 {
		pkt.Body = first
	}
	pkt.SetCredits(idealCredits)
	pkt.ConnectHost = t.ConnectHost
	pkt.SetConnectPort(t.ConnectPort)
	pkt.IgnorePolicies = t.Trusted
	pkt.TrustConnectHost = t.TrustConnectHost
	pkt.IgnoreTLSErrors = t.Insecure
	if err := c.send(h.ctx, pkt); err != nil {
		return nil, err
	}
	granted := 0 // request body bytes forwarded beyond the first packet
	for {
		// Forward request body as zurl's credits allow; grant condure what
		// we passed on so the body keeps flowing.
		for more && c.peer != nil && c.credits > 0 && (len(pending) > 0 || h.bodyDone) {
			n := min(len(pending), c.credits)
			bp := &zhttp.Packet{Body: nonNil(pending[:n])}
			done := h.bodyDone && n == len(pending)
			bp.More = !done
			if err := c.send(h.ctx, bp); err != nil {
				return nil, err
			}
			c.credits -= n
			pending = pending[n:]
			granted += n
			if n > 0 && h.p.srvOwned {
				cp := &zhttp.Packet{Type: zhttp.Credit}
				cp.SetCredits(n)
				if err := h.srv.send(h.ctx, cp); err != nil {
					return nil, err
				}
				h.bodyStreamed = true
			}
			if done {
				more = false
			}
			if n == 0 {
				break
			}
		}
		from, p, err := h.p.next(0)
		if err != nil {
			return nil, err
		}
		switch from {
		case fromServer:
			if p.Type == zhttp.Data {
				pending = append(pending, p.Body...)
				if len(h.body) < maxAcceptRequestBody {
					h.body = append(h.body, p.Body...)
				}
				if !p.More {
					h.bodyDone = true
				}
			}
		case fromClient:
			if p.Type == zhttp.Data && p.Has&zhttp.HasCode != 0 {
				resp := &originResponse{code: p.Code, reason: p.Reason, headers: p.Headers, more: p.More}
				resp.body = append(resp.body, p.Body...)
				return resp, nil
			}
		}
	}
}

// handleResponse relays a plain response or hands a GRIP one to the handler.
func (h *httpSession) handleResponse(resp *originResponse) error {
	if h.gripEnabled() {
		ct, _ := firstHeader(resp.headers, "Content-Type")
		if grip.IsInstruct(resp.headers, ct) {
			return h.handleGrip(resp)
		}
	}
	return h.relay(resp)
}

// hopByHopResponse are removed from relayed responses.
var hopByHopResponse = []string{"Connection", "Keep-Alive", "Content-Encoding", "Transfer-Encoding"}

// relay streams the origin response to the client, respecting condure's
// credits and granting zurl what the client has taken.
func (h *httpSession) relay(resp *originResponse) error {
	headers := make([]zhttp.Header, 0, len(resp.headers))
	for _, hd := range resp.headers {
		if !isOneOfFold(hd.Name, hopByHopResponse) {
			headers = append(headers, hd)
		}
	}
	if h.aco {
		headers = addCORSHeaders(headers, h.headers)
	}
	h.logResult = "code"
	return h.stream(resp.code, resp.reason, headers, resp.body, resp.more, !h.started, false)
}

// stream sends a response (head when sendHead) and body, taking the rest of
// the body from the origin session while more is set. With keepOpen the
// client response is left open (more) after the origin body ends, for the
// handler to continue.
func (h *httpSession) stream(code int, reason string, headers []zhttp.Header, pending []byte, more, sendHead, keepOpen bool) error {
	c := h.p.cli
	h.respCode = code
	for {
		n := min(len(pending), h.srv.credits)
		fin := !more && n == len(pending)
		if sendHead || n > 0 || fin {
			out := &zhttp.Packet{More: !fin || keepOpen}
			if sendHead {
				out.SetCode(code)
				out.Reason = reason
				out.Headers = headers
				if n > 0 {
					out.Body = pending[:n]
				}
				h.started = true
			} else {
				out.Body = nonNil(pending[:n])
			}
			if err := h.srv.send(h.ctx, out); err != nil {
				return err
			}
			sendHead = false
			h.srv.credits -= n
			h.respBytes += n
			pending = pending[n:]
			if n > 0 && more && c != nil && c.peer != nil {
				cp := &zhttp.Packet{Type: zhttp.Credit}
				cp.SetCredits(n)
				if err := c.send(h.ctx, cp); err != nil {
					return err
				}
			}
			if fin {
				return nil
			}
		}
		from, p, err := h.p.next(0)
		if err != nil {
			return err
		}
		if from == fromClient && p.Type == zhttp.Data {
			pending = append(pending, p.Body...)
			more = p.More
		}
	}
}

// respond sends a complete text/plain response.
func (h *httpSession) respond(code int, reason, body string) error {
	return h.respondHeaders(code, reason, []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}}, []byte(body))
}

func (h *httpSession) respondHeaders(code int, reason string, headers []zhttp.Header, body []byte) error {
	h.respCode = code
	if h.aco {
		headers = addCORSHeaders(headers, h.headers)
	}
	if h.started {
		// The response already began: all we can do is end it, with the
		// error text in debug mode (Pushpin appends it the same way).
		out := &zhttp.Packet{Body: []byte{}}
		if h.debug {
			out.Body = append([]byte("\n\n"), body...)
		}
		return h.srv.send(h.ctx, out)
	}
	return h.stream(code, reason, headers, body, false, true, false)
}

// respondProxyError answers 502 with Pushpin's generic text, or with detail
// in debug mode.
func (h *httpSession) respondProxyError(detail string) error {
	if h.debug {
		return h.respond(502, "Bad Gateway", detail)
	}
	return h.respond(502, "Bad Gateway", textProxyError)
}

// logLine formats the request log line as Pushpin's logutil does.
func (h *httpSession) logLine() string {
	var b strings.Builder
	b.WriteString(h.method)
	b.WriteByte(' ')
	b.WriteString(h.uri)
	if h.logTarget != "" {
		b.WriteString(" -> ")
		b.WriteString(h.logTarget)
		if h.logHTTP {
			b.WriteString("[http]")
		}
	}
	if h.e.cfg.LogFrom && h.logicalAddr != "" {
		b.WriteString(" from=" + h.logicalAddr)
	}
	if h.internal && h.route != nil && h.route.ID != "" {
		b.WriteString(" route=" + h.route.ID)
	}
	switch h.logResult {
	case "accept":
		b.WriteString(" accept")
	case "error":
		b.WriteString(" error")
	default:
		fmt.Fprintf(&b, " code=%d %d", h.respCode, h.respBytes)
	}
	if h.retry != nil {
		b.WriteString(" retry")
	}
	if h.e.cfg.LogUserAgent {
		if ua, ok := firstHeader(h.headers, "User-Agent"); ok {
			b.WriteString(" ua=" + ua)
		}
	}
	if h.internal {
		for _, v := range grip.Values(h.headers, "Grip-Last") {
			name, rest, _ := strings.Cut(v, ";")
			if _, id, ok := strings.Cut(rest, "last-id="); ok {
				b.WriteString(" #" + strings.TrimSpace(name) + "=" + strings.TrimSpace(id))
			}
		}
	}
	return b.String()
}

func firstHeader(headers []zhttp.Header, name string) (string, bool) {
	for _, h := range headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

func isOneOfFold(name string, set []string) bool {
	for _, s := range set {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

func isWSURI(uri string) bool {
	return strings.HasPrefix(uri, "ws://") || strings.HasPrefix(uri, "wss://")
}
