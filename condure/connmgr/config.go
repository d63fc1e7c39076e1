// Package connmgr is condure: the client-facing connection manager of
// Pushpin. It accepts HTTP/1.x and WebSocket clients on TCP, TLS and unix
// sockets and turns each request into a ZHTTP session, as the initiator,
// towards pushpin-proxy and pushpin-handler (reference §1.5 and §2):
// stream mode over PUSH/ROUTER/SUB, req mode over DEALER.
//
// The invariant a reader must know: each client connection is served by at
// most one goroutine at a time, which owns all of its state (buffers, the
// HTTP/WebSocket state machine, inbound sequence numbers and credits). An
// idle held stream or WebSocket parks with no goroutine at all (its socket
// in the poller's epoll set) and is resumed on a new goroutine by a packet,
// client bytes, its read deadline or shutdown (conn.park, conn.resume).
// Other goroutines only append to the connection's bounded inbound packet
// queue (the SUB and DEALER dispatchers), resume a parked connection, or,
// under the session lock, send keep-alives with the session's next outbound
// seq (the keep-alive wheel).
package connmgr

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
)

// Mode is how a listener's requests reach the responders.
type Mode uint8

// Listener modes.
const (
	ModeStream Mode = iota // ZHTTP stream sessions (PUSH/ROUTER/SUB)
	ModeReq                // one request/response per packet (DEALER)
)

// Listener is one --listen value: "[addr:]port[,params...]" with params
// stream (default), req, tls, default-cert=NAME and local (the first part
// is then a unix socket path).
type Listener struct {
	Addr        string // host:port, or a unix socket path when Local
	Local       bool
	Mode        Mode
	TLS         bool
	DefaultCert string
}

// ParseListen parses a --listen value as condure 1.9.1 does.
func ParseListen(s string) (Listener, error) {
	parts := strings.Split(s, ",")
	l := Listener{Addr: parts[0]}
	for _, p := range parts[1:] {
		name, value, hasValue := strings.Cut(p, "=")
		switch {
		case name == "stream" && !hasValue:
			l.Mode = ModeStream
		case name == "req" && !hasValue:
			l.Mode = ModeReq
		case name == "tls" && !hasValue:
			l.TLS = true
		case name == "local" && !hasValue:
			l.Local = true
		case name == "default-cert" && hasValue:
			l.DefaultCert = value
		default:
			return Listener{}, fmt.Errorf("listen %q: unknown parameter %q", s, p)
		}
	}
	if l.Addr == "" {
		return Listener{}, fmt.Errorf("listen %q: empty address", s)
	}
	if l.Local {
		return l, nil
	}
	// condure accepts a bare port, meaning all interfaces.
	if _, err := strconv.Atoi(l.Addr); err == nil {
		l.Addr = "0.0.0.0:" + l.Addr
	}
	if _, port, err := net.SplitHostPort(l.Addr); err != nil {
		return Listener{}, fmt.Errorf("listen %q: %w", s, err)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return Listener{}, fmt.Errorf("listen %q: bad port %q", s, port)
	}
	return l, nil
}

// Config is condure's configuration; the zero value of an option means its
// condure 1.9.1 default (see Defaults).
type Config struct {
	ID             string        // --id, instance id: ZHTTP "from", ROUTER identity, SUB topic
	Workers        int           // --workers: shares of maxconn and id spaces (condure's worker threads; see workerSet)
	ReqMaxConn     int           // --req-maxconn
	StreamMaxConn  int           // --stream-maxconn
	BufferSize     int           // --buffer-size: per-direction buffer, initial credits, max head size
	BodyBufferSize int           // --body-buffer-size: req mode request body limit
	MessagesMax    int           // --messages-max: WebSocket messages from the responder waiting for a connection (see conn.enqueue)
	ReqTimeout     time.Duration // --req-timeout
	StreamTimeout  time.Duration // --stream-timeout: client inactivity timeout in stream mode

	Listen         []Listener
	ZClientReq     []string // --zclient-req specs (DEALER)
	ZClientStream  []string // --zclient-stream bases
	ZClientConnect bool
	IPCFileMode    zmqx.IPCMode

	TLSIdentitiesDir string
	Compression      bool

	// HeadTimeout bounds how long a client may take to send a complete
	// request head (slowloris defence; condure has none). Default 30 s.
	HeadTimeout time.Duration
	// NoReusePort disables SO_REUSEPORT on TCP listeners. By default it is
	// set so several instances with distinct ids can share a port.
	NoReusePort bool

	Log *slog.Logger
}

// Defaults of condure 1.9.1 (condure --help).
const (
	DefaultID             = "condure"
	DefaultWorkers        = 2
	DefaultReqMaxConn     = 100
	DefaultStreamMaxConn  = 10000
	DefaultBufferSize     = 8192
	DefaultBodyBufferSize = 100000
	DefaultMessagesMax    = 100
	DefaultReqTimeout     = 30 * time.Second
	DefaultStreamTimeout  = 1800 * time.Second
	DefaultHeadTimeout    = 30 * time.Second
	DefaultListen         = "0.0.0.0:8000,stream"
	DefaultZClientSpec    = "ipc://client"
)

// withDefaults fills zero values with condure's defaults.
func (c Config) withDefaults() Config {
	if c.ID == "" {
		c.ID = DefaultID
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.ReqMaxConn == 0 {
		c.ReqMaxConn = DefaultReqMaxConn
	}
	if c.StreamMaxConn == 0 {
		c.StreamMaxConn = DefaultStreamMaxConn
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.BodyBufferSize == 0 {
		c.BodyBufferSize = DefaultBodyBufferSize
	}
	if c.MessagesMax == 0 {
		c.MessagesMax = DefaultMessagesMax
	}
	if c.ReqTimeout == 0 {
		c.ReqTimeout = DefaultReqTimeout
	}
	if c.StreamTimeout == 0 {
		c.StreamTimeout = DefaultStreamTimeout
	}
	if c.HeadTimeout == 0 {
		c.HeadTimeout = DefaultHeadTimeout
	}
	if len(c.Listen) == 0 {
		l, _ := ParseListen(DefaultListen)
		c.Listen = []Listener{l}
	}
	if len(c.ZClientReq) == 0 {
		c.ZClientReq = []string{DefaultZClientSpec}
	}
	if len(c.ZClientStream) == 0 {
		c.ZClientStream = []string{DefaultZClientSpec}
	}
	if c.TLSIdentitiesDir == "" {
		c.TLSIdentitiesDir = "."
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// minBufferSize keeps room for a minimal request head and frame headers.
const minBufferSize = 256

func (c Config) validate() error {
	var errs []error
	if strings.ContainsAny(c.ID, " \t\r\n") {
		errs = append(errs, fmt.Errorf("id %q: must not contain whitespace", c.ID))
	}
	if c.Workers < 1 || c.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers %d: must be 1..1024", c.Workers))
	}
	for name, v := range map[string]int{
		"req-maxconn": c.ReqMaxConn, "stream-maxconn": c.StreamMaxConn,
		"body-buffer-size": c.BodyBufferSize, "messages-max": c.MessagesMax,
	} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s %d: must be positive", name, v))
		}
	}
	// condure 1.9.1 refuses these at startup (verified messages): each
	// worker needs at least one connection of each mode.
	if c.Workers >= 1 && c.StreamMaxConn >= 1 && c.StreamMaxConn < c.Workers {
		errs = append(errs, errors.New("stream maxconn must be >= workers"))
	}
	if c.Workers >= 1 && c.ReqMaxConn >= 1 && c.ReqMaxConn < c.Workers {
		errs = append(errs, errors.New("req maxconn must be >= workers"))
	}
	if c.BufferSize < minBufferSize {
		errs = append(errs, fmt.Errorf("buffer-size %d: must be at least %d", c.BufferSize, minBufferSize))
	}
	if c.ReqTimeout <= 0 || c.StreamTimeout <= 0 || c.HeadTimeout <= 0 {
		errs = append(errs, errors.New("timeouts must be positive"))
	}
	for _, s := range append(append([]string{}, c.ZClientReq...), c.ZClientStream...) {
		if err := zmqx.ValidateSpec(s); err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range c.ZClientStream {
		if _, err := streamSpecs(b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// streamEndpoints are the three sockets derived from a --zclient-stream
// base.
type streamEndpoints struct {
	out, outStream, in string
}

// streamSpecs derives the stream endpoints from a base: ipc bases get
// "-out", "-out-stream" and "-in" suffixes; tcp bases host:P use ports P,
// P+1 and P+2 (condure src/app.rs).
func streamSpecs(base string) (streamEndpoints, error) {
	if rest, ok := strings.CutPrefix(base, "tcp://"); ok {
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return streamEndpoints{}, fmt.Errorf("zclient-stream %q: %w", base, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65533 {
			return streamEndpoints{}, fmt.Errorf("zclient-stream %q: bad port %q", base, port)
		}
		mk := func(n int) string { return "tcp://" + net.JoinHostPort(host, strconv.Itoa(n)) }
		return streamEndpoints{mk(p), mk(p + 1), mk(p + 2)}, nil
	}
	return streamEndpoints{base + "-out", base + "-out-stream", base + "-in"}, nil
}
