// Package tnetstring implements the tnetstring encoding used on every ZeroMQ
// hop between Pushpin's components (ZHTTP, ZRPC, retry, ws-control, stats and
// publish items).
//
// A tnetstring is `<length>:<payload><type>`. Pushpin has no distinct unicode
// type: every string, including dict keys, is a byte string (`,`). Dict key
// order is arbitrary on the wire (Qt hash order), so receivers must not depend
// on it; when a key repeats, the last occurrence wins, as in Pushpin.
//
// Two APIs are offered. The generic one (Decode, Value, Append) builds a tree
// and is convenient for rarely used, loosely typed data such as publish meta or
// ZRPC arguments. The allocation-light one (Next, Iter, Encoder) walks and
// writes the bytes directly and is what per-message hot paths (ZHTTP packets)
// use. Decoded byte strings alias the input buffer: copy them if the buffer is
// reused.
//
// Hostile input cannot make the decoder allocate more than a small multiple of
// the input size: declared lengths are checked against the bytes actually
// present, and nesting depth is limited (MaxDepth).
package tnetstring

import (
	"errors"
	"fmt"
	"strconv"
)

// Kind is the type byte that ends a tnetstring element.
type Kind byte

// The element kinds, named by the type byte Pushpin writes.
const (
	String Kind = ','
	Int    Kind = '#'
	Float  Kind = '^'
	Bool   Kind = '!'
	Null   Kind = '~'
	List   Kind = ']'
	Dict   Kind = '}'
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case Null:
		return "null"
	case List:
		return "list"
	case Dict:
		return "dict"
	}
	return fmt.Sprintf("kind(%q)", byte(k))
}

func validKind(b byte) bool {
	switch Kind(b) {
	case String, Int, Float, Bool, Null, List, Dict:
		return true
	}
	return false
}

// MaxDepth bounds the nesting of lists and dicts accepted by the decoder.
// Pushpin's own messages nest at most four or five levels.
const MaxDepth = 64

// maxLengthDigits bounds the length prefix: 10 digits allow payloads up to
// ~9.9 GB, far beyond any ZMQ message we accept, while keeping parsing cheap.
const maxLengthDigits = 10

// SyntaxError reports malformed input: where it was found and why.
type SyntaxError struct {
	Offset int    // byte offset into the input of the element that failed
	Msg    string // what was wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("tnetstring: offset %d: %s", e.Offset, e.Msg)
}

// ErrTrailing is wrapped by Decode when bytes follow the top-level element.
var ErrTrailing = errors.New("trailing bytes after value")

func syntaxErr(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Next splits the first element off b. It validates the framing (length
// prefix, presence of the payload and a known type byte) but not the payload
// itself; use the Parse* functions or Iter for that. base is added to offsets
// in errors so callers walking nested data report absolute positions.
func Next(b []byte) (kind Kind, payload, rest []byte, err error) {
	return next(b, 0)
}

func next(b []byte, base int) (Kind, []byte, []byte, error) {
	if len(b) == 0 {
		return 0, nil, nil, syntaxErr(base, "unexpected end of input")
	}
	n, i := 0, 0
	for ; i < len(b) && b[i] != ':'; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, nil, nil, syntaxErr(base+i, "invalid character %q in length prefix", c)
		}
		if i >= maxLengthDigits {
			return 0, nil, nil, syntaxErr(base, "length prefix too long")
		}
		n = n*10 + int(c-'0')
	}
	switch {
	case i == len(b):
		return 0, nil, nil, syntaxErr(base, "missing ':' after length prefix")
	case i == 0:
		return 0, nil, nil, syntaxErr(base, "empty length prefix")
	case i > 1 && b[0] == '0':
		return 0, nil, nil, syntaxErr(base, "length prefix has a leading zero")
	}
	start := i + 1
	if n > len(b)-start-1 {
		return 0, nil, nil, syntaxErr(base, "declared length %d exceeds the %d bytes available", n, max(len(b)-start-1, 0))
	}
	t := b[start+n]
	if !validKind(t) {
		return 0, nil, nil, syntaxErr(base+start+n, "unknown type byte %q", t)
	}
	return Kind(t), b[start : start+n], b[start+n+1:], nil
}

// ParseInt parses an int payload: optional '-', decimal digits, 64-bit range.
func ParseInt(p []byte) (int64, error) {
	if len(p) == 0 {
		return 0, errors.New("empty integer")
	}
	neg := p[0] == '-'
	d := p
	if neg {
		d = p[1:]
		if len(d) == 0 {
			return 0, errors.New("integer has no digits")
		}
	}
	var u uint64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("invalid integer %q", p)
		}
		if u > (1<<63)/10 {
			return 0, fmt.Errorf("integer %q overflows 64 bits", p)
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, fmt.Errorf("integer %q overflows 64 bits", p)
		}
		return -int64(u), nil
	}
	if u > 1<<63-1 {
		return 0, fmt.Errorf("integer %q overflows 64 bits", p)
	}
	return int64(u), nil
}

// ParseBool parses a bool payload, which must be exactly "true" or "false".
func ParseBool(p []byte) (bool, error) {
	switch string(p) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", p)
}

// ParseFloat parses a float payload.
func ParseFloat(p []byte) (float64, error) {
	f, err := strconv.ParseFloat(string(p), 64)
	if err != nil {
		return 0, fmt.Errorf("invalid float %q", p)
	}
	return f, nil
}

// Iter walks the elements of a list payload, or the key/value pairs of a
// dict payload, without allocating.
//
//	it := tnetstring.NewIter(payload)
//	for it.Next() { k, v := it.Key(), it.Value() ... }
//	if err := it.Err(); err != nil { ... }
type Iter struct {
	rest    []byte
	base    int
	dict    bool
	key     []byte
	kind    Kind
	payload []byte
	err     error
}

// NewIter iterates a list payload.
func NewIter(listPayload []byte) Iter { return Iter{rest: listPayload} }

// NewDictIter iterates a dict payload; Key returns each key.
func NewDictIter(dictPayload []byte) Iter { return Iter{rest: dictPayload, dict: true} }

// WithOffset sets the absolute offset of the payload, for error messages.
func (it Iter) WithOffset(off int) Iter { it.base = off; return it }

// Next advances to the next element and reports whether there is one.
func (it *Iter) Next() bool {
	if it.err != nil || len(it.rest) == 0 {
		return false
	}
	if it.dict {
		off := it.base
		k, kp, r, err := next(it.rest, off)
		if err != nil {
			it.err = err
			return false
		}
		if k != String {
			it.err = syntaxErr(off, "dict key must be a string, not %s", k)
			return false
		}
		it.key = kp
		it.base += len(it.rest) - len(r)
		it.rest = r
		if len(r) == 0 {
			it.err = syntaxErr(it.base, "dict key %q has no value", kp)
			return false
		}
	}
	k, p, r, err := next(it.rest, it.base)
	if err != nil {
		it.err = err
		return false
	}
	it.kind, it.payload = k, p
	it.base += len(it.rest) - len(r)
	it.rest = r
	return true
}

// Key is the current dict key (nil for lists).
func (it *Iter) Key() []byte { return it.key }

// Kind is the current element's kind.
func (it *Iter) Kind() Kind { return it.kind }

// Payload is the current element's payload.
func (it *Iter) Payload() []byte { return it.payload }

// Offset is the absolute offset just past the current element.
func (it *Iter) Offset() int { return it.base }

// Err reports the first framing error met, if any.
func (it *Iter) Err() error { return it.err }
