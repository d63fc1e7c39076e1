package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
)

// DefaultClientTimeout bounds every client helper call that has no explicit
// timeout.
const DefaultClientTimeout = 10 * time.Second

// Response is a fully read HTTP response.
type Response struct {
	Status           int
	Proto            string
	Header           http.Header
	ContentLength    int64
	TransferEncoding []string
	Body             []byte
}

// NewClient returns an HTTP client that talks to loopback directly (no
// proxy from the environment) and does not keep connections, so tests leave
// no idle connection goroutines behind.
func NewClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Do sends req and reads the whole response within DefaultClientTimeout.
func Do(tb testing.TB, req *http.Request) *Response {
	tb.Helper()
	resp, err := DoErr(req, DefaultClientTimeout)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp
}

// DoErr sends req and reads the whole response within timeout.
func DoErr(req *http.Request, timeout time.Duration) (*Response, error) {
	resp, err := NewClient(timeout).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return &Response{
		Status: resp.StatusCode, Proto: resp.Proto, Header: resp.Header,
		ContentLength: resp.ContentLength, TransferEncoding: resp.TransferEncoding, Body: body,
	}, nil
}

// Get GETs url with optional header pairs (name, value, …; "Host" sets the
// request's Host).
func Get(tb testing.TB, url string, headers ...string) *Response {
	tb.Helper()
	return Do(tb, NewRequest(tb, http.MethodGet, url, nil, headers...))
}

// Post POSTs body to url with optional header pairs.
func Post(tb testing.TB, url, contentType string, body []byte, headers ...string) *Response {
	tb.Helper()
	return Do(tb, NewRequest(tb, http.MethodPost, url, body, append([]string{"Content-Type", contentType}, headers...)...))
}

// NewRequest builds a request; header pairs are name, value, … and "Host"
// sets the request's Host.
func NewRequest(tb testing.TB, method, url string, body []byte, headers ...string) *http.Request {
	tb.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		tb.Fatalf("new request %s %s: %v", method, url, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	return req
}

// RawHTTP writes a raw request to addr and reads until the server closes
// the connection or timeout passes, returning what was read. Use it to see
// exactly how a response is framed (Content-Length vs chunked); send
// "Connection: close" so the read ends.
func RawHTTP(addr, request string, timeout time.Duration) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, request); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, io.EOF) {
		return b, err
	}
	return b, nil
}

// Stream is an open streaming HTTP response read by a background goroutine.
type Stream struct {
	Resp   *http.Response
	chunks chan []byte
	errc   chan error // receives the read loop's final error, then closed
	cancel context.CancelFunc
	buf    []byte
	done   chan struct{}
}

// OpenStream starts a request and returns once the response headers have
// arrived (within DefaultClientTimeout). The body is read in the
// background; tb's cleanup closes the stream.
func OpenStream(tb testing.TB, req *http.Request) *Stream {
	tb.Helper()
	s, err := OpenStreamErr(req, DefaultClientTimeout)
	if err != nil {
		tb.Fatalf("open stream %s: %v", req.URL, err)
	}
	tb.Cleanup(s.Close)
	return s
}

// OpenStreamErr is OpenStream without a testing.TB; the caller must Close.
func OpenStreamErr(req *http.Request, headerTimeout time.Duration) (*Stream, error) {
	ctx, cancel := context.WithCancel(req.Context())
	client := NewClient(0)
	timer := time.AfterFunc(headerTimeout, cancel)
	resp, err := client.Do(req.WithContext(ctx))
	stopped := timer.Stop()
	if err != nil {
		cancel()
		return nil, err
	}
	if !stopped {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("no response headers within %v", headerTimeout)
	}
	s := &Stream{Resp: resp, chunks: make(chan []byte, 256), errc: make(chan error, 1), cancel: cancel, done: make(chan struct{})}
	// Owner: the Stream; Close cancels the request and waits on s.done.
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		for {
			b := make([]byte, 32<<10)
			n, err := resp.Body.Read(b)
			if n > 0 {
				select {
				case s.chunks <- b[:n]:
				case <-ctx.Done():
					s.errc <- ctx.Err()
					return
				}
			}
			if err != nil {
				s.errc <- err
				return
			}
		}
	}()
	return s, nil
}

// ReadUntil reads until the data received so far (since the last ReadUntil
// returned) contains want, and returns it up to and including want. It
// returns an error after timeout or if the stream ends first.
func (s *Stream) ReadUntil(want string, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if i := bytes.Index(s.buf, []byte(want)); i >= 0 {
			out := string(s.buf[:i+len(want)])
			s.buf = s.buf[i+len(want):]
			return out, nil
		}
		select {
		case c := <-s.chunks:
			s.buf = append(s.buf, c...)
		case err := <-s.errc:
			s.errc <- err // keep it for later calls
			s.drain()
			if i := bytes.Index(s.buf, []byte(want)); i >= 0 {
				out := string(s.buf[:i+len(want)])
				s.buf = s.buf[i+len(want):]
				return out, nil
			}
			return string(s.buf), fmt.Errorf("stream ended before %q: %w", want, err)
		case <-deadline.C:
			return string(s.buf), fmt.Errorf("no %q within %v (have %q)", want, timeout, truncate(s.buf, 200))
		}
	}
}

// drain moves chunks queued before the reader's final error into buf; the
// reader sends every chunk before its error, so none can arrive later.
func (s *Stream) drain() {
	for {
		select {
		case c := <-s.chunks:
			s.buf = append(s.buf, c...)
		default:
			return
		}
	}
}

// ReadAll reads until the stream ends or timeout passes and returns what
// was not yet consumed.
func (s *Stream) ReadAll(timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case c := <-s.chunks:
			s.buf = append(s.buf, c...)
		case err := <-s.errc:
			s.errc <- err
			s.drain()
			out := string(s.buf)
			s.buf = nil
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		case <-deadline.C:
			return string(s.buf), fmt.Errorf("stream did not end within %v", timeout)
		}
	}
}

// Close aborts the request and waits for the reader goroutine.
func (s *Stream) Close() {
	s.cancel()
	<-s.done
}

// SSEEvent is one Server-Sent Event.
type SSEEvent struct {
	Event, ID, Data string
}

// NextEvent reads the next complete event (terminated by a blank line) from
// an SSE stream. Comment lines (": …", used for keep-alives) are skipped.
func (s *Stream) NextEvent(timeout time.Duration) (SSEEvent, error) {
	deadline := time.Now().Add(timeout)
	for {
		block, err := s.ReadUntil("\n\n", time.Until(deadline))
		if err != nil {
			return SSEEvent{}, err
		}
		ev, ok := parseSSE(block)
		if ok {
			return ev, nil
		}
	}
}

func parseSSE(block string) (SSEEvent, bool) {
	var ev SSEEvent
	var data []string
	any := false
	sc := bufio.NewScanner(strings.NewReader(block))
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, ":") {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		any = true
		switch name {
		case "event":
			ev.Event = value
		case "id":
			ev.ID = value
		case "data":
			data = append(data, value)
		}
	}
	ev.Data = strings.Join(data, "\n")
	return ev, any
}

// WSConn is a client WebSocket connection with deadline-bounded reads.
type WSConn struct {
	*websocket.Conn
	// Resp is the handshake response (status 101, headers).
	Resp *http.Response
}

// DialWS opens a WebSocket to url with optional header pairs; tb's cleanup
// closes it. It fails the test if the handshake fails.
func DialWS(tb testing.TB, url string, headers ...string) *WSConn {
	tb.Helper()
	c, resp, err := DialWSErr(url, DefaultClientTimeout, headers...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		tb.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// DialWSErr dials without a testing.TB; the caller must Close. resp is the
// handshake response, also on failure when one was received.
func DialWSErr(url string, timeout time.Duration, headers ...string) (*WSConn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: timeout, Proxy: nil}
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Add(headers[i], headers[i+1])
	}
	c, resp, err := d.Dial(url, h)
	if err != nil {
		return nil, resp, err
	}
	return &WSConn{Conn: c, Resp: resp}, resp, nil
}

// Read reads the next data message within timeout.
func (c *WSConn) Read(timeout time.Duration) (int, []byte, error) {
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return 0, nil, err
	}
	return c.ReadMessage()
}

// WriteText sends a text message within DefaultClientTimeout.
func (c *WSConn) WriteText(s string) error {
	if err := c.SetWriteDeadline(time.Now().Add(DefaultClientTimeout)); err != nil {
		return err
	}
	return c.WriteMessage(websocket.TextMessage, []byte(s))
}

// WriteBinary sends a binary message within DefaultClientTimeout.
func (c *WSConn) WriteBinary(b []byte) error {
	if err := c.SetWriteDeadline(time.Now().Add(DefaultClientTimeout)); err != nil {
		return err
	}
	return c.WriteMessage(websocket.BinaryMessage, b)
}

// Publish POSTs items to the handler's HTTP control API ({"items": […]} to
// controlURL/publish/) and fails the test unless it answers 200.
func Publish(tb testing.TB, controlURL string, items ...map[string]any) {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"items": items})
	if err != nil {
		tb.Fatalf("publish: %v", err)
	}
	resp := Post(tb, strings.TrimSuffix(controlURL, "/")+"/publish/", "application/json", body)
	if resp.Status != http.StatusOK {
		tb.Fatalf("publish: status %d: %s", resp.Status, resp.Body)
	}
}

// HTTPStreamItem is a publish item for HTTP streaming subscribers.
func HTTPStreamItem(channel, content string) map[string]any {
	return map[string]any{"channel": channel, "formats": map[string]any{"http-stream": map[string]any{"content": content}}}
}

// HTTPResponseItem is a publish item for long-polling subscribers.
func HTTPResponseItem(channel, body string) map[string]any {
	return map[string]any{"channel": channel, "formats": map[string]any{"http-response": map[string]any{"body": body}}}
}

// WSMessageItem is a publish item for WebSocket subscribers.
func WSMessageItem(channel, content string) map[string]any {
	return map[string]any{"channel": channel, "formats": map[string]any{"ws-message": map[string]any{"content": content}}}
}

// PublishZMQ pushes items to the handler's ZeroMQ PULL endpoint
// (push_in_spec, reference §6.4) as 'J'+JSON messages, one per item. There
// is no reply, so a test checks delivery on the subscriber side. The call
// returns once libzmq has delivered the messages (or after
// DefaultClientTimeout of trying).
func PublishZMQ(tb testing.TB, spec string, items ...map[string]any) {
	tb.Helper()
	zc, err := zmqx.NewContext()
	if err != nil {
		tb.Fatalf("publish: %v", err)
	}
	// The socket is used by this goroutine only, then closed with a
	// linger so that terminating the context waits for delivery.
	sock, err := zc.NewSocket(zmq4.PUSH)
	if err == nil {
		err = zmqx.ConnectAll(sock, []string{spec})
		for _, it := range items {
			if err != nil {
				break
			}
			var b []byte
			if b, err = json.Marshal(it); err == nil {
				_, err = sock.SendBytes(append([]byte{'J'}, b...), 0)
			}
		}
		if lerr := sock.SetLinger(DefaultClientTimeout); err == nil {
			err = lerr
		}
		sock.Close()
	}
	if cerr := zc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatalf("publish to %s: %v", spec, err)
	}
}
