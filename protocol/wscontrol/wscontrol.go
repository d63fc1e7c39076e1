// Package wscontrol is the ws-control protocol between pushpin-proxy and
// pushpin-handler: {"items": [item, …]} packets, bare tnetstring, over a
// PUSH/PULL socket pair in each direction (reference §4.5). The proxy
// reports WebSocket sessions (here, keep-alive, gone), forwards GRIP control
// messages (grip) and implicit subscriptions; the handler delivers published
// messages (send), closes and detaches sessions, and acks items carrying a
// req-id.
//
// The GRIP control messages carried by grip items (the JSON after "c:")
// are parsed by message.go.
//
// The invariant a reader must keep in mind: Decode reuses the packet's item
// slice and the byte fields of the items (CID, ReqID, Message) alias the
// received message, so that the per-message path does not allocate. Copy
// them to keep them past the next Decode or the buffer's reuse. String
// fields are copies or interned constants.
package wscontrol

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// Type is an item's type.
type Type uint8

// Item types (reference §4.5). The zero Type is invalid.
const (
	Here           Type = iota + 1 // proxy → handler: session created (uri, route, ttl, …)
	KeepAlive                      // proxy → handler: session still alive (ttl)
	Gone                           // proxy → handler: session closed
	Grip                           // proxy → handler: GRIP control message (message, req-id)
	KeepAliveSetup                 // handler → proxy: configure keep-alive timer (timeout, keep-alive-mode)
	Cancel                         // both: unknown cid or session error
	Send                           // handler → proxy: deliver a message (content-type, message, queue?, req-id?)
	NeedKeepAlive                  // proxy → handler: keep-alive timer fired
	Subscribe                      // proxy → handler: implicit channel (channel, req-id)
	Close                          // handler → proxy: close the client (code, reason)
	Detach                         // handler → proxy: drop the origin side, keep the client
	Ack                            // both: acknowledges an item's req-id
)

var typeNames = [...]string{
	Here:           "here",
	KeepAlive:      "keep-alive",
	Gone:           "gone",
	Grip:           "grip",
	KeepAliveSetup: "keep-alive-setup",
	Cancel:         "cancel",
	Send:           "send",
	NeedKeepAlive:  "need-keep-alive",
	Subscribe:      "subscribe",
	Close:          "close",
	Detach:         "detach",
	Ack:            "ack",
}

// String returns the wire name.
func (t Type) String() string {
	if t > 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

func parseType(b []byte) (Type, bool) {
	switch string(b) {
	case "here":
		return Here, true
	case "keep-alive":
		return KeepAlive, true
	case "gone":
		return Gone, true
	case "grip":
		return Grip, true
	case "keep-alive-setup":
		return KeepAliveSetup, true
	case "cancel":
		return Cancel, true
	case "send":
		return Send, true
	case "need-keep-alive":
		return NeedKeepAlive, true
	case "subscribe":
		return Subscribe, true
	case "close":
		return Close, true
	case "detach":
		return Detach, true
	case "ack":
		return Ack, true
	}
	return 0, false
}

// Content types of send items (the WebSocket frame kind to write).
const (
	ContentText   = "text"
	ContentBinary = "binary"
	ContentPing   = "ping"
	ContentPong   = "pong"
)

// Keep-alive modes of keep-alive-setup items.
const (
	// KeepAliveIdle sends the keep-alive after timeout seconds without
	// outgoing traffic (the default).
	KeepAliveIdle = "idle"
	// KeepAliveInterval sends it every timeout seconds regardless.
	KeepAliveInterval = "interval"
)

// Protocol constants Pushpin's peers rely on.
const (
	// SessionTTL is the ttl (seconds) the proxy puts on here and
	// keep-alive items; the handler expires a session after ttl without
	// a keep-alive.
	SessionTTL = 60
	// MaxKeepAliveBatch is the most items the proxy puts in one packet
	// when refreshing sessions.
	MaxKeepAliveBatch = 128
	// AckTimeoutMS is how long the proxy waits for the ack of a grip or
	// subscribe item before tearing the connection down.
	AckTimeoutMS = 8000
)

// Fields records which optional integer fields are present.
type Fields uint8

// Presence bits.
const (
	HasCode Fields = 1 << iota
	HasTTL
	HasTimeout
)

// Item is one ws-control item. Which fields are meaningful depends on Type
// (see the Type constants); unset fields are omitted on the wire.
type Item struct {
	CID  []byte // connection id (the Connection-Id UUID); required
	Type Type   // required

	ReqID []byte // request id of an item to be acked; nil = absent

	URI         string // here
	ContentType string // send: ContentText/Binary/Ping/Pong ("" = absent)
	Message     []byte // grip (control JSON), send (payload); nil = absent
	Queue       bool   // send: queue if the socket cannot write now

	Has     Fields
	Code    int // close: WebSocket close code (when HasCode)
	TTL     int // here, keep-alive: seconds (when HasTTL)
	Timeout int // keep-alive-setup: seconds (when HasTimeout)

	Reason        string // close
	Route         string // here
	SeparateStats bool   // here
	ChannelPrefix string // here
	Channel       string // subscribe
	KeepAliveMode string // keep-alive-setup: KeepAliveIdle or KeepAliveInterval
}

// SetCode sets the close code.
func (it *Item) SetCode(n int) { it.Code = n; it.Has |= HasCode }

// SetTTL sets ttl.
func (it *Item) SetTTL(n int) { it.TTL = n; it.Has |= HasTTL }

// SetTimeout sets timeout.
func (it *Item) SetTimeout(n int) { it.Timeout = n; it.Has |= HasTimeout }

// Packet is a ws-control packet.
type Packet struct {
	Items []Item
}

// ErrInvalid is wrapped by every decoding error. Pushpin drops a packet it
// cannot parse as a whole (logging "received message with invalid format").
var ErrInvalid = errors.New("invalid ws-control packet")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Encode returns the bare tnetstring encoding of p.
func (p *Packet) Encode() []byte { return p.Append(nil) }

// Append appends the bare tnetstring encoding of p to dst. Item fields are
// written in the order Pushpin's encoder uses, unset ones omitted. It does
// not allocate when dst has room.
func (p *Packet) Append(dst []byte) []byte {
	var e tnetstring.Encoder
	e.Reset(dst)
	e.BeginDict()
	e.Str("items")
	e.BeginList()
	for i := range p.Items {
		p.Items[i].encode(&e)
	}
	e.End()
	e.End()
	return e.Bytes()
}

func (it *Item) encode(e *tnetstring.Encoder) {
	e.BeginDict()
	e.Str("cid")
	e.Blob(it.CID)
	e.Str("type")
	e.Str(it.Type.String())
	if len(it.ReqID) > 0 {
		e.Str("req-id")
		e.Blob(it.ReqID)
	}
	str(e, "uri", it.URI)
	str(e, "content-type", it.ContentType)
	if it.Message != nil {
		e.Str("message")
		e.Blob(it.Message)
	}
	if it.Queue {
		e.Str("queue")
		e.Bool(true)
	}
	if it.Has&HasCode != 0 {
		e.Str("code")
		e.Int(int64(it.Code))
	}
	str(e, "reason", it.Reason)
	str(e, "route", it.Route)
	if it.SeparateStats {
		e.Str("separate-stats")
		e.Bool(true)
	}
	str(e, "channel-prefix", it.ChannelPrefix)
	str(e, "channel", it.Channel)
	if it.Has&HasTTL != 0 {
		e.Str("ttl")
		e.Int(int64(it.TTL))
	}
	if it.Has&HasTimeout != 0 {
		e.Str("timeout")
		e.Int(int64(it.Timeout))
	}
	str(e, "keep-alive-mode", it.KeepAliveMode)
	e.End()
}

func str(e *tnetstring.Encoder, key, v string) {
	if v != "" {
		e.Str(key)
		e.Str(v)
	}
}

// Decode parses a bare tnetstring packet into p, reusing p.Items. Like
// Pushpin, it requires an "items" list whose elements are dicts with a string
// cid and a known string type, and checks the type of every other known
// field; unknown keys are ignored and a repeated key takes its last value.
// A negative ttl or timeout reads as 0, and an empty content-type, route,
// channel-prefix, channel or keep-alive-mode as absent, as in Pushpin.
func Decode(b []byte, p *Packet) error {
	p.Items = p.Items[:0]
	k, payload, rest, err := tnetstring.Next(b)
	if err != nil {
		return invalid("%v", err)
	}
	if k != tnetstring.Dict {
		return invalid("packet is a %s, not a dict", k)
	}
	if len(rest) != 0 {
		return invalid("%d trailing bytes after packet", len(rest))
	}
	var items []byte
	found := false
	it := tnetstring.NewDictIter(payload)
	for it.Next() {
		if string(it.Key()) != "items" {
			continue
		}
		if it.Kind() != tnetstring.List {
			return invalid("items must be of type list, not %s", it.Kind())
		}
		items, found = it.Payload(), true
	}
	if err := it.Err(); err != nil {
		return invalid("%v", err)
	}
	if !found {
		return invalid("packet has no items")
	}
	li := tnetstring.NewIter(items)
	for n := 0; li.Next(); n++ {
		if li.Kind() != tnetstring.Dict {
			return invalid("items[%d] must be of type dict, not %s", n, li.Kind())
		}
		p.Items = append(p.Items, Item{})
		if err := p.Items[len(p.Items)-1].decode(n, li.Payload()); err != nil {
			return err
		}
	}
	if err := li.Err(); err != nil {
		return invalid("items: %v", err)
	}
	return nil
}

func (it *Item) decode(n int, payload []byte) error {
	di := tnetstring.NewDictIter(payload)
	var typ []byte
	haveCID, haveType := false, false
	for di.Next() {
		k, v, key := di.Kind(), di.Payload(), di.Key()
		var err error
		switch string(key) {
		case "cid":
			err = wantString(n, key, k)
			it.CID, haveCID = v, true
		case "type":
			err = wantString(n, key, k)
			typ, haveType = v, true
		case "req-id":
			err = wantString(n, key, k)
			it.ReqID = v
		case "uri":
			err = wantString(n, key, k)
			it.URI = string(v)
		case "content-type":
			err = wantString(n, key, k)
			it.ContentType = internContentType(v)
		case "message":
			err = wantString(n, key, k)
			it.Message = v
			if it.Message == nil {
				it.Message = []byte{}
			}
		case "queue":
			it.Queue, err = wantBool(n, key, k, v)
		case "code":
			it.Code, err = wantInt(n, key, k, v)
			it.Has |= HasCode
		case "reason":
			err = wantString(n, key, k)
			it.Reason = string(v)
		case "route":
			err = wantString(n, key, k)
			it.Route = string(v)
		case "separate-stats":
			it.SeparateStats, err = wantBool(n, key, k, v)
		case "channel-prefix":
			err = wantString(n, key, k)
			it.ChannelPrefix = string(v)
		case "channel":
			err = wantString(n, key, k)
			it.Channel = string(v)
		case "ttl":
			it.TTL, err = wantInt(n, key, k, v)
			it.TTL = max(it.TTL, 0)
			it.Has |= HasTTL
		case "timeout":
			it.Timeout, err = wantInt(n, key, k, v)
			it.Timeout = max(it.Timeout, 0)
			it.Has |= HasTimeout
		case "keep-alive-mode":
			err = wantString(n, key, k)
			it.KeepAliveMode = internMode(v)
		}
		if err != nil {
			return err
		}
	}
	if err := di.Err(); err != nil {
		return invalid("items[%d]: %v", n, err)
	}
	if !haveCID {
		return invalid("items[%d] has no cid", n)
	}
	if !haveType {
		return invalid("items[%d] has no type", n)
	}
	t, ok := parseType(typ)
	if !ok {
		return invalid("items[%d] has unknown type %q", n, typ)
	}
	it.Type = t
	return nil
}

func wantString(n int, key []byte, k tnetstring.Kind) error {
	if k != tnetstring.String {
		return invalid("items[%d].%s must be of type string, not %s", n, key, k)
	}
	return nil
}

func wantBool(n int, key []byte, k tnetstring.Kind, v []byte) (bool, error) {
	if k != tnetstring.Bool {
		return false, invalid("items[%d].%s must be of type bool, not %s", n, key, k)
	}
	b, err := tnetstring.ParseBool(v)
	if err != nil {
		return false, invalid("items[%d].%s: %v", n, key, err)
	}
	return b, nil
}

// wantInt reads an int that fits Pushpin's 32-bit int fields.
func wantInt(n int, key []byte, k tnetstring.Kind, v []byte) (int, error) {
	if k != tnetstring.Int {
		return 0, invalid("items[%d].%s must be of type int, not %s", n, key, k)
	}
	x, err := tnetstring.ParseInt(v)
	if err != nil {
		return 0, invalid("items[%d].%s: %v", n, key, err)
	}
	if x < -1<<31 || x > 1<<31-1 {
		return 0, invalid("items[%d].%s: %s out of range", n, key, strconv.FormatInt(x, 10))
	}
	return int(x), nil
}

func internContentType(b []byte) string {
	switch string(b) {
	case ContentText:
		return ContentText
	case ContentBinary:
		return ContentBinary
	case ContentPing:
		return ContentPing
	case ContentPong:
		return ContentPong
	}
	return string(b)
}

func internMode(b []byte) string {
	switch string(b) {
	case KeepAliveIdle:
		return KeepAliveIdle
	case KeepAliveInterval:
		return KeepAliveInterval
	}
	return string(b)
}
