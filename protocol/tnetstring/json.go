package tnetstring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// FromJSON converts a JSON document to a Value: objects become dicts (in
// document order), arrays lists, strings byte strings, numbers ints when they
// are integral and fit 64 bits (floats otherwise). This is how zurl's `J`
// format and the HTTP publish API map onto the tnetstring model.
func FromJSON(data []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := fromJSON(dec, 0)
	if err != nil {
		return Value{}, err
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) != 0 {
		return Value{}, fmt.Errorf("json: trailing data after value")
	}
	return v, nil
}

func fromJSON(dec *json.Decoder, depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, fmt.Errorf("json: nesting deeper than %d", MaxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return Value{}, fmt.Errorf("json: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := Value{Kind: Dict}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return Value{}, fmt.Errorf("json: %w", err)
				}
				k, _ := kt.(string)
				e, err := fromJSON(dec, depth+1)
				if err != nil {
					return Value{}, err
				}
				v.Dict = append(v.Dict, Pair{Key: []byte(k), Value: e})
			}
			if _, err := dec.Token(); err != nil {
				return Value{}, fmt.Errorf("json: %w", err)
			}
			return v, nil
		case '[':
			v := Value{Kind: List}
			for dec.More() {
				e, err := fromJSON(dec, depth+1)
				if err != nil {
					return Value{}, err
				}
				v.List = append(v.List, e)
			}
			if _, err := dec.Token(); err != nil {
				return Value{}, fmt.Errorf("json: %w", err)
			}
			return v, nil
		}
		return Value{}, fmt.Errorf("json: unexpected %v", t)
	case string:
		return Value{Kind: String, Str: []byte(t)}, nil
	case json.Number:
		if n, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return Value{Kind: Int, Int: n}, nil
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return Value{}, fmt.Errorf("json: number %q out of range", t)
		}
		return Value{Kind: Float, Float: f}, nil
	case bool:
		return Value{Kind: Bool, Bool: t}, nil
	case nil:
		return Value{Kind: Null}, nil
	}
	return Value{}, fmt.Errorf("json: unexpected token %v", tok)
}

// AppendJSON appends v as compact JSON. Byte strings that are not valid UTF-8
// have their invalid bytes replaced by U+FFFD, since JSON cannot carry them
// (binary content travels as tnetstring or as base64 `*-bin` fields).
func AppendJSON(dst []byte, v Value) []byte {
	switch v.Kind {
	case String:
		return appendJSONString(dst, v.Str)
	case Int:
		return strconv.AppendInt(dst, v.Int, 10)
	case Float:
		if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, v.Float, 'g', -1, 64)
	case Bool:
		return strconv.AppendBool(dst, v.Bool)
	case List:
		dst = append(dst, '[')
		for i, e := range v.List {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSON(dst, e)
		}
		return append(dst, ']')
	case Dict:
		dst = append(dst, '{')
		for i, p := range v.Dict {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, p.Key)
			dst = append(dst, ':')
			dst = AppendJSON(dst, p.Value)
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
