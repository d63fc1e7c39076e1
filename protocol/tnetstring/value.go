package tnetstring

import (
	"bytes"
	"fmt"
	"math"
)

// Value is a decoded tnetstring element of any kind. The zero Value (Kind 0)
// means "absent"; it is not encodable.
type Value struct {
	Kind  Kind
	Str   []byte  // String
	Int   int64   // Int
	Float float64 // Float
	Bool  bool    // Bool
	List  []Value // List
	Dict  []Pair  // Dict, in wire order; use Get for last-wins lookup
}

// Pair is one dict entry.
type Pair struct {
	Key   []byte
	Value Value
}

// Convenience constructors.

// S makes a String value.
func S(s string) Value { return Value{Kind: String, Str: []byte(s)} }

// B makes a String value from bytes (not copied).
func B(b []byte) Value { return Value{Kind: String, Str: b} }

// I makes an Int value.
func I(n int64) Value { return Value{Kind: Int, Int: n} }

// F makes a Float value.
func F(f float64) Value { return Value{Kind: Float, Float: f} }

// T makes a Bool value.
func T(b bool) Value { return Value{Kind: Bool, Bool: b} }

// N makes a Null value.
func N() Value { return Value{Kind: Null} }

// L makes a List value.
func L(vs ...Value) Value { return Value{Kind: List, List: vs} }

// D makes a Dict value from alternating string keys and values:
// D("a", I(1), "b", S("x")). It panics on a malformed argument list, which is
// a programming error.
func D(kv ...any) Value {
	if len(kv)%2 != 0 {
		panic("tnetstring.D: odd number of arguments")
	}
	d := Value{Kind: Dict, Dict: make([]Pair, 0, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		d.Dict = append(d.Dict, Pair{Key: []byte(kv[i].(string)), Value: kv[i+1].(Value)})
	}
	return d
}

// IsZero reports whether v is the absent value.
func (v Value) IsZero() bool { return v.Kind == 0 }

// Get returns the value of key in a dict. When the key repeats the last
// occurrence wins, as in Pushpin.
func (v Value) Get(key string) (Value, bool) {
	if v.Kind != Dict {
		return Value{}, false
	}
	for i := len(v.Dict) - 1; i >= 0; i-- {
		if string(v.Dict[i].Key) == key {
			return v.Dict[i].Value, true
		}
	}
	return Value{}, false
}

// Set replaces (or appends) key in a dict value.
func (v *Value) Set(key string, val Value) {
	for i := len(v.Dict) - 1; i >= 0; i-- {
		if string(v.Dict[i].Key) == key {
			v.Dict[i].Value = val
			return
		}
	}
	v.Dict = append(v.Dict, Pair{Key: []byte(key), Value: val})
}

// Equal reports deep equality. Dicts compare as maps (order-insensitive,
// last occurrence of a repeated key wins), matching how receivers read them.
func (v Value) Equal(o Value) bool {
	if v.Kind != o.Kind {
		return false
	}
	switch v.Kind {
	case String:
		return bytes.Equal(v.Str, o.Str)
	case Int:
		return v.Int == o.Int
	case Float:
		return v.Float == o.Float || (math.IsNaN(v.Float) && math.IsNaN(o.Float))
	case Bool:
		return v.Bool == o.Bool
	case Null, 0:
		return true
	case List:
		if len(v.List) != len(o.List) {
			return false
		}
		for i := range v.List {
			if !v.List[i].Equal(o.List[i]) {
				return false
			}
		}
		return true
	case Dict:
		vm, om := v.lastWins(), o.lastWins()
		if len(vm) != len(om) {
			return false
		}
		for k, a := range vm {
			b, ok := om[k]
			if !ok || !a.Equal(b) {
				return false
			}
		}
		return true
	}
	return false
}

func (v Value) lastWins() map[string]Value {
	m := make(map[string]Value, len(v.Dict))
	for _, p := range v.Dict {
		m[string(p.Key)] = p.Value
	}
	return m
}

// String renders v in a compact JSON-like form for logs and test failures.
func (v Value) String() string {
	var b bytes.Buffer
	v.format(&b)
	return b.String()
}

func (v Value) format(b *bytes.Buffer) {
	switch v.Kind {
	case String:
		fmt.Fprintf(b, "%q", v.Str)
	case Int:
		fmt.Fprintf(b, "%d", v.Int)
	case Float:
		fmt.Fprintf(b, "%g", v.Float)
	case Bool:
		fmt.Fprintf(b, "%t", v.Bool)
	case Null:
		b.WriteString("null")
	case List:
		b.WriteByte('[')
		for i, e := range v.List {
			if i > 0 {
				b.WriteByte(',')
			}
			e.format(b)
		}
		b.WriteByte(']')
	case Dict:
		b.WriteByte('{')
		for i, p := range v.Dict {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(b, "%q:", p.Key)
			p.Value.format(b)
		}
		b.WriteByte('}')
	default:
		b.WriteString("<absent>")
	}
}

// Decode parses exactly one element from b. Byte strings in the result alias b.
func Decode(b []byte) (Value, error) {
	v, rest, err := DecodeOne(b)
	if err != nil {
		return Value{}, err
	}
	if len(rest) != 0 {
		return Value{}, &SyntaxError{Offset: len(b) - len(rest), Msg: ErrTrailing.Error()}
	}
	return v, nil
}

// DecodeOne parses the first element of b and returns the remaining bytes.
func DecodeOne(b []byte) (Value, []byte, error) {
	k, p, rest, err := next(b, 0)
	if err != nil {
		return Value{}, nil, err
	}
	v, err := decodePayload(k, p, len(b)-len(rest)-len(p)-1, 0)
	if err != nil {
		return Value{}, nil, err
	}
	return v, rest, nil
}

// DecodePayload builds a Value from an element already split off by Next or
// Iter; off is its payload offset, for error messages.
func DecodePayload(k Kind, p []byte, off int) (Value, error) {
	return decodePayload(k, p, off, 0)
}

func decodePayload(k Kind, p []byte, off, depth int) (Value, error) {
	switch k {
	case String:
		return Value{Kind: String, Str: p}, nil
	case Int:
		n, err := ParseInt(p)
		if err != nil {
			return Value{}, syntaxErr(off, "%v", err)
		}
		return Value{Kind: Int, Int: n}, nil
	case Float:
		f, err := ParseFloat(p)
		if err != nil {
			return Value{}, syntaxErr(off, "%v", err)
		}
		return Value{Kind: Float, Float: f}, nil
	case Bool:
		bv, err := ParseBool(p)
		if err != nil {
			return Value{}, syntaxErr(off, "%v", err)
		}
		return Value{Kind: Bool, Bool: bv}, nil
	case Null:
		if len(p) != 0 {
			return Value{}, syntaxErr(off, "null must have an empty payload")
		}
		return Value{Kind: Null}, nil
	case List, Dict:
		if depth >= MaxDepth {
			return Value{}, syntaxErr(off, "nesting deeper than %d", MaxDepth)
		}
		v := Value{Kind: k}
		var it Iter
		if k == List {
			it = NewIter(p).WithOffset(off)
		} else {
			it = NewDictIter(p).WithOffset(off)
		}
		for it.Next() {
			eoff := it.Offset() - len(it.Payload()) - 1
			e, err := decodePayload(it.Kind(), it.Payload(), eoff, depth+1)
			if err != nil {
				return Value{}, err
			}
			if k == List {
				v.List = append(v.List, e)
			} else {
				v.Dict = append(v.Dict, Pair{Key: it.Key(), Value: e})
			}
		}
		if err := it.Err(); err != nil {
			return Value{}, err
		}
		return v, nil
	}
	return Value{}, syntaxErr(off, "unknown kind %q", byte(k))
}

// Encode returns the tnetstring encoding of v.
func Encode(v Value) []byte { return Append(nil, v) }

// Append appends the encoding of v to dst. An absent (zero) value inside a
// list or dict is encoded as null.
func Append(dst []byte, v Value) []byte {
	var e Encoder
	e.buf = dst
	e.Value(v)
	return e.buf
}
