package tnetstring

import (
	"math"
	"strconv"
)

// Encoder appends tnetstring elements to a byte slice without building a
// Value tree. Containers are opened with BeginList/BeginDict and closed with
// End; the length prefix is written when the container is closed, by shifting
// its payload once. Reusing an Encoder (Reset) makes steady-state encoding
// allocation-free.
//
//	var e tnetstring.Encoder
//	e.BeginDict()
//	e.Str("id"); e.Str("1-0-0")
//	e.Str("seq"); e.Int(3)
//	e.End()
//	msg := e.Bytes()
type Encoder struct {
	buf []byte
	// Open containers: payload start offset and kind. Fixed arrays keep a
	// stack-allocated Encoder free of heap allocations.
	stack [MaxDepth]int
	kinds [MaxDepth]Kind
	depth int
}

// NewEncoder returns an Encoder appending to dst.
func NewEncoder(dst []byte) *Encoder { return &Encoder{buf: dst} }

// Reset makes the encoder append to dst, forgetting any open containers.
func (e *Encoder) Reset(dst []byte) {
	e.buf = dst
	e.depth = 0
}

// Bytes returns the encoded bytes. All containers must be closed.
func (e *Encoder) Bytes() []byte {
	if e.depth != 0 {
		panic("tnetstring: Bytes with unclosed container")
	}
	return e.buf
}

func (e *Encoder) head(n int) {
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	e.buf = append(e.buf, ':')
}

// Str appends a byte string.
func (e *Encoder) Str(s string) {
	e.head(len(s))
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, byte(String))
}

// Blob appends a byte string from bytes.
func (e *Encoder) Blob(b []byte) {
	e.head(len(b))
	e.buf = append(e.buf, b...)
	e.buf = append(e.buf, byte(String))
}

// Int appends an integer.
func (e *Encoder) Int(n int64) {
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], n, 10)
	e.head(len(d))
	e.buf = append(e.buf, d...)
	e.buf = append(e.buf, byte(Int))
}

// Float appends a float in the shortest form that round-trips. Infinities and
// NaN have no tnetstring representation and are written as null.
func (e *Encoder) Float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.Null()
		return
	}
	var tmp [32]byte
	d := strconv.AppendFloat(tmp[:0], f, 'g', -1, 64)
	e.head(len(d))
	e.buf = append(e.buf, d...)
	e.buf = append(e.buf, byte(Float))
}

// Bool appends a boolean.
func (e *Encoder) Bool(b bool) {
	if b {
		e.buf = append(e.buf, "4:true!"...)
	} else {
		e.buf = append(e.buf, "5:false!"...)
	}
}

// Null appends a null.
func (e *Encoder) Null() { e.buf = append(e.buf, "0:~"...) }

// Raw appends an already encoded element verbatim.
func (e *Encoder) Raw(elem []byte) { e.buf = append(e.buf, elem...) }

// BeginList opens a list; close it with End.
func (e *Encoder) BeginList() { e.begin(List) }

// BeginDict opens a dict; write alternating keys (Str) and values, then End.
func (e *Encoder) BeginDict() { e.begin(Dict) }

func (e *Encoder) begin(k Kind) {
	if e.depth == MaxDepth {
		panic("tnetstring: Encoder nesting deeper than MaxDepth")
	}
	e.stack[e.depth], e.kinds[e.depth] = len(e.buf), k
	e.depth++
}

// End closes the innermost open container.
func (e *Encoder) End() {
	e.depth--
	start, k := e.stack[e.depth], e.kinds[e.depth]
	n := len(e.buf) - start
	var tmp [24]byte
	prefix := strconv.AppendInt(tmp[:0], int64(n), 10)
	prefix = append(prefix, ':')
	// Grow by the prefix and the type byte, then slide the payload right.
	e.buf = append(e.buf, prefix...)
	e.buf = append(e.buf, byte(k))
	copy(e.buf[start+len(prefix):], e.buf[start:start+n])
	copy(e.buf[start:], prefix)
	e.buf[len(e.buf)-1] = byte(k)
}

// Value appends a generic value. An absent value is written as null.
func (e *Encoder) Value(v Value) {
	switch v.Kind {
	case String:
		e.Blob(v.Str)
	case Int:
		e.Int(v.Int)
	case Float:
		e.Float(v.Float)
	case Bool:
		e.Bool(v.Bool)
	case List:
		e.BeginList()
		for _, x := range v.List {
			e.Value(x)
		}
		e.End()
	case Dict:
		e.BeginDict()
		for _, p := range v.Dict {
			e.Blob(p.Key)
			e.Value(p.Value)
		}
		e.End()
	default:
		e.Null()
	}
}
