package harness

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// RecordedRequest is a request an Origin received.
type RecordedRequest struct {
	Method string
	// RequestURI is the path and query as sent.
	RequestURI string
	Host       string
	Header     http.Header
	Body       []byte
}

// maxRecorded bounds the Origin's request log; later requests are counted
// in Dropped rather than blocking the server.
const maxRecorded = 1024

// Origin is a scriptable origin (backend) HTTP server on 127.0.0.1 for
// Pushpin to forward to. Handlers are chosen by exact path, falling back to
// the handler for "/" (404 if none). Every request is recorded before its
// handler runs.
type Origin struct {
	Server *httptest.Server
	// URL is "http://127.0.0.1:port"; Addr "127.0.0.1:port".
	URL, Addr string
	Port      int

	mu       sync.Mutex
	handlers map[string]http.Handler

	requests chan RecordedRequest
	dropped  atomic.Int64
}

// NewOrigin starts an origin; tb's cleanup closes it (forcibly closing
// streams still open, so a held request cannot block the cleanup).
func NewOrigin(tb testing.TB) *Origin {
	tb.Helper()
	o := &Origin{handlers: map[string]http.Handler{}, requests: make(chan RecordedRequest, maxRecorded)}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	o.URL = o.Server.URL
	o.Addr = o.Server.Listener.Addr().String()
	o.Port = o.Server.Listener.Addr().(*net.TCPAddr).Port
	tb.Cleanup(func() {
		o.Server.CloseClientConnections()
		o.Server.Close()
	})
	return o
}

// Target is the origin as a routes-file target ("127.0.0.1:port").
func (o *Origin) Target() string { return "127.0.0.1:" + strconv.Itoa(o.Port) }

// WSURL is the origin's WebSocket base URL ("ws://127.0.0.1:port").
func (o *Origin) WSURL() string { return "ws://" + o.Addr }

// Handle sets the handler for an exact path ("/" is also the fallback).
// It may be called while requests are being served.
func (o *Origin) Handle(path string, h http.Handler) {
	o.mu.Lock()
	o.handlers[path] = h
	o.mu.Unlock()
}

// HandleFunc is Handle for a function.
func (o *Origin) HandleFunc(path string, f func(http.ResponseWriter, *http.Request)) {
	o.Handle(path, http.HandlerFunc(f))
}

func (o *Origin) serve(w http.ResponseWriter, r *http.Request) {
	rec := RecordedRequest{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()}
	if r.Body != nil && !isUpgrade(r) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		rec.Body = body
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	select {
	case o.requests <- rec:
	default:
		o.dropped.Add(1)
	}
	o.mu.Lock()
	h := o.handlers[r.URL.Path]
	if h == nil {
		h = o.handlers["/"]
	}
	o.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// NextRequest returns the next recorded request, failing the test after
// timeout.
func (o *Origin) NextRequest(tb testing.TB, timeout time.Duration) RecordedRequest {
	tb.Helper()
	select {
	case r := <-o.requests:
		return r
	case <-time.After(timeout):
		tb.Fatalf("origin: no request within %v", timeout)
		return RecordedRequest{}
	}
}

// Dropped counts requests not recorded because the log was full.
func (o *Origin) Dropped() int64 { return o.dropped.Load() }

// Text answers with a fixed status and body (Content-Type text/plain unless
// the headers say otherwise). headers are name, value pairs.
func Text(code int, body string, headers ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPairs(w.Header(), headers)
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "text/plain")
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	})
}

func setPairs(h http.Header, pairs []string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
}

// GripHold answers with GRIP headers that make Pushpin hold the request on
// channel: mode is "response" (long-poll) or "stream"; body is the initial
// body (stream) or the timeout response (response). extra are more header
// pairs (e.g. "Grip-Keep-Alive", "\n; format=cstring; timeout=20").
func GripHold(mode, channel, contentType, body string, extra ...string) http.Handler {
	return Text(http.StatusOK, body, append([]string{
		"Grip-Hold", mode,
		"Grip-Channel", channel,
		"Content-Type", contentType,
	}, extra...)...)
}

// GripInstruct answers with an application/grip-instruct body (reference
// §5.4), JSON-encoding instruct.
func GripInstruct(instruct any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := json.Marshal(instruct)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/grip-instruct")
		w.Write(b)
	})
}

// StreamFrom answers 200 with a chunked body: each string received from
// chunks is written and flushed; the response ends when chunks is closed or
// the client goes away.
func StreamFrom(contentType string, chunks <-chan string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		flush(w)
		for {
			select {
			case c, ok := <-chunks:
				if !ok {
					return
				}
				if _, err := io.WriteString(w, c); err != nil {
					return
				}
				flush(w)
			case <-r.Context().Done():
				return
			}
		}
	})
}

// StreamChunks answers 200 with the given chunks, each flushed separately.
func StreamChunks(contentType string, chunks ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		for _, c := range chunks {
			if _, err := io.WriteString(w, c); err != nil {
				return
			}
			flush(w)
		}
	})
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// WSOptions configures WebSocket.
type WSOptions struct {
	// Subprotocols the origin accepts (in preference order).
	Subprotocols []string
	// ResponseHeader is added to the 101 response.
	ResponseHeader http.Header
}

// WebSocket upgrades the request (any Origin accepted) and runs fn with the
// connection; the connection is closed when fn returns.
func WebSocket(opts WSOptions, fn func(c *websocket.Conn, r *http.Request)) http.Handler {
	up := websocket.Upgrader{
		Subprotocols:     opts.Subprotocols,
		CheckOrigin:      func(*http.Request) bool { return true },
		HandshakeTimeout: 5 * time.Second,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, opts.ResponseHeader)
		if err != nil {
			return // the upgrader has answered the client
		}
		defer c.Close()
		fn(c, r)
	})
}

// WSEcho echoes every text and binary message with prefix prepended,
// answers pings with pongs carrying the same payload (gorilla's default),
// and answers a close with the same code.
func WSEcho(prefix string) http.Handler {
	return WebSocket(WSOptions{}, func(c *websocket.Conn, r *http.Request) {
		for i := 0; i < 1_000_000; i++ {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return // close (echoed by gorilla's close handler) or error
			}
			if err := c.WriteMessage(typ, append([]byte(prefix), msg...)); err != nil {
				return
			}
		}
	})
}
