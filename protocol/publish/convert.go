package publish

import (
	"errors"
	"math"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// DecodeBase64 decodes standard base64 the way Qt 5's QByteArray::fromBase64
// does, which is what Pushpin applies to "-bin" fields and base64 keep-alive
// data: characters outside the alphabet (whitespace, '=' padding, anything
// else) are skipped, missing padding is fine, and trailing bits that do not
// make a whole byte are dropped. It never fails, so publishers that send
// unpadded or wrapped base64 keep working.
func DecodeBase64(s []byte) []byte {
	out := make([]byte, 0, len(s)*3/4)
	var buf uint32
	nbits := 0
	for _, c := range s {
		var d uint32
		switch {
		case c >= 'A' && c <= 'Z':
			d = uint32(c - 'A')
		case c >= 'a' && c <= 'z':
			d = uint32(c-'a') + 26
		case c >= '0' && c <= '9':
			d = uint32(c-'0') + 52
		case c == '+':
			d = 62
		case c == '/':
			d = 63
		default:
			continue
		}
		buf = buf<<6 | d
		nbits += 6
		if nbits >= 8 {
			nbits -= 8
			out = append(out, byte(buf>>nbits))
			buf &= 1<<nbits - 1
		}
	}
	return out
}

// ParseQtInt parses a decimal integer the way Qt's QByteArray::toInt does,
// which is how Pushpin reads numbers from header values: optional ASCII
// whitespace around, an optional sign, at least one digit, and a value that
// fits a 32-bit int.
func ParseQtInt(s string) (int, bool) {
	i, j := 0, len(s)
	for i < j && isQtSpace(s[i]) {
		i++
	}
	for j > i && isQtSpace(s[j-1]) {
		j--
	}
	s = s[i:j]
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var n int64
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > math.MaxInt32+1 {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

func isQtSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// Errors of ToInt.
var (
	ErrWrongType  = errors.New("wrong type")
	ErrOutOfRange = errors.New("out of range")
)

// ToInt reads an integer field the way Pushpin does with
// QVariant::canConvert(Int) and toInt: integers as they are, floats rounded
// half away from zero, and numeric strings (tnetstring bytes or JSON text)
// parsed with ParseQtInt. Unlike Qt it refuses, with ErrWrongType,
// non-numeric strings and booleans, and, with ErrOutOfRange, values outside
// 32 bits. This is a deliberate difference: pushpin 1.36 accepts
// "code":"abc" or "code":true and then answers clients with
// "HTTP/1.1 0 Undefined Reason" or status 1 (verified), which no publisher
// can have meant; we tell the publisher instead.
func ToInt(v tnetstring.Value) (int, error) {
	var n int64
	switch v.Kind {
	case tnetstring.Int:
		n = v.Int
	case tnetstring.Float:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return 0, ErrWrongType
		}
		f := math.Round(v.Float)
		if f < math.MinInt32 || f > math.MaxInt32 {
			return 0, ErrOutOfRange
		}
		n = int64(f)
	case tnetstring.String:
		i, ok := ParseQtInt(string(v.Str))
		if !ok {
			return 0, ErrWrongType
		}
		n = int64(i)
	default:
		return 0, ErrWrongType
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, ErrOutOfRange
	}
	return int(n), nil
}
