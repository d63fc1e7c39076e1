// Package wsproto is the server side of the WebSocket wire protocol (RFC
// 6455) as condure needs it: handshake accept keys, frame header parsing
// and writing, masking, close payloads, incremental UTF-8 validation and
// permessage-deflate (RFC 7692).
//
// The invariant a reader must know: the parser only ever looks at frame
// headers; payload bytes are unmasked in place in the caller's buffer, so a
// connection can stream a large message through a small buffer without
// copying it.
package wsproto

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Opcode is a frame opcode.
type Opcode byte

// Frame opcodes.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xa
)

// IsControl reports whether op is a control opcode.
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// Close status codes used by the server side.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupported     = 1003
	CloseNoStatus        = 1005 // never on the wire
	CloseAbnormal        = 1006 // never on the wire
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009
	CloseInternalError   = 1011
)

// ProtocolError is a violation of RFC 6455 by the peer; Code is the close
// code to answer with.
type ProtocolError struct {
	Code int
	Msg  string
}

func (e *ProtocolError) Error() string { return "websocket: " + e.Msg }

// ErrIncomplete means more bytes are needed to parse a frame header.
var ErrIncomplete = errors.New("websocket: incomplete frame header")

func protoErr(code int, msg string) error { return &ProtocolError{Code: code, Msg: msg} }

// CloseCode returns the close code for err: the ProtocolError's code, or
// 1011 for anything else.
func CloseCode(err error) int {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CloseInternalError
}

// FrameHeader is a parsed frame header.
type FrameHeader struct {
	Fin    bool
	RSV1   bool // per-message compressed (only on a message's first frame)
	Opcode Opcode
	Masked bool
	Mask   [4]byte
	Length int64
}

// MaxControlPayload is the largest control frame payload (RFC 6455 §5.5).
const MaxControlPayload = 125

// ParseFrameHeader parses the frame header at the start of b and returns
// its size. It enforces the rules that need no connection state: reserved
// bits 2 and 3 clear, RSV1 only when allowRSV1, known opcodes, control
// frames short and unfragmented, minimal length encoding not required but
// the 64-bit length's top bit clear, clients' frames masked (requireMask),
// and Length ≤ maxPayload (close code 1009 when exceeded; maxPayload ≤ 0
// means no limit).
func ParseFrameHeader(b []byte, requireMask, allowRSV1 bool, maxPayload int64) (FrameHeader, int, error) {
	var h FrameHeader
	if len(b) < 2 {
		return h, 0, ErrIncomplete
	}
	b0, b1 := b[0], b[1]
	h.Fin = b0&0x80 != 0
	h.RSV1 = b0&0x40 != 0
	h.Opcode = Opcode(b0 & 0x0f)
	h.Masked = b1&0x80 != 0
	if b0&0x30 != 0 {
		return h, 0, protoErr(CloseProtocolError, "reserved bits set")
	}
	if h.RSV1 && (!allowRSV1 || h.Opcode.IsControl()) {
		return h, 0, protoErr(CloseProtocolError, "RSV1 set without negotiated compression")
	}
	switch h.Opcode {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return h, 0, protoErr(CloseProtocolError, "unknown opcode")
	}
	n := 2
	length := int64(b1 & 0x7f)
	switch length {
	case 126:
		if len(b) < n+2 {
			return h, 0, ErrIncomplete
		}
		length = int64(binary.BigEndian.Uint16(b[n:]))
		n += 2
	case 127:
		if len(b) < n+8 {
			return h, 0, ErrIncomplete
		}
		u := binary.BigEndian.Uint64(b[n:])
		if u>>63 != 0 {
			return h, 0, protoErr(CloseProtocolError, "64-bit length with top bit set")
		}
		length = int64(u)
		n += 8
	}
	if h.Opcode.IsControl() {
		if !h.Fin {
			return h, 0, protoErr(CloseProtocolError, "fragmented control frame")
		}
		if length > MaxControlPayload {
			return h, 0, protoErr(CloseProtocolError, "control frame payload over 125 bytes")
		}
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, ErrIncomplete
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	} else if requireMask {
		return h, 0, protoErr(CloseProtocolError, "unmasked client frame")
	}
	if maxPayload > 0 && length > maxPayload {
		return h, 0, protoErr(CloseTooBig, "frame too large")
	}
	h.Length = length
	return h, n, nil
}

// MaskBytes XORs b with key starting at key offset pos and returns the
// offset to continue with, so a payload can be unmasked in pieces.
func MaskBytes(key [4]byte, pos int, b []byte) int {
	pos &= 3
	// Byte-wise until aligned to the key, then 8 bytes at a time.
	i := 0
	for ; i < len(b) && pos != 0; i++ {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	if len(b)-i >= 8 {
		k := uint64(key[0]) | uint64(key[1])<<8 | uint64(key[2])<<16 | uint64(key[3])<<24
		k |= k << 32
		for ; len(b)-i >= 8; i += 8 {
			v := binary.LittleEndian.Uint64(b[i:])
			binary.LittleEndian.PutUint64(b[i:], v^k)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}

// AppendFrameHeader appends an unmasked (server) frame header.
func AppendFrameHeader(dst []byte, fin, rsv1 bool, op Opcode, length int) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	switch {
	case length < 126:
		return append(dst, b0, byte(length))
	case length <= 0xffff:
		return append(dst, b0, 126, byte(length>>8), byte(length))
	default:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(length))
	}
}

// acceptGUID is the RFC 6455 handshake GUID.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func AcceptKey(key []byte) string {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(acceptGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// ValidKey reports whether a Sec-WebSocket-Key is 16 bytes in base64.
func ValidKey(key []byte) bool {
	if len(key) != 24 {
		return false
	}
	var dst [18]byte
	n, err := base64.StdEncoding.Decode(dst[:], key)
	return err == nil && n == 16
}

// ParseClosePayload splits a close frame payload into code and reason,
// validating both (RFC 6455 §7.4, reason must be UTF-8). An empty payload
// yields CloseNoStatus.
func ParseClosePayload(p []byte) (code int, reason []byte, err error) {
	if len(p) == 0 {
		return CloseNoStatus, nil, nil
	}
	if len(p) == 1 {
		return 0, nil, protoErr(CloseProtocolError, "1-byte close payload")
	}
	code = int(binary.BigEndian.Uint16(p))
	if !ValidCloseCode(code) {
		return 0, nil, protoErr(CloseProtocolError, "invalid close code")
	}
	var v UTF8Validator
	if !v.Write(p[2:]) || !v.Final() {
		return 0, nil, protoErr(CloseInvalidPayload, "close reason is not UTF-8")
	}
	return code, p[2:], nil
}

// ValidCloseCode reports whether code may appear in a close frame.
func ValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// AppendClosePayload appends a close payload (nothing when code is
// CloseNoStatus or 0).
func AppendClosePayload(dst []byte, code int, reason []byte) []byte {
	if code == 0 || code == CloseNoStatus {
		return dst
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	if len(reason) > MaxControlPayload-2 {
		reason = reason[:MaxControlPayload-2]
	}
	return append(dst, reason...)
}
