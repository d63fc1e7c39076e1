package zhttp

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// Format is the leading format byte of a packet.
type Format byte

// Packet formats.
const (
	FormatT Format = 'T' // tnetstring, spoken by every component
	FormatJ Format = 'J' // JSON, accepted and echoed by zurl
)

// ErrInvalid is wrapped by every decoding error, so callers can tell a bad
// packet (log and drop) from other failures.
var ErrInvalid = errors.New("invalid zhttp packet")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Decode parses a packet with its format prefix ('T' or 'J') into p, which
// is reset first. Byte fields of p alias msg (for 'T').
func Decode(msg []byte, p *Packet) (Format, error) {
	if len(msg) == 0 {
		return 0, invalid("empty message")
	}
	switch Format(msg[0]) {
	case FormatT:
		return FormatT, DecodeT(msg[1:], p)
	case FormatJ:
		return FormatJ, DecodeJSON(msg[1:], p)
	}
	return 0, invalid("unknown format byte %q", msg[0])
}

// DecodeJSON parses the JSON form (without the 'J' prefix). Field names and
// types are those of the tnetstring form; bodies are JSON strings.
func DecodeJSON(b []byte, p *Packet) error {
	v, err := tnetstring.FromJSON(b)
	if err != nil {
		return invalid("%v", err)
	}
	if v.Kind != tnetstring.Dict {
		return invalid("packet is a %s, not a dict", v.Kind)
	}
	// Reuse the strict tnetstring field decoder so both formats share one
	// set of type rules.
	return DecodeT(tnetstring.Encode(v), p)
}

// DecodeT parses a tnetstring packet (without the 'T' prefix) into p, which
// is reset first. Types are checked strictly as Pushpin does; unknown keys are
// ignored; a repeated key takes its last value.
func DecodeT(b []byte, p *Packet) error {
	p.Reset()
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
	it := tnetstring.NewDictIter(payload)
	for it.Next() {
		if err := p.decodeField(it.Key(), it.Kind(), it.Payload()); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return invalid("%v", err)
	}
	return nil
}

func (p *Packet) decodeField(key []byte, k tnetstring.Kind, v []byte) error {
	switch string(key) {
	case "from":
		return decodeBytes("from", k, v, &p.From)
	case "id":
		if k == tnetstring.List {
			return p.decodeIDs(v)
		}
		return decodeBytes("id", k, v, &p.ID)
	case "seq":
		return p.decodeInt("seq", k, v, &p.Seq, HasSeq)
	case "type":
		if k != tnetstring.String {
			return wrongType("type", "string", k)
		}
		t, ok := parseType(v)
		if !ok {
			return invalid("unknown type %q", v)
		}
		p.Type = t
	case "condition":
		return decodeString("condition", k, v, &p.Condition)
	case "credits":
		return p.decodeInt("credits", k, v, &p.Credits, HasCredits)
	case "more":
		return decodeBool("more", k, v, &p.More)
	case "stream":
		return decodeBool("stream", k, v, &p.Stream)
	case "ext":
		return p.decodeExt(k, v)
	case "user-data":
		uv, err := tnetstring.DecodePayload(k, v, 0)
		if err != nil {
			return invalid("user-data: %v", err)
		}
		p.UserData = uv
	case "passthrough":
		pv, err := tnetstring.DecodePayload(k, v, 0)
		if err != nil {
			return invalid("passthrough: %v", err)
		}
		p.Passthrough = pv
	case "body":
		return decodeBytes("body", k, v, &p.Body)
	case "content-type":
		if k != tnetstring.String {
			return wrongType("content-type", "string", k)
		}
		switch string(v) { // intern the common values
		case ContentText:
			p.ContentType = ContentText
		case ContentBinary:
			p.ContentType = ContentBinary
		default:
			p.ContentType = string(v)
		}
	case "method":
		return decodeString("method", k, v, &p.Method)
	case "uri":
		return decodeString("uri", k, v, &p.URI)
	case "headers":
		return p.decodeHeaders(k, v)
	case "max-size", "max_size": // condure's encoder spells it with '_'
		return p.decodeInt("max-size", k, v, &p.MaxSize, HasMaxSize)
	case "timeout":
		return p.decodeInt("timeout", k, v, &p.Timeout, HasTimeout)
	case "peer-address":
		return decodeString("peer-address", k, v, &p.PeerAddress)
	case "peer-port":
		// condure sends an int, pushpin's encoder a string; accept both.
		if k == tnetstring.String {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return invalid("peer-port %q is not a number", v)
			}
			p.SetPeerPort(n)
			return nil
		}
		return p.decodeInt("peer-port", k, v, &p.PeerPort, HasPeerPort)
	case "connect-host":
		return decodeString("connect-host", k, v, &p.ConnectHost)
	case "connect-port":
		return p.decodeInt("connect-port", k, v, &p.ConnectPort, HasConnectPort)
	case "ignore-policies":
		return decodeBool("ignore-policies", k, v, &p.IgnorePolicies)
	case "trust-connect-host":
		return decodeBool("trust-connect-host", k, v, &p.TrustConnectHost)
	case "ignore-tls-errors":
		return decodeBool("ignore-tls-errors", k, v, &p.IgnoreTLSErrors)
	case "follow-redirects":
		return decodeBool("follow-redirects", k, v, &p.FollowRedirects)
	case "code":
		return p.decodeInt("code", k, v, &p.Code, HasCode)
	case "reason":
		return decodeString("reason", k, v, &p.Reason)
	}
	return nil
}

func wrongType(field, want string, got tnetstring.Kind) error {
	return invalid("%s must be of type %s, not %s", field, want, got)
}

func decodeBytes(field string, k tnetstring.Kind, v []byte, dst *[]byte) error {
	if k != tnetstring.String {
		return wrongType(field, "string", k)
	}
	*dst = v
	return nil
}

func decodeString(field string, k tnetstring.Kind, v []byte, dst *string) error {
	if k != tnetstring.String {
		return wrongType(field, "string", k)
	}
	*dst = string(v)
	return nil
}

func decodeBool(field string, k tnetstring.Kind, v []byte, dst *bool) error {
	if k != tnetstring.Bool {
		return wrongType(field, "bool", k)
	}
	b, err := tnetstring.ParseBool(v)
	if err != nil {
		return invalid("%s: %v", field, err)
	}
	*dst = b
	return nil
}

func (p *Packet) decodeInt(field string, k tnetstring.Kind, v []byte, dst *int, bit Fields) error {
	if k != tnetstring.Int {
		return wrongType(field, "int", k)
	}
	n, err := tnetstring.ParseInt(v)
	if err != nil {
		return invalid("%s: %v", field, err)
	}
	if int64(int(n)) != n {
		return invalid("%s: %d out of range", field, n)
	}
	*dst = int(n)
	p.Has |= bit
	return nil
}

func (p *Packet) decodeExt(k tnetstring.Kind, v []byte) error {
	if k != tnetstring.Dict {
		return wrongType("ext", "dict", k)
	}
	it := tnetstring.NewDictIter(v)
	for it.Next() {
		switch string(it.Key()) {
		case "multi":
			if err := decodeBool("ext.multi", it.Kind(), it.Payload(), &p.Multi); err != nil {
				return err
			}
		case "quiet":
			if err := decodeBool("ext.quiet", it.Kind(), it.Payload(), &p.Quiet); err != nil {
				return err
			}
		}
	}
	if err := it.Err(); err != nil {
		return invalid("ext: %v", err)
	}
	return nil
}

func (p *Packet) decodeIDs(v []byte) error {
	it := tnetstring.NewIter(v)
	for it.Next() {
		if it.Kind() != tnetstring.Dict {
			return wrongType("id list element", "dict", it.Kind())
		}
		var m MultiID
		seqSet := false
		et := tnetstring.NewDictIter(it.Payload())
		for et.Next() {
			switch string(et.Key()) {
			case "id":
				if err := decodeBytes("id list element id", et.Kind(), et.Payload(), &m.ID); err != nil {
					return err
				}
			case "seq":
				if et.Kind() != tnetstring.Int {
					return wrongType("id list element seq", "int", et.Kind())
				}
				n, err := tnetstring.ParseInt(et.Payload())
				if err != nil || int64(int(n)) != n {
					return invalid("id list element seq %q", et.Payload())
				}
				m.Seq, seqSet = int(n), true
			}
		}
		if err := et.Err(); err != nil {
			return invalid("id list: %v", err)
		}
		if m.ID == nil {
			return invalid("id list element without id")
		}
		if !seqSet {
			m.Seq = -1
		}
		p.IDs = append(p.IDs, m)
	}
	if err := it.Err(); err != nil {
		return invalid("id list: %v", err)
	}
	return nil
}

func (p *Packet) decodeHeaders(k tnetstring.Kind, v []byte) error {
	if k != tnetstring.List {
		return wrongType("headers", "list", k)
	}
	it := tnetstring.NewIter(v)
	for it.Next() {
		if it.Kind() != tnetstring.List {
			return wrongType("header", "list", it.Kind())
		}
		var h [2]string
		n := 0
		ht := tnetstring.NewIter(it.Payload())
		for ht.Next() {
			if n == 2 {
				return invalid("header has more than two elements")
			}
			if ht.Kind() != tnetstring.String {
				return wrongType("header item", "string", ht.Kind())
			}
			h[n] = string(ht.Payload())
			n++
		}
		if err := ht.Err(); err != nil {
			return invalid("headers: %v", err)
		}
		if n != 2 {
			return invalid("header must have a name and a value")
		}
		p.Headers = append(p.Headers, Header{Name: h[0], Value: h[1]})
	}
	if err := it.Err(); err != nil {
		return invalid("headers: %v", err)
	}
	return nil
}

// Append appends p in the given format, prefix byte included.
func Append(dst []byte, f Format, p *Packet) []byte {
	if f == FormatJ {
		return AppendJSON(dst, p)
	}
	return AppendT(dst, p)
}

// AppendT appends 'T' followed by the tnetstring encoding of p.
func AppendT(dst []byte, p *Packet) []byte {
	dst = append(dst, byte(FormatT))
	var e tnetstring.Encoder
	e.Reset(dst)
	p.encode(&e)
	return e.Bytes()
}

// AppendJSON appends 'J' followed by the JSON encoding of p.
func AppendJSON(dst []byte, p *Packet) []byte {
	v, err := tnetstring.Decode(p.MarshalTnet(nil))
	if err != nil {
		panic("zhttp: encoder produced invalid tnetstring: " + err.Error())
	}
	dst = append(dst, byte(FormatJ))
	return tnetstring.AppendJSON(dst, v)
}

// MarshalTnet appends the bare tnetstring encoding of p (no prefix).
func (p *Packet) MarshalTnet(dst []byte) []byte {
	var e tnetstring.Encoder
	e.Reset(dst)
	p.encode(&e)
	return e.Bytes()
}

// encode writes the fields in the order condure uses for requests, so our
// first packets read like condure's in captures; receivers ignore order.
func (p *Packet) encode(e *tnetstring.Encoder) {
	e.BeginDict()
	if p.From != nil {
		e.Str("from")
		e.Blob(p.From)
	}
	if len(p.IDs) > 0 {
		e.Str("id")
		e.BeginList()
		for _, m := range p.IDs {
			e.BeginDict()
			e.Str("id")
			e.Blob(m.ID)
			if m.Seq >= 0 {
				e.Str("seq")
				e.Int(int64(m.Seq))
			}
			e.End()
		}
		e.End()
	} else if p.ID != nil {
		e.Str("id")
		e.Blob(p.ID)
	}
	if p.Has&HasSeq != 0 {
		e.Str("seq")
		e.Int(int64(p.Seq))
	}
	if p.Multi || p.Quiet {
		e.Str("ext")
		e.BeginDict()
		if p.Multi {
			e.Str("multi")
			e.Bool(true)
		}
		if p.Quiet {
			e.Str("quiet")
			e.Bool(true)
		}
		e.End()
	}
	if p.Type != Data {
		e.Str("type")
		e.Str(p.Type.String())
	}
	if p.Condition != "" {
		e.Str("condition")
		e.Str(p.Condition)
	}
	if p.Method != "" {
		e.Str("method")
		e.Str(p.Method)
	}
	if p.URI != "" {
		e.Str("uri")
		e.Str(p.URI)
	}
	if p.Has&HasCode != 0 {
		e.Str("code")
		e.Int(int64(p.Code))
	}
	if p.Reason != "" {
		e.Str("reason")
		e.Str(p.Reason)
	}
	// Pushpin writes headers (possibly empty) on every response start and
	// request start; elsewhere they are omitted.
	if len(p.Headers) > 0 || p.Has&HasCode != 0 || p.URI != "" {
		e.Str("headers")
		e.BeginList()
		for _, h := range p.Headers {
			e.BeginList()
			e.Str(h.Name)
			e.Str(h.Value)
			e.End()
		}
		e.End()
	}
	if p.ContentType != "" {
		e.Str("content-type")
		e.Str(p.ContentType)
	}
	if p.Body != nil {
		e.Str("body")
		e.Blob(p.Body)
	}
	if p.Has&HasCredits != 0 {
		e.Str("credits")
		e.Int(int64(p.Credits))
	}
	if p.More {
		e.Str("more")
		e.Bool(true)
	}
	if p.Stream {
		e.Str("stream")
		e.Bool(true)
	}
	if p.Has&HasMaxSize != 0 {
		e.Str("max-size")
		e.Int(int64(p.MaxSize))
	}
	if p.Has&HasTimeout != 0 {
		e.Str("timeout")
		e.Int(int64(p.Timeout))
	}
	if p.PeerAddress != "" {
		e.Str("peer-address")
		e.Str(p.PeerAddress)
	}
	if p.Has&HasPeerPort != 0 {
		e.Str("peer-port")
		e.Int(int64(p.PeerPort))
	}
	if p.ConnectHost != "" {
		e.Str("connect-host")
		e.Str(p.ConnectHost)
	}
	if p.Has&HasConnectPort != 0 {
		e.Str("connect-port")
		e.Int(int64(p.ConnectPort))
	}
	boolField(e, "ignore-policies", p.IgnorePolicies)
	boolField(e, "trust-connect-host", p.TrustConnectHost)
	boolField(e, "ignore-tls-errors", p.IgnoreTLSErrors)
	boolField(e, "follow-redirects", p.FollowRedirects)
	if !p.UserData.IsZero() {
		e.Str("user-data")
		e.Value(p.UserData)
	}
	if !p.Passthrough.IsZero() {
		e.Str("passthrough")
		e.Value(p.Passthrough)
	}
	e.End()
}

func boolField(e *tnetstring.Encoder, name string, v bool) {
	if v {
		e.Str(name)
		e.Bool(true)
	}
}
