package grip

import "errors"

// ErrCString is returned by UnescapeCString for malformed input.
var ErrCString = errors.New("malformed cstring escape")

// UnescapeCString decodes the "cstring" format of Grip-Keep-Alive exactly as
// Pushpin 1.36 does (src/handler/instruct.cpp unescape):
//
//	\\  backslash      \r  carriage return      \n  line feed
//	\xHH  the byte HH (two hex digits, either case)
//
// Any other escaped character is accepted and produces nothing: "\t" and
// "\"" decode to the empty string, not to a tab or a quote. A backslash at
// the end, or \x without two hex digits after it, is an error. (Pushpin also
// fails when nothing at all is produced; ParseKeepAlive applies that rule.)
func UnescapeCString(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for n := 0; n < len(s); n++ {
		c := s[n]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if n+1 >= len(s) {
			return nil, ErrCString
		}
		n++
		switch s[n] {
		case '\\':
			out = append(out, '\\')
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 'x':
			if n+2 >= len(s) {
				return nil, ErrCString
			}
			hi, lo := unhex(s[n+1]), unhex(s[n+2])
			if hi < 0 || lo < 0 {
				return nil, ErrCString
			}
			out = append(out, byte(hi<<4|lo))
			n += 2
		}
	}
	return out, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
