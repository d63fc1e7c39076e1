package publish

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// decodeMsgpack reads one msgpack value into the tnetstring value model the
// item parser works on: maps become dicts (keys may be str or bin), arrays
// lists, str and bin byte strings, integers ints (uint64 beyond int64 become
// floats), floats floats, nil null. Extension types have no meaning in a
// publish item and are refused. Trailing bytes are an error: unlike the
// tnetstring path there is no legacy behaviour to mirror.
func decodeMsgpack(b []byte) (tnetstring.Value, *Error) {
	r := bytes.NewReader(b)
	d := msgpack.NewDecoder(r)
	v, err := msgpackValue(d, r, 0)
	if err == nil && r.Len() != 0 {
		err = fmt.Errorf("%d trailing bytes after value", r.Len())
	}
	if err != nil {
		return tnetstring.Value{}, &Error{Kind: KindSyntax, Source: SourceMsgpack, Index: -1, Err: err}
	}
	return v, nil
}

var errMsgpackDepth = fmt.Errorf("nesting deeper than %d", tnetstring.MaxDepth)

func msgpackValue(d *msgpack.Decoder, r *bytes.Reader, depth int) (tnetstring.Value, error) {
	c, err := d.PeekCode()
	if err != nil {
		return tnetstring.Value{}, err
	}
	switch {
	case c == msgpcode.Nil:
		return tnetstring.N(), d.DecodeNil()
	case c == msgpcode.True || c == msgpcode.False:
		bv, err := d.DecodeBool()
		return tnetstring.T(bv), err
	case msgpcode.IsFixedNum(c) || c == msgpcode.Int8 || c == msgpcode.Int16 ||
		c == msgpcode.Int32 || c == msgpcode.Int64 || c == msgpcode.Uint8 ||
		c == msgpcode.Uint16 || c == msgpcode.Uint32:
		n, err := d.DecodeInt64()
		return tnetstring.I(n), err
	case c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if u > math.MaxInt64 {
			return tnetstring.F(float64(u)), err
		}
		return tnetstring.I(int64(u)), err
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := d.DecodeFloat64()
		return tnetstring.F(f), err
	case msgpcode.IsString(c) || msgpcode.IsBin(c):
		if err := checkLen(r); err != nil {
			return tnetstring.Value{}, err
		}
		s, err := d.DecodeBytes()
		if s == nil {
			s = []byte{}
		}
		return tnetstring.B(s), err
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		if depth >= tnetstring.MaxDepth {
			return tnetstring.Value{}, errMsgpackDepth
		}
		n, err := d.DecodeArrayLen()
		if err != nil {
			return tnetstring.Value{}, err
		}
		// Every element takes at least one byte: refuse counts the input
		// cannot hold before looping on them.
		if n > r.Len() {
			return tnetstring.Value{}, fmt.Errorf("array of %d elements exceeds the %d bytes left", n, r.Len())
		}
		v := tnetstring.Value{Kind: tnetstring.List, List: make([]tnetstring.Value, 0, n)}
		for i := 0; i < n; i++ {
			e, err := msgpackValue(d, r, depth+1)
			if err != nil {
				return tnetstring.Value{}, err
			}
			v.List = append(v.List, e)
		}
		return v, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		if depth >= tnetstring.MaxDepth {
			return tnetstring.Value{}, errMsgpackDepth
		}
		n, err := d.DecodeMapLen()
		if err != nil {
			return tnetstring.Value{}, err
		}
		if n > r.Len()/2 {
			return tnetstring.Value{}, fmt.Errorf("map of %d entries exceeds the %d bytes left", n, r.Len())
		}
		v := tnetstring.Value{Kind: tnetstring.Dict, Dict: make([]tnetstring.Pair, 0, n)}
		for i := 0; i < n; i++ {
			kc, err := d.PeekCode()
			if err != nil {
				return tnetstring.Value{}, err
			}
			if !msgpcode.IsString(kc) && !msgpcode.IsBin(kc) {
				return tnetstring.Value{}, fmt.Errorf("map key with code 0x%02x is not a string", kc)
			}
			k, err := msgpackValue(d, r, depth+1)
			if err != nil {
				return tnetstring.Value{}, err
			}
			e, err := msgpackValue(d, r, depth+1)
			if err != nil {
				return tnetstring.Value{}, err
			}
			v.Dict = append(v.Dict, tnetstring.Pair{Key: k.Str, Value: e})
		}
		return v, nil
	}
	return tnetstring.Value{}, fmt.Errorf("unsupported msgpack code 0x%02x", c)
}

// checkLen refuses a str/bin whose declared length exceeds the input left,
// so a hostile length cannot make the decoder allocate.
func checkLen(r *bytes.Reader) error {
	// Peek the header without consuming it: the reader is positioned at the
	// code byte (the decoder reads straight from r, it does not buffer).
	off := int(r.Size()) - r.Len()
	var hdr [5]byte
	n, _ := r.ReadAt(hdr[:], int64(off))
	if n == 0 {
		return errors.New("unexpected end of input")
	}
	c := hdr[0]
	var length, size int
	switch {
	case msgpcode.IsFixedString(c):
		length, size = int(c&msgpcode.FixedStrMask), 1
	case c == msgpcode.Str8 || c == msgpcode.Bin8:
		if n < 2 {
			return errors.New("unexpected end of input")
		}
		length, size = int(hdr[1]), 2
	case c == msgpcode.Str16 || c == msgpcode.Bin16:
		if n < 3 {
			return errors.New("unexpected end of input")
		}
		length, size = int(hdr[1])<<8|int(hdr[2]), 3
	default: // Str32, Bin32
		if n < 5 {
			return errors.New("unexpected end of input")
		}
		length, size = int(hdr[1])<<24|int(hdr[2])<<16|int(hdr[3])<<8|int(hdr[4]), 5
	}
	if length > r.Len()-size {
		return fmt.Errorf("string of %d bytes exceeds the %d bytes left", length, max(r.Len()-size, 0))
	}
	return nil
}

// appendMsgpack appends v in msgpack. Byte strings that are valid UTF-8 are
// written as str, others as bin (the decoder accepts both).
func appendMsgpack(dst []byte, v tnetstring.Value) []byte {
	var buf bytes.Buffer
	buf.Write(dst)
	e := msgpack.NewEncoder(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_ = writeMsgpack(e, v)
	return buf.Bytes()
}

func writeMsgpack(e *msgpack.Encoder, v tnetstring.Value) error {
	switch v.Kind {
	case tnetstring.String:
		if utf8.Valid(v.Str) {
			return e.EncodeString(string(v.Str))
		}
		return e.EncodeBytes(v.Str)
	case tnetstring.Int:
		return e.EncodeInt(v.Int)
	case tnetstring.Float:
		return e.EncodeFloat64(v.Float)
	case tnetstring.Bool:
		return e.EncodeBool(v.Bool)
	case tnetstring.List:
		if err := e.EncodeArrayLen(len(v.List)); err != nil {
			return err
		}
		for _, x := range v.List {
			if err := writeMsgpack(e, x); err != nil {
				return err
			}
		}
		return nil
	case tnetstring.Dict:
		if err := e.EncodeMapLen(len(v.Dict)); err != nil {
			return err
		}
		for _, p := range v.Dict {
			if err := e.EncodeString(string(p.Key)); err != nil {
				return err
			}
			if err := writeMsgpack(e, p.Value); err != nil {
				return err
			}
		}
		return nil
	}
	return e.EncodeNil()
}
