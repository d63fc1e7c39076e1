// Package zhttp is the ZHTTP packet model: HTTP requests, responses and
// WebSocket sessions carried over ZeroMQ between condure, pushpin-proxy,
// pushpin-handler and zurl.
//
// A packet is a tnetstring dict prefixed with a format byte: 'T' (tnetstring,
// spoken by every component) or 'J' (JSON, accepted and echoed by zurl only).
// The invariant a reader must keep in mind: decoded byte fields (From, ID,
// IDs, Body) alias the message buffer they were decoded from, so a receiver
// that keeps them past the buffer's life must copy them. String fields are
// copies (or interned constants) and safe to keep.
//
// The three transport framings of the stream arrangement live in frame.go.
package zhttp

import (
	"fmt"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// Type is a packet's type. The zero value is a data packet (no "type" key).
type Type uint8

// Packet types (reference §2.3).
const (
	Data Type = iota
	Error
	Credit
	KeepAlive
	Cancel
	HandoffStart
	HandoffProceed
	Close
	Ping
	Pong
)

var typeNames = [...]string{
	Data:           "",
	Error:          "error",
	Credit:         "credit",
	KeepAlive:      "keep-alive",
	Cancel:         "cancel",
	HandoffStart:   "handoff-start",
	HandoffProceed: "handoff-proceed",
	Close:          "close",
	Ping:           "ping",
	Pong:           "pong",
}

// String returns the wire name ("" for data).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// parseType maps a wire name to a Type without allocating.
func parseType(b []byte) (Type, bool) {
	switch string(b) {
	case "":
		return Data, true
	case "error":
		return Error, true
	case "credit":
		return Credit, true
	case "keep-alive":
		return KeepAlive, true
	case "cancel":
		return Cancel, true
	case "handoff-start":
		return HandoffStart, true
	case "handoff-proceed":
		return HandoffProceed, true
	case "close":
		return Close, true
	case "ping":
		return Ping, true
	case "pong":
		return Pong, true
	}
	return 0, false
}

// Error conditions used by Pushpin's components (reference §2.3).
const (
	CondBadRequest             = "bad-request"
	CondPolicyViolation        = "policy-violation"
	CondRemoteConnectionFailed = "remote-connection-failed"
	CondTLSError               = "tls-error"
	CondConnectionTimeout      = "connection-timeout"
	CondContentNotAllowed      = "content-not-allowed"
	CondTooManyRedirects       = "too-many-redirects"
	CondMaxSizeExceeded        = "max-size-exceeded"
	CondSessionTimeout         = "session-timeout"
	CondUndefined              = "undefined-condition"
	CondRejected               = "rejected"
	CondFrameTooLarge          = "frame-too-large"
	CondLengthRequired         = "length-required"
	CondDisconnected           = "disconnected"
)

// WebSocket data packet content types.
const (
	ContentText   = "text"
	ContentBinary = "binary"
)

// Fields records which optional scalar fields are present. A packet's
// zero value has none, so it encodes to the smallest dict.
type Fields uint16

// Presence bits.
const (
	HasSeq Fields = 1 << iota
	HasCredits
	HasCode
	HasMaxSize
	HasTimeout
	HasPeerPort
	HasConnectPort
)

// Header is one HTTP header; order and repetition are preserved.
type Header struct {
	Name, Value string
}

// MultiID is one element of a list-form "id" (only sent to peers that
// advertised ext.multi; used for batched keep-alives and cancels).
type MultiID struct {
	ID  []byte
	Seq int
}

// Packet is one ZHTTP packet. Optional integer fields are meaningful only
// when their bit is set in Has; use the Set* methods to fill them.
type Packet struct {
	From []byte    // sender instance id
	ID   []byte    // session id (single form)
	IDs  []MultiID // list form of "id"; when non-empty, ID is unused

	Type      Type
	Condition string // with Type == Error

	Has         Fields
	Seq         int
	Credits     int
	Code        int // response status, or WebSocket close code
	MaxSize     int
	Timeout     int // milliseconds
	PeerPort    int
	ConnectPort int

	More   bool
	Stream bool
	Multi  bool // ext.multi
	Quiet  bool // ext.quiet

	Method      string
	URI         string
	Reason      string
	Headers     []Header
	Body        []byte // nil = absent; []byte{} sends an empty body
	ContentType string // "text" or "binary" for WebSocket data

	PeerAddress      string
	ConnectHost      string
	IgnorePolicies   bool
	TrustConnectHost bool
	IgnoreTLSErrors  bool
	FollowRedirects  bool

	UserData    tnetstring.Value // opaque, echoed by responders; zero = absent
	Passthrough tnetstring.Value // pushpin-internal intreq data; zero = absent
}

// SetSeq sets seq.
func (p *Packet) SetSeq(n int) { p.Seq = n; p.Has |= HasSeq }

// SetCredits sets credits.
func (p *Packet) SetCredits(n int) { p.Credits = n; p.Has |= HasCredits }

// SetCode sets code.
func (p *Packet) SetCode(n int) { p.Code = n; p.Has |= HasCode }

// SetMaxSize sets max-size.
func (p *Packet) SetMaxSize(n int) { p.MaxSize = n; p.Has |= HasMaxSize }

// SetTimeout sets timeout (ms).
func (p *Packet) SetTimeout(n int) { p.Timeout = n; p.Has |= HasTimeout }

// SetPeerPort sets peer-port.
func (p *Packet) SetPeerPort(n int) { p.PeerPort = n; p.Has |= HasPeerPort }

// SetConnectPort sets connect-port.
func (p *Packet) SetConnectPort(n int) { p.ConnectPort = n; p.Has |= HasConnectPort }

// Reset clears p for reuse, keeping the capacity of its slices.
func (p *Packet) Reset() {
	h, ids := p.Headers[:0], p.IDs[:0]
	*p = Packet{Headers: h, IDs: ids}
}

// IsRequestStart reports whether p looks like the first packet of a new
// session from an initiator (it carries a method or URI).
func (p *Packet) IsRequestStart() bool { return p.URI != "" }

// Header returns the first value of the named header (case-insensitive).
func (p *Packet) Header(name string) (string, bool) {
	for _, h := range p.Headers {
		if equalFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
