// Package stats is the stats PUB protocol of pushpin-proxy and
// pushpin-handler (reference §8.1, §4.7): one-frame messages
// "<type> T" + tnetstring (or "<type> J" + compact JSON, the handler's
// stats_format=json), subscribed to by type prefix. The proxy's stream feeds
// the handler, which merges it with its own and republishes it on
// stats_spec; report packets also travel as the args of the proxy's
// "report" command ({"stats": {…}}).
//
// Each packet type is its own struct implementing Packet; Decode returns
// one of *Activity, *Counts, *Message, *Conn, *Sub or *Report. Decoding
// checks types as Pushpin's StatsPacket does (ints must be ints, counts must
// not be negative, a peer address must be an IP address).
package stats

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// Packet type names, the first word of every message (and the SUB topic).
const (
	TypeActivity = "activity"
	TypeCounts   = "counts"
	TypeMessage  = "message"
	TypeConn     = "conn"
	TypeSub      = "sub"
	TypeReport   = "report"
)

// Values of Message.Transport.
const (
	TransportHTTPResponse = "http-response"
	TransportHTTPStream   = "http-stream"
	TransportWSMessage    = "ws-message"
)

// Values of Conn.Type.
const (
	ConnHTTP = "http"
	ConnWS   = "ws"
)

// Values of Sub.Mode.
const (
	ModeResponse = "response"
	ModeStream   = "stream"
	ModeWS       = "ws"
)

// Default TTLs (seconds): stats_connection_ttl and stats_subscription_ttl.
const (
	DefaultConnectionTTL   = 120
	DefaultSubscriptionTTL = 60
)

// Format is the payload encoding byte after "<type> ".
type Format byte

// Payload formats.
const (
	FormatT Format = 'T' // tnetstring, always used by the proxy
	FormatJ Format = 'J' // compact JSON, handler with stats_format=json
)

// ErrInvalid is wrapped by every decoding error. Pushpin skips such messages
// with a warning.
var ErrInvalid = errors.New("invalid stats packet")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Packet is one stats packet.
type Packet interface {
	// Type returns the packet's type name (TypeActivity, …).
	Type() string
	// Value returns the packet's fields as a dict.
	Value() tnetstring.Value
}

// Common holds the fields every packet may carry.
type Common struct {
	From  string // instance id of the sender; "" = absent
	Route string // route id, only for routes with an explicit id; "" = absent
}

func (c Common) dict() tnetstring.Value {
	v := tnetstring.Value{Kind: tnetstring.Dict}
	if c.From != "" {
		v.Set("from", tnetstring.S(c.From))
	}
	if c.Route != "" {
		v.Set("route", tnetstring.S(c.Route))
	}
	return v
}

// Activity counts billable activity (requests, messages sent,
// keep-alives), batched per 100 ms.
type Activity struct {
	Common
	Count int
}

// Counts carries the proxy's received-request counter to the handler.
type Counts struct {
	Common
	RequestsReceived int // written only when positive
}

// Message reports the delivery of a published item.
type Message struct {
	Common
	Channel   string
	ItemID    string // "" = absent
	Count     int    // receivers
	Transport string // TransportHTTPResponse, TransportHTTPStream or TransportWSMessage
	HasBlocks bool
	Blocks    int // when HasBlocks (message_block_size configured)
}

// Conn reports a client connection: connected (refreshed every ~3/4 TTL)
// or, when Unavailable, disconnected.
type Conn struct {
	Common
	// ID is "<sender>:<session id>" for HTTP (e.g. "condure:1-0-b") or the
	// connection-id UUID for WebSockets.
	ID          string
	Unavailable bool   // disconnected; the fields below are then not sent
	ConnType    string // "type": ConnHTTP or ConnWS
	PeerAddress string // IP address; "" = absent
	SSL         bool
	TTL         int // seconds
}

// Sub reports a subscription: subscribed (refreshed every ~3/4 TTL) or,
// when Unavailable, unsubscribed.
type Sub struct {
	Common
	Mode        string // ModeResponse, ModeStream or ModeWS
	Channel     string
	Unavailable bool // unsubscribed; TTL and Subscribers are then not sent
	TTL         int  // seconds
	Subscribers int  // subscribers on this handler
}

// Report is the periodic usage report (every stats_report_interval).
type Report struct {
	Common
	Connections      int // max concurrent connections in the period
	Minutes          int // connection-minutes
	Received         int // published messages received
	Sent             int // messages sent to clients
	HTTPResponseSent int
	HasBlocks        bool // blocks-received and blocks-sent are present
	BlocksReceived   int
	BlocksSent       int
	Duration         int // length of the period in ms

	ClientHeaderBytesReceived  int
	ClientHeaderBytesSent      int
	ClientContentBytesReceived int
	ClientContentBytesSent     int
	ClientMessagesReceived     int
	ClientMessagesSent         int
	ServerHeaderBytesReceived  int
	ServerHeaderBytesSent      int
	ServerContentBytesReceived int
	ServerContentBytesSent     int
	ServerMessagesReceived     int
	ServerMessagesSent         int
}

// Type implements Packet.
func (*Activity) Type() string { return TypeActivity }

// Type implements Packet.
func (*Counts) Type() string { return TypeCounts }

// Type implements Packet.
func (*Message) Type() string { return TypeMessage }

// Type implements Packet.
func (*Conn) Type() string { return TypeConn }

// Type implements Packet.
func (*Sub) Type() string { return TypeSub }

// Type implements Packet.
func (*Report) Type() string { return TypeReport }

func setInt(v *tnetstring.Value, key string, n int) { v.Set(key, tnetstring.I(int64(n))) }

// Value implements Packet. A negative count is sent as 0, as Pushpin does.
func (p *Activity) Value() tnetstring.Value {
	v := p.dict()
	setInt(&v, "count", max(p.Count, 0))
	return v
}

// Value implements Packet.
func (p *Counts) Value() tnetstring.Value {
	v := p.dict()
	if p.RequestsReceived > 0 {
		setInt(&v, "requests-received", p.RequestsReceived)
	}
	return v
}

// Value implements Packet.
func (p *Message) Value() tnetstring.Value {
	v := p.dict()
	v.Set("channel", tnetstring.S(p.Channel))
	if p.ItemID != "" {
		v.Set("item-id", tnetstring.S(p.ItemID))
	}
	setInt(&v, "count", max(p.Count, 0))
	if p.HasBlocks {
		setInt(&v, "blocks", p.Blocks)
	}
	v.Set("transport", tnetstring.S(p.Transport))
	return v
}

// Value implements Packet.
func (p *Conn) Value() tnetstring.Value {
	v := p.dict()
	v.Set("id", tnetstring.S(p.ID))
	if p.Unavailable {
		v.Set("unavailable", tnetstring.T(true))
		return v
	}
	v.Set("type", tnetstring.S(p.ConnType))
	if p.PeerAddress != "" {
		v.Set("peer-address", tnetstring.S(p.PeerAddress))
	}
	if p.SSL {
		v.Set("ssl", tnetstring.T(true))
	}
	setInt(&v, "ttl", p.TTL)
	return v
}

// Value implements Packet.
func (p *Sub) Value() tnetstring.Value {
	v := p.dict()
	v.Set("mode", tnetstring.S(p.Mode))
	v.Set("channel", tnetstring.S(p.Channel))
	if p.Unavailable {
		v.Set("unavailable", tnetstring.T(true))
		return v
	}
	setInt(&v, "ttl", p.TTL)
	setInt(&v, "subscribers", p.Subscribers)
	return v
}

// reportFields lists the report's counters in Pushpin's encoding order,
// blocks-* excluded.
func (p *Report) reportFields() []struct {
	key string
	n   *int
} {
	return []struct {
		key string
		n   *int
	}{
		{"connections", &p.Connections},
		{"minutes", &p.Minutes},
		{"received", &p.Received},
		{"sent", &p.Sent},
		{"http-response-sent", &p.HTTPResponseSent},
		{"duration", &p.Duration},
		{"client-header-bytes-received", &p.ClientHeaderBytesReceived},
		{"client-header-bytes-sent", &p.ClientHeaderBytesSent},
		{"client-content-bytes-received", &p.ClientContentBytesReceived},
		{"client-content-bytes-sent", &p.ClientContentBytesSent},
		{"client-messages-received", &p.ClientMessagesReceived},
		{"client-messages-sent", &p.ClientMessagesSent},
		{"server-header-bytes-received", &p.ServerHeaderBytesReceived},
		{"server-header-bytes-sent", &p.ServerHeaderBytesSent},
		{"server-content-bytes-received", &p.ServerContentBytesReceived},
		{"server-content-bytes-sent", &p.ServerContentBytesSent},
		{"server-messages-received", &p.ServerMessagesReceived},
		{"server-messages-sent", &p.ServerMessagesSent},
	}
}

// Value implements Packet. Every counter is written; blocks-received and
// blocks-sent only when HasBlocks.
func (p *Report) Value() tnetstring.Value {
	v := p.dict()
	for _, f := range p.reportFields() {
		setInt(&v, f.key, *f.n)
	}
	if p.HasBlocks {
		setInt(&v, "blocks-received", p.BlocksReceived)
		setInt(&v, "blocks-sent", p.BlocksSent)
	}
	return v
}

// Append appends the message "<type> <format>" + payload for p.
func Append(dst []byte, f Format, p Packet) []byte {
	dst = append(dst, p.Type()...)
	dst = append(dst, ' ', byte(f))
	if f == FormatJ {
		return tnetstring.AppendJSON(dst, p.Value())
	}
	return tnetstring.Append(dst, p.Value())
}

// Encode returns the "<type> T" + tnetstring message for p.
func Encode(p Packet) []byte { return Append(nil, FormatT, p) }

// Decode parses a stats message in either format.
func Decode(msg []byte) (Packet, error) {
	sp := bytes.IndexByte(msg, ' ')
	if sp < 0 {
		return nil, invalid("message has no type separator")
	}
	typ := string(msg[:sp])
	if sp+1 >= len(msg) {
		return nil, invalid("%s message has no payload", typ)
	}
	var (
		v   tnetstring.Value
		err error
	)
	switch Format(msg[sp+1]) {
	case FormatT:
		v, err = tnetstring.Decode(msg[sp+2:])
	case FormatJ:
		v, err = tnetstring.FromJSON(msg[sp+2:])
	default:
		return nil, invalid("%s message has unknown format %q", typ, msg[sp+1])
	}
	if err != nil {
		return nil, invalid("%s: %v", typ, err)
	}
	return Parse(typ, v)
}

// Parse reads the payload dict of a packet of the given type.
func Parse(typ string, v tnetstring.Value) (Packet, error) {
	if v.Kind != tnetstring.Dict {
		return nil, invalid("%s payload is a %s, not a dict", typ, v.Kind)
	}
	r := reader{typ: typ, v: v}
	var c Common
	c.From = r.str("from", false)
	c.Route = r.str("route", false)
	var p Packet
	switch typ {
	case TypeActivity:
		p = &Activity{Common: c, Count: r.nonNeg("count", true)}
	case TypeCounts:
		p = &Counts{Common: c, RequestsReceived: r.nonNeg("requests-received", false)}
	case TypeMessage:
		m := &Message{Common: c}
		m.Channel = r.str("channel", true)
		m.ItemID = r.str("item-id", false)
		m.Count = r.nonNeg("count", true)
		m.Blocks, m.HasBlocks = r.integer("blocks", false)
		m.Transport = r.str("transport", true)
		p = m
	case TypeConn:
		cp := &Conn{Common: c}
		cp.ID = r.str("id", true)
		cp.Unavailable = r.boolean("unavailable")
		if !cp.Unavailable {
			cp.ConnType = r.str("type", true)
			if r.err == nil && cp.ConnType != ConnHTTP && cp.ConnType != ConnWS {
				r.fail("type %q is neither %q nor %q", cp.ConnType, ConnHTTP, ConnWS)
			}
			cp.PeerAddress = r.str("peer-address", false)
			if _, ok := v.Get("peer-address"); ok && r.err == nil {
				if _, err := netip.ParseAddr(cp.PeerAddress); err != nil {
					r.fail("peer-address %q is not an IP address", cp.PeerAddress)
				}
			}
			cp.SSL = r.boolean("ssl")
			cp.TTL = r.nonNeg("ttl", true)
		}
		p = cp
	case TypeSub:
		s := &Sub{Common: c}
		s.Mode = r.str("mode", true)
		s.Channel = r.str("channel", true)
		s.Unavailable = r.boolean("unavailable")
		if !s.Unavailable {
			s.TTL = r.nonNeg("ttl", true)
			s.Subscribers = r.nonNeg("subscribers", false)
		}
		p = s
	case TypeReport:
		rp := &Report{Common: c}
		for _, f := range rp.reportFields() {
			*f.n, _ = r.integer(f.key, false)
		}
		var hasRecv, hasSent bool
		rp.BlocksReceived, hasRecv = r.integer("blocks-received", false)
		rp.BlocksSent, hasSent = r.integer("blocks-sent", false)
		rp.HasBlocks = hasRecv || hasSent
		p = rp
	default:
		return nil, invalid("unknown packet type %q", typ)
	}
	if r.err != nil {
		return nil, r.err
	}
	return p, nil
}

// ParseReport reads a report dict, e.g. the "stats" arg of the proxy's
// report command.
func ParseReport(v tnetstring.Value) (*Report, error) {
	p, err := Parse(TypeReport, v)
	if err != nil {
		return nil, err
	}
	return p.(*Report), nil
}

// ReportArgs returns the args of the proxy's report command:
// {"stats": report}.
func ReportArgs(r *Report) tnetstring.Value { return tnetstring.D("stats", r.Value()) }

// ParseReportArgs reads the args of the proxy's report command.
func ParseReportArgs(args tnetstring.Value) (*Report, error) {
	v, ok := args.Get("stats")
	if !ok {
		return nil, invalid("report args have no stats")
	}
	return ParseReport(v)
}

// reader reads typed fields, keeping the first error.
type reader struct {
	typ string
	v   tnetstring.Value
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = invalid("%s: %s", r.typ, fmt.Sprintf(format, args...))
	}
}

func (r *reader) get(key string, required bool, k tnetstring.Kind) (tnetstring.Value, bool) {
	f, ok := r.v.Get(key)
	if !ok {
		if required {
			r.fail("missing %s", key)
		}
		return f, false
	}
	if f.Kind != k {
		r.fail("%s must be of type %s, not %s", key, k, f.Kind)
		return tnetstring.Value{}, false
	}
	return f, true
}

func (r *reader) str(key string, required bool) string {
	f, _ := r.get(key, required, tnetstring.String)
	return string(f.Str)
}

func (r *reader) boolean(key string) bool {
	f, _ := r.get(key, false, tnetstring.Bool)
	return f.Bool
}

// integer reads an int that fits Pushpin's 32-bit fields.
func (r *reader) integer(key string, required bool) (int, bool) {
	f, ok := r.get(key, required, tnetstring.Int)
	if !ok {
		return 0, false
	}
	if f.Int < -1<<31 || f.Int > 1<<31-1 {
		r.fail("%s %d out of range", key, f.Int)
		return 0, false
	}
	return int(f.Int), true
}

// nonNeg reads an int that Pushpin rejects when negative.
func (r *reader) nonNeg(key string, required bool) int {
	n, ok := r.integer(key, required)
	if ok && n < 0 {
		r.fail("%s %d is negative", key, n)
	}
	return n
}
