package httpclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/zurl/policy"
)

// Limits mirrored from zurl/libcurl.
const (
	// BufferSize is how many response body bytes an exchange holds before
	// it stops reading from the origin (zurl's BUFFER_SIZE: libcurl's
	// receive is paused when the buffer cannot take more).
	BufferSize = 200000
	// replayMax is how much request body is kept for re-sending after a
	// redirect (zurl's REQUEST_BODY_BUFFER_MAX).
	replayMax = 1000000
	// maxHeaderBytes bounds a response head (libcurl's CURL_MAX_HTTP_HEADER).
	maxHeaderBytes = 100 * 1024
	// AcceptEncoding is what libcurl 7.88 on Debian advertises with
	// CURLOPT_ACCEPT_ENCODING "" (verified at the origin).
	AcceptEncoding = "deflate, gzip, br, zstd"
)

// Options configures a Client.
type Options struct {
	Policy    *policy.Policy // nil allows everything
	AllowIPv6 bool
	// ConnectionMaxTime bounds how long a connection is reused (0: no
	// bound).
	ConnectionMaxTime time.Duration
	// ConnectTimeout bounds resolving, connecting and the TLS handshake
	// (libcurl's default connect timeout is 300 s).
	ConnectTimeout time.Duration
	// MaxIdlePerOrigin and MaxIdle bound the keep-alive pool.
	MaxIdlePerOrigin int
	MaxIdle          int
	// IdleTimeout closes pooled connections idle this long.
	IdleTimeout time.Duration
	// Resolver looks up host names (net.DefaultResolver when nil).
	Resolver Resolver
	// RootCAs verifies origin certificates (system roots when nil).
	RootCAs *x509.CertPool
}

// Client makes outbound requests. It is safe for concurrent use.
type Client struct {
	d    dialer
	pool pool
}

// New makes a client.
func New(o Options) *Client {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 300 * time.Second
	}
	if o.MaxIdlePerOrigin <= 0 {
		o.MaxIdlePerOrigin = 64
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = 1024
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 118 * time.Second
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	return &Client{
		d: dialer{policy: o.Policy, allowIPv6: o.AllowIPv6, resolver: o.Resolver,
			connectTimeout: o.ConnectTimeout, rootCAs: o.RootCAs},
		pool: pool{idle: make(map[string][]*pconn), maxIdlePerKey: o.MaxIdlePerOrigin,
			maxIdle: o.MaxIdle, maxAge: o.ConnectionMaxTime, idleTimeout: o.IdleTimeout},
	}
}

// Close closes idle connections. Exchanges in flight are not affected.
func (c *Client) Close() { c.pool.closeAll() }

// IdleConns reports the number of pooled idle connections.
func (c *Client) IdleConns() int { return c.pool.idleCount() }

// Dial opens a checked connection to the target for a WebSocket: unlike
// HTTP requests, any denied address fails the dial (zurl's WebSocket path
// reports policy-violation for the first denied address).
func (c *Client) Dial(ctx context.Context, t *Target) (net.Conn, error) {
	return c.d.dial(ctx, t, failDenied)
}

// Request is one outbound HTTP request. Header is the caller's header list
// (zurl's own rules, such as the Host value, applied); the libcurl-level
// rules described in the package comment are applied by the client.
type Request struct {
	Method string
	URI    string
	Header []zhttp.Header
	// Body is the body known at the start. When More is set, further body
	// arrives through Exchange.WriteBody and ends with Exchange.EndBody.
	Body []byte
	More bool

	ConnectHost      string
	ConnectPort      int
	IgnorePolicies   bool
	TrustConnectHost bool
	IgnoreTLSErrors  bool
	// MaxRedirects is how many redirects are followed; negative disables
	// following (3xx responses are returned as they are).
	MaxRedirects int
}

// Head is a response's status and headers.
type Head struct {
	Code   int
	Reason string
	Header []zhttp.Header
}

// URI is a parsed absolute http(s)/ws(s) URI.
type URI struct {
	Scheme string
	Host   string // without brackets
	Port   int
	// Target is the request target exactly as written (path and query),
	// "/" when empty.
	Target string
	// HostHeader is host[:port], the port only when not the default.
	HostHeader string
}

// ParseURI parses an absolute URI with one of the given schemes; the
// default port of "https" and "wss" is 443, of the others 80.
func ParseURI(s string, schemes ...string) (*URI, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	scheme := strings.ToLower(u.Scheme)
	ok := false
	for _, sc := range schemes {
		ok = ok || scheme == sc
	}
	if !ok {
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("uri has no host")
	}
	def := 80
	if scheme == "https" || scheme == "wss" {
		def = 443
	}
	port := def
	if ps := u.Port(); ps != "" {
		p, err := strconv.Atoi(ps)
		if err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("bad port %q", ps)
		}
		port = p
	}
	hh := host
	if strings.IndexByte(host, ':') >= 0 {
		hh = "[" + host + "]"
	}
	if port != def {
		hh += ":" + strconv.Itoa(port)
	}
	return &URI{Scheme: scheme, Host: host, Port: port, Target: rawTarget(s), HostHeader: hh}, nil
}

// rawTarget returns the path and query of an absolute URI exactly as
// written: everything after the authority, without the fragment.
func rawTarget(s string) string {
	i := strings.Index(s, "://")
	rest := s[i+3:]
	j := strings.IndexAny(rest, "/?#")
	if j < 0 {
		return "/"
	}
	rest = rest[j:]
	if k := strings.IndexByte(rest, '#'); k >= 0 {
		rest = rest[:k]
	}
	if rest == "" || rest[0] == '?' {
		rest = "/" + rest
	}
	return rest
}

// Exchange is one request in flight. Its goroutines belong to it: Close
// stops them and waits. Progress is signalled on Notify (a one-slot channel,
// so signals coalesce); the owner then inspects Head, Read, Done, Err and
// TakeWritten.
type Exchange struct {
	c      *Client
	req    Request
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	notify chan struct{}

	mu        sync.Mutex
	head      *Head
	buf       []byte // decoded body; bytes before off are consumed
	off       int
	eof       bool
	err       *Error
	written   int
	space     chan struct{} // consumer took bytes: reader may continue
	conn      *pconn
	bodyQ     [][]byte      // streamed request body waiting for the writer
	bodyQLen  int           // bytes in bodyQ
	bodyEnd   bool          // EndBody called
	bodyWake  chan struct{} // writer: bodyQ changed
	bodyDone  bool          // writer finished writing the whole body
	replay    []byte        // request body kept for redirects
	replayBad bool          // body too large to replay
}

// Start begins a request. The exchange runs until the response has been
// read completely, it fails, or Close is called.
func (c *Client) Start(req Request) *Exchange {
	ctx, cancel := context.WithCancel(context.Background())
	x := &Exchange{
		c: c, req: req, ctx: ctx, cancel: cancel,
		notify:   make(chan struct{}, 1),
		space:    make(chan struct{}, 1),
		bodyWake: make(chan struct{}, 1),
	}
	if len(req.Body) > 0 {
		x.keepReplay(req.Body)
	}
	x.wg.Add(1)
	go x.run() // owner: x; Close waits via x.wg
	return x
}

// Notify is signalled whenever the exchange has news.
func (x *Exchange) Notify() <-chan struct{} { return x.notify }

func (x *Exchange) signal() {
	select {
	case x.notify <- struct{}{}:
	default:
	}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Head returns the response head once it has arrived.
func (x *Exchange) Head() *Head {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.head
}

// Buffered reports how many decoded body bytes are waiting.
func (x *Exchange) Buffered() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.buf) - x.off
}

// Read takes up to max buffered body bytes (all of them when max < 0).
func (x *Exchange) Read(max int) []byte {
	out := x.ReadAppend(nil, max)
	if len(out) == 0 {
		return nil
	}
	return out
}

// ReadAppend appends up to max buffered body bytes (all when max < 0) to
// dst, so a caller can reuse one buffer for every packet.
func (x *Exchange) ReadAppend(dst []byte, max int) []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := len(x.buf) - x.off
	if max >= 0 && max < n {
		n = max
	}
	if n == 0 {
		return dst
	}
	dst = append(dst, x.buf[x.off:x.off+n]...)
	x.off += n
	if x.off == len(x.buf) {
		x.buf, x.off = x.buf[:0], 0
	}
	wake(x.space)
	return dst
}

// Consume hands fn up to max buffered body bytes (all when max < 0) and
// drops them if fn returns true: a view into the exchange's buffer, valid
// only during the call, so a caller that encodes them into a packet copies
// each byte once. more reports whether anything follows them (bytes
// already buffered, or a response not yet complete). fn runs with the
// exchange locked; the reader waits meanwhile, so fn must not call back
// into x.
func (x *Exchange) Consume(max int, fn func(b []byte, more bool) bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := len(x.buf) - x.off
	if max >= 0 && max < n {
		n = max
	}
	if !fn(x.buf[x.off:x.off+n], len(x.buf)-x.off-n > 0 || !x.eof) {
		return
	}
	x.off += n
	if x.off == len(x.buf) {
		x.buf, x.off = x.buf[:0], 0
	}
	if n > 0 {
		wake(x.space)
	}
}

// Pending reports, consistently, how many decoded body bytes are waiting
// and whether the whole response has been received.
func (x *Exchange) Pending() (buffered int, done bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.buf) - x.off, x.eof
}

// Done reports whether the whole response has been received (the body may
// still be buffered).
func (x *Exchange) Done() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.eof
}

// Err returns the failure, if the exchange failed.
func (x *Exchange) Err() *Error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

// TakeWritten returns the request body bytes written to the origin since
// the last call (zurl grants them back as credits).
func (x *Exchange) TakeWritten() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := x.written
	x.written = 0
	return n
}

// WriteBody queues more request body (Request.More). The caller paces it
// with credits; queued bytes beyond four times BufferSize fail the exchange,
// which only a peer ignoring its credits can cause.
func (x *Exchange) WriteBody(p []byte) {
	if len(p) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.bodyEnd || x.err != nil {
		return
	}
	if x.bodyQLen+len(p) > 4*BufferSize {
		x.failLocked(condErr(zhttp.CondUndefined, "request body queue overflow: the initiator exceeded its credits"))
		return
	}
	x.bodyQ = append(x.bodyQ, p)
	x.bodyQLen += len(p)
	wake(x.bodyWake)
}

// EndBody marks the end of the request body.
func (x *Exchange) EndBody() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.bodyEnd = true
	wake(x.bodyWake)
}

// Close aborts the exchange (if still running) and waits for its
// goroutines.
func (x *Exchange) Close() {
	x.cancel()
	x.mu.Lock()
	if x.conn != nil {
		x.conn.Close()
		x.conn = nil
	}
	x.mu.Unlock()
	x.wg.Wait()
}

func (x *Exchange) fail(e *Error) {
	x.mu.Lock()
	x.failLocked(e)
	x.mu.Unlock()
}

func (x *Exchange) failLocked(e *Error) {
	if x.err == nil && !x.eof {
		x.err = e
	}
	if x.conn != nil {
		x.conn.Close()
		x.conn = nil
	}
	x.signal()
}

func (x *Exchange) keepReplay(p []byte) {
	if x.replayBad {
		return
	}
	if len(x.replay)+len(p) > replayMax {
		x.replay, x.replayBad = nil, true
		return
	}
	x.replay = append(x.replay, p...)
}

// waitBodyStart blocks until body data is queued or the body ends; it
// reports whether data arrived.
func (x *Exchange) waitBodyStart() (bool, error) {
	for {
		x.mu.Lock()
		has, end := x.bodyQLen > 0, x.bodyEnd
		x.mu.Unlock()
		if has || end {
			return has, nil
		}
		select {
		case <-x.bodyWake:
		case <-x.ctx.Done():
			return false, x.ctx.Err()
		}
	}
}

// methodBody reports libcurl's view of a method: whether it always carries
// a body (upload mode, so Content-Length: 0 when empty) and whether zurl
// delays the request until it knows if a streamed body is coming.
func methodBody(m string) (alwaysSetBody, deferStart bool) {
	switch m {
	case "GET", "OPTIONS", "DELETE", "HEAD":
		return false, true
	}
	return true, false
}

func (x *Exchange) run() {
	defer x.wg.Done()
	req := &x.req
	willWriteBody := len(req.Body) > 0 || req.More
	if req.Method == "HEAD" && len(req.Body) > 0 {
		x.fail(condErr(zhttp.CondContentNotAllowed, "HEAD request with a body"))
		return
	}
	if _, deferStart := methodBody(req.Method); deferStart && req.More && len(req.Body) == 0 {
		// zurl waits to see whether a body is really coming before it picks
		// between chunked framing and none.
		has, err := x.waitBodyStart()
		if err != nil {
			return
		}
		if has && req.Method == "HEAD" {
			x.fail(condErr(zhttp.CondContentNotAllowed, "HEAD request with a body"))
			return
		}
		willWriteBody = has
	}

	u, err := ParseURI(req.URI, "http", "https")
	if err != nil {
		x.fail(condErr(zhttp.CondBadRequest, "uri %q: %v", req.URI, err))
		return
	}
	for redirects := 0; ; redirects++ {
		loc, err := x.roundTrip(u, willWriteBody, redirects > 0)
		if err != nil {
			x.fail(asError(err))
			return
		}
		if loc == "" {
			return
		}
		if redirects >= req.MaxRedirects {
			x.fail(condErr(zhttp.CondTooManyRedirects, "more than %d redirects", req.MaxRedirects))
			return
		}
		next, err := resolveLocation(u, loc)
		if err != nil {
			x.fail(condErr(zhttp.CondUndefined, "redirect to %q: %v", loc, err))
			return
		}
		u = next
	}
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Condition: zhttp.CondUndefined, Err: err}
}

func resolveLocation(base *URI, loc string) (*URI, error) {
	b, err := url.Parse(base.Scheme + "://" + base.HostHeader + base.Target)
	if err != nil {
		return nil, err
	}
	l, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return ParseURI(b.ResolveReference(l).String(), "http", "https")
}

// buildHead renders the request head the way libcurl does for zurl.
func (x *Exchange) buildHead(u *URI, willWriteBody bool) (head []byte, chunked bool) {
	req := &x.req
	alwaysSetBody, _ := methodBody(req.Method)
	var b bytes.Buffer
	b.WriteString(req.Method)
	b.WriteByte(' ')
	b.WriteString(u.Target)
	b.WriteString(" HTTP/1.1\r\n")

	host := u.HostHeader
	hasAccept := false
	contentLength := ""
	for _, h := range req.Header {
		switch {
		case strings.EqualFold(h.Name, "Host"):
			host = h.Value
		case strings.EqualFold(h.Name, "Accept"):
			hasAccept = hasAccept || strings.TrimSpace(h.Value) != ""
		case strings.EqualFold(h.Name, "Content-Length"):
			contentLength = strings.TrimSpace(h.Value)
		}
	}
	b.WriteString("Host: ")
	b.WriteString(host)
	b.WriteString("\r\n")
	if !hasAccept {
		b.WriteString("Accept: */*\r\n")
	}
	b.WriteString("Accept-Encoding: " + AcceptEncoding + "\r\n")
	for _, h := range req.Header {
		if dropRequestHeader(h.Name) || strings.TrimSpace(h.Value) == "" {
			continue
		}
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(h.Value)
		b.WriteString("\r\n")
	}
	switch {
	case contentLength != "" && (willWriteBody || alwaysSetBody):
		b.WriteString("Content-Length: " + contentLength + "\r\n")
	case contentLength == "" && willWriteBody:
		b.WriteString("Transfer-Encoding: chunked\r\n")
		chunked = true
	case contentLength == "" && alwaysSetBody:
		b.WriteString("Content-Length: 0\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes(), chunked
}

// dropRequestHeader lists the headers zurl removes ("transport headers")
// plus those libcurl writes itself.
func dropRequestHeader(name string) bool {
	for _, n := range [...]string{"Host", "Connection", "Keep-Alive", "Accept-Encoding",
		"Content-Encoding", "Transfer-Encoding", "Expect", "Content-Length"} {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

func (x *Exchange) target(u *URI) *Target {
	req := &x.req
	return &Target{Host: u.Host, Port: u.Port, TLS: u.Scheme == "https",
		ConnectHost: req.ConnectHost, ConnectPort: req.ConnectPort,
		IgnorePolicies: req.IgnorePolicies, TrustConnectHost: req.TrustConnectHost,
		IgnoreTLSErrors: req.IgnoreTLSErrors}
}

// roundTrip sends the request to u and reads the response. It returns the
// Location to follow for a redirect, or "" once the response has been
// delivered (head and body into the exchange).
func (x *Exchange) roundTrip(u *URI, willWriteBody, replaying bool) (string, error) {
	t := x.target(u)
	head, chunked := x.buildHead(u, willWriteBody)
	if replaying && willWriteBody {
		x.mu.Lock()
		bad := x.replayBad || (x.req.More && !x.bodyDone)
		x.mu.Unlock()
		if bad {
			return "", condErr(zhttp.CondUndefined, "cannot resend a streamed request body on redirect")
		}
	}

	for attempt := 0; ; attempt++ {
		pc, err := x.connect(t)
		if err != nil {
			return "", err
		}
		streaming := x.req.More && willWriteBody && !replaying
		if err := x.writeRequest(pc, head, chunked, willWriteBody, replaying, streaming); err != nil {
			x.dropConn(pc)
			if pc.reused && attempt == 0 && !streaming {
				continue
			}
			return "", condErr(zhttp.CondUndefined, "writing request: %v", err)
		}
		if streaming {
			x.wg.Add(1)
			go x.writeStreamedBody(pc, chunked) // owner: x; Close waits via x.wg
		}
		h, n, err := readHead(pc.br, x.req.MaxRedirects >= 0)
		if err != nil {
			x.dropConn(pc)
			// A pooled connection the origin closed meanwhile: retry once
			// on a fresh one, as libcurl does, if nothing was received.
			if pc.reused && attempt == 0 && n == 0 && !streaming && x.ctx.Err() == nil {
				continue
			}
			if x.ctx.Err() != nil {
				return "", x.ctx.Err()
			}
			return "", condErr(zhttp.CondUndefined, "reading response head: %v", err)
		}
		if h.location != "" {
			// Discard the redirect's body; keep the connection if it can be.
			body, reusable := bodyReader(pc.br, x.req.Method, h)
			_, err := io.Copy(io.Discard, io.LimitReader(body, 1<<20))
			if err == nil && reusable && x.requestFinished(streaming) {
				x.releaseConn(pc)
			} else {
				x.dropConn(pc)
			}
			return h.location, nil
		}
		return "", x.readResponse(pc, h, streaming)
	}
}

func (x *Exchange) requestFinished(streaming bool) bool {
	if !streaming {
		return true
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.bodyDone
}

func (x *Exchange) connect(t *Target) (*pconn, error) {
	key := t.key()
	pc := x.c.pool.get(key)
	if pc == nil {
		c, err := x.c.d.dial(x.ctx, t, skipDenied)
		if err != nil {
			return nil, err
		}
		pc = &pconn{Conn: c, br: bufio.NewReaderSize(c, 32*1024), key: key, created: time.Now()}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ctx.Err() != nil {
		pc.Close()
		return nil, x.ctx.Err()
	}
	x.conn = pc
	return pc, nil
}

func (x *Exchange) dropConn(pc *pconn) {
	pc.Close()
	x.mu.Lock()
	if x.conn == pc {
		x.conn = nil
	}
	x.mu.Unlock()
}

func (x *Exchange) releaseConn(pc *pconn) {
	x.mu.Lock()
	if x.conn == pc {
		x.conn = nil
	}
	x.mu.Unlock()
	x.c.pool.put(pc)
}

// writeRequest writes the head and the body known so far (all of it unless
// streaming).
func (x *Exchange) writeRequest(pc *pconn, head []byte, chunked, willWriteBody, replaying, streaming bool) error {
	var body []byte
	if willWriteBody {
		if replaying {
			body = x.replay
		} else {
			body = x.req.Body
		}
	}
	var b bytes.Buffer
	b.Grow(len(head) + len(body) + 32)
	b.Write(head)
	if len(body) > 0 {
		if chunked {
			fmt.Fprintf(&b, "%x\r\n", len(body))
		}
		b.Write(body)
		if chunked {
			b.WriteString("\r\n")
		}
	}
	if chunked && !streaming {
		b.WriteString("0\r\n\r\n")
	}
	if _, err := pc.Write(b.Bytes()); err != nil {
		return err
	}
	if streaming && len(body) > 0 {
		x.mu.Lock()
		x.written += len(body)
		x.mu.Unlock()
		x.signal()
	}
	return nil
}

// writeStreamedBody writes queued request body chunks until EndBody.
func (x *Exchange) writeStreamedBody(pc *pconn, chunked bool) {
	defer x.wg.Done()
	for {
		x.mu.Lock()
		q, end := x.bodyQ, x.bodyEnd
		x.bodyQ, x.bodyQLen = nil, 0
		x.mu.Unlock()
		for _, p := range q {
			var err error
			if chunked {
				_, err = fmt.Fprintf(pc, "%x\r\n%s\r\n", len(p), p)
			} else {
				_, err = pc.Write(p)
			}
			if err != nil {
				// The reader sees the broken connection too and reports
				// it, unless the origin already answered.
				return
			}
			x.mu.Lock()
			x.written += len(p)
			x.keepReplay(p)
			x.mu.Unlock()
			x.signal()
		}
		if end && len(q) == 0 {
			if chunked {
				if _, err := io.WriteString(pc, "0\r\n\r\n"); err != nil {
					return
				}
			}
			x.mu.Lock()
			x.bodyDone = true
			x.mu.Unlock()
			return
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-x.bodyWake:
		case <-x.ctx.Done():
			return
		}
	}
}

// readResponse publishes the head and pumps the body into the buffer,
// holding at most BufferSize bytes.
func (x *Exchange) readResponse(pc *pconn, h *respHead, streaming bool) error {
	body, reusable := bodyReader(pc.br, x.req.Method, h)
	var dec io.Reader = body
	var closer io.Closer
	if enc := h.contentEncoding; enc != "" && !strings.EqualFold(enc, "identity") {
		// zurl drops Content-Length whenever a coding is announced: the
		// length it states is that of the encoded body.
		h.head.Header = removeHeader(h.head.Header, "Content-Length")
		d, c, err := newDecoder(enc, body)
		if err != nil {
			return condErr(zhttp.CondUndefined, "content-encoding %q: %v", enc, err)
		}
		if d != nil {
			dec, closer = d, c
		}
	}
	if closer != nil {
		defer closer.Close()
	}
	x.mu.Lock()
	x.head = &h.head
	x.mu.Unlock()
	// Announce the head at once only if the body is not already here:
	// zurl's update runs after libcurl has handed over what arrived with
	// the head, so a small response goes out as one packet.
	if pc.br.Buffered() == 0 && !exhausted(body) {
		x.signal()
	}

	// The read buffer starts small and doubles while reads fill it, up to
	// BufferSize (libcurl gives every transfer a CURLOPT_BUFFERSIZE
	// buffer): a fast origin then travels in large packets, which is what
	// keeps the initiator's per-packet cost low, while small responses
	// never hold a large buffer.
	sp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(sp)
	scratch := *sp
	for {
		x.mu.Lock()
		if x.off > 0 && x.off >= len(x.buf)/2 {
			// Compact only when the consumed part dominates, so each byte
			// moves a bounded number of times.
			x.buf = x.buf[:copy(x.buf, x.buf[x.off:])]
			x.off = 0
		}
		room := BufferSize - (len(x.buf) - x.off)
		x.mu.Unlock()
		if room <= 0 {
			select {
			case <-x.space:
				continue
			case <-x.ctx.Done():
				return x.ctx.Err()
			}
		}
		n, err := dec.Read(scratch[:min(room, len(scratch))])
		if n > 0 {
			x.mu.Lock()
			x.buf = append(x.buf, scratch[:n]...)
			full := len(x.buf)-x.off >= BufferSize
			x.mu.Unlock()
			if n == len(scratch) && len(scratch) < BufferSize {
				scratch = make([]byte, min(2*len(scratch), BufferSize))
			}
			// Keep reading what is already here (and the end of a body
			// whose length is used up) before telling the session, so the
			// final data and the end of the response travel together.
			if err == nil && !full && (pc.br.Buffered() > 0 || exhausted(body)) {
				continue
			}
			// Data that came with the end (or a failure) is announced
			// below, once eof (or the error) is recorded: the session must
			// never see the last bytes without the end.
			if err == nil {
				x.signal()
			}
		}
		if err == io.EOF {
			x.mu.Lock()
			x.eof = true
			if x.conn == pc {
				x.conn = nil
			}
			x.mu.Unlock()
			if reusable && x.requestFinished(streaming) {
				x.c.pool.put(pc)
			} else {
				pc.Close()
			}
			x.signal()
			return nil
		}
		if err != nil {
			if x.ctx.Err() != nil {
				return x.ctx.Err()
			}
			return condErr(zhttp.CondUndefined, "reading response body: %v", err)
		}
	}
}

func removeHeader(hs []zhttp.Header, name string) []zhttp.Header {
	out := hs[:0]
	for _, h := range hs {
		if !strings.EqualFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}

// scratchPool holds the first read buffer of each response: a proxied
// small GET would otherwise allocate 16 KiB per request. Buffers grown
// beyond it are left to the garbage collector.
var scratchPool = sync.Pool{New: func() any {
	b := make([]byte, 16*1024)
	return &b
}}

// exhausted reports a fixed-length body whose bytes have all been read.
func exhausted(r io.Reader) bool {
	switch b := r.(type) {
	case *lengthReader:
		return b.n <= 0
	case eofReader:
		return true
	}
	return false
}
