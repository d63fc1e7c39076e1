// Package wsevents is the application/websocket-events codec of
// WebSocket-over-HTTP (reference §5.8): the proxy carries a client's
// WebSocket session to an origin as a series of HTTP POSTs whose bodies, and
// the origin's response bodies, are sequences of events:
//
//	TYPE\r\n                         (no content)
//	TYPE <hex length>\r\n<bytes>\r\n (with content)
//
// with TYPE one of OPEN, TEXT, BINARY, PING, PONG, CLOSE, DISCONNECT. A
// CLOSE's content is a 2-byte big-endian close code followed by the UTF-8
// reason.
//
// The decoder is streaming-friendly: Parse and ParseAll consume only
// complete events and say how many bytes they used, so a caller can feed a
// body as it arrives. The invariant a reader must keep in mind: decoded
// Content aliases the input buffer; copy it before reusing the buffer.
package wsevents

import (
	"errors"
	"fmt"
	"strconv"
)

// ContentType is the media type of event bodies. Pushpin compares a
// response's Content-Type with it exactly (parameters make it fail).
const ContentType = "application/websocket-events"

// Type is an event type.
type Type uint8

// Event types. The zero Type is invalid.
const (
	Open Type = iota + 1
	Text
	Binary
	Ping
	Pong
	Close
	Disconnect
)

var typeNames = [...]string{
	Open:       "OPEN",
	Text:       "TEXT",
	Binary:     "BINARY",
	Ping:       "PING",
	Pong:       "PONG",
	Close:      "CLOSE",
	Disconnect: "DISCONNECT",
}

// String returns the wire name.
func (t Type) String() string {
	if t > 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

func parseType(b []byte) Type {
	switch string(b) {
	case "OPEN":
		return Open
	case "TEXT":
		return Text
	case "BINARY":
		return Binary
	case "PING":
		return Ping
	case "PONG":
		return Pong
	case "CLOSE":
		return Close
	case "DISCONNECT":
		return Disconnect
	}
	return 0
}

// Event is one event. Content nil means the event is written without a
// length ("TYPE\r\n"); a non-nil Content, even empty, is written with one
// ("TEXT 0\r\n\r\n").
type Event struct {
	Type    Type
	Content []byte
}

// Decoding errors, wrapped in a *SyntaxError.
var (
	// ErrUnknownType: the type line names no known event. The event was
	// framed correctly, so Parse still reports its size: Pushpin's proxy
	// ignores such events, and a caller may skip them the same way.
	ErrUnknownType = errors.New("unknown event type")
	// ErrBadLength: the length after the type is not a hexadecimal int.
	ErrBadLength = errors.New("bad hex length")
	// ErrMissingCRLF: the content is not followed by "\r\n".
	ErrMissingCRLF = errors.New("content not followed by CRLF")
	// ErrLineTooLong: no "\r\n" within MaxLineLength bytes.
	ErrLineTooLong = errors.New("type line too long")
	// ErrTruncated: the body ends inside an event (Decode only; Parse and
	// ParseAll report an incomplete event by consuming nothing).
	ErrTruncated = errors.New("truncated event")
)

// MaxLineLength bounds a type line ("BINARY 7fffffff" is 15 bytes). It lets
// a streaming caller reject garbage without buffering it.
const MaxLineLength = 32

// maxContent is the largest length Pushpin can parse (a 32-bit int).
const maxContent = 1<<31 - 1

// SyntaxError reports malformed event data.
type SyntaxError struct {
	Offset int    // offset of the event's first byte in the input
	Err    error  // one of the Err* values above
	Detail string // the offending text, when useful
}

func (e *SyntaxError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("websocket-events: offset %d: %v: %q", e.Offset, e.Err, e.Detail)
	}
	return fmt.Sprintf("websocket-events: offset %d: %v", e.Offset, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// Parse parses the first event in b and returns the number of bytes it
// occupies. n == 0 with a nil error means b does not hold a complete event
// yet. On ErrUnknownType n is still the event's size (see ErrUnknownType);
// on other errors n is 0. Content aliases b.
func Parse(b []byte) (ev Event, n int, err error) {
	return parse(b, 0)
}

func parse(b []byte, base int) (Event, int, error) {
	line := -1
	for i := 0; i+1 < len(b) && i <= MaxLineLength; i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			line = i
			break
		}
	}
	if line < 0 {
		if len(b) > MaxLineLength+1 {
			return Event{}, 0, &SyntaxError{Offset: base, Err: ErrLineTooLong}
		}
		return Event{}, 0, nil
	}
	name, lenText, hasLen := b[:line], []byte(nil), false
	for i, c := range name {
		if c == ' ' {
			name, lenText, hasLen = b[:i], b[i+1:line], true
			break
		}
	}
	t := parseType(name)
	n := line + 2
	var content []byte
	if hasLen {
		size, ok := parseHex(lenText)
		if !ok {
			return Event{}, 0, &SyntaxError{Offset: base, Err: ErrBadLength, Detail: string(lenText)}
		}
		if len(b)-n < size+2 {
			return Event{}, 0, nil
		}
		content = b[n : n+size : n+size]
		if b[n+size] != '\r' || b[n+size+1] != '\n' {
			return Event{}, 0, &SyntaxError{Offset: base, Err: ErrMissingCRLF}
		}
		n += size + 2
	}
	if t == 0 {
		return Event{Content: content}, n, &SyntaxError{Offset: base, Err: ErrUnknownType, Detail: string(name)}
	}
	return Event{Type: t, Content: content}, n, nil
}

// parseHex parses 1–8 hex digits (either case) into an int ≤ maxContent.
func parseHex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, n <= maxContent
}

// ParseAll appends the complete events at the start of b to dst and returns
// the number of bytes they occupy; the rest of b (an incomplete event) should
// be kept until more data arrives. It stops at the first malformed event,
// returning the events before it, their size, and the error.
func ParseAll(dst []Event, b []byte) ([]Event, int, error) {
	off := 0
	for off < len(b) {
		ev, n, err := parse(b[off:], off)
		if err != nil {
			return dst, off, err
		}
		if n == 0 {
			break
		}
		dst = append(dst, ev)
		off += n
	}
	return dst, off, nil
}

// Decode parses a complete body. A body ending inside an event is
// ErrTruncated.
func Decode(body []byte) ([]Event, error) {
	evs, n, err := ParseAll(nil, body)
	if err != nil {
		return evs, err
	}
	if n != len(body) {
		return evs, &SyntaxError{Offset: n, Err: ErrTruncated}
	}
	return evs, nil
}

// AppendEvent appends the encoding of ev. It does not allocate when dst has
// room.
func AppendEvent(dst []byte, ev Event) []byte {
	dst = append(dst, ev.Type.String()...)
	if ev.Content == nil {
		return append(dst, '\r', '\n')
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(ev.Content)), 16)
	dst = append(dst, '\r', '\n')
	dst = append(dst, ev.Content...)
	return append(dst, '\r', '\n')
}

// Encode returns the encoding of a sequence of events.
func Encode(evs []Event) []byte {
	size := 0
	for _, ev := range evs {
		size += len(ev.Content) + 24
	}
	dst := make([]byte, 0, size)
	for _, ev := range evs {
		dst = AppendEvent(dst, ev)
	}
	return dst
}

// AppendOpen appends "OPEN\r\n".
func AppendOpen(dst []byte) []byte { return AppendEvent(dst, Event{Type: Open}) }

// AppendDisconnect appends "DISCONNECT\r\n".
func AppendDisconnect(dst []byte) []byte { return AppendEvent(dst, Event{Type: Disconnect}) }

// AppendText appends a TEXT event; the length is always written.
func AppendText(dst, msg []byte) []byte {
	return AppendEvent(dst, Event{Type: Text, Content: nonNil(msg)})
}

// AppendBinary appends a BINARY event; the length is always written.
func AppendBinary(dst, msg []byte) []byte {
	return AppendEvent(dst, Event{Type: Binary, Content: nonNil(msg)})
}

// AppendPing appends a PING event, with content only when non-empty, as
// Pushpin does for compactness.
func AppendPing(dst, data []byte) []byte {
	return AppendEvent(dst, Event{Type: Ping, Content: nilIfEmpty(data)})
}

// AppendPong appends a PONG event, with content only when non-empty.
func AppendPong(dst, data []byte) []byte {
	return AppendEvent(dst, Event{Type: Pong, Content: nilIfEmpty(data)})
}

// AppendClose appends a CLOSE event. A negative code writes no content (the
// close had no status code); otherwise the content is the 2-byte big-endian
// code followed by the reason.
func AppendClose(dst []byte, code int, reason []byte) []byte {
	dst = append(dst, "CLOSE"...)
	if code < 0 {
		return append(dst, '\r', '\n')
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(2+len(reason)), 16)
	dst = append(dst, '\r', '\n', byte(code>>8), byte(code))
	dst = append(dst, reason...)
	return append(dst, '\r', '\n')
}

// ParseClose reads a CLOSE event's content: ok is false when it has fewer
// than two bytes, in which case the close carries no code (Pushpin then
// ignores any content). reason aliases content.
func ParseClose(content []byte) (code int, reason []byte, ok bool) {
	if len(content) < 2 {
		return 0, nil, false
	}
	return int(content[0])<<8 | int(content[1]), content[2:], true
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
