package wsproto

import "unicode/utf8"

// UTF8Validator checks that a text message is UTF-8 while it arrives in
// pieces (fragments, partial reads): a sequence split across pieces is
// carried over, so validation never needs the whole message in memory.
type UTF8Validator struct {
	pending [utf8.UTFMax]byte
	n       int
}

// Reset clears the carried-over state for a new message.
func (v *UTF8Validator) Reset() { v.n = 0 }

// Write validates the next piece; false means the text is invalid.
func (v *UTF8Validator) Write(b []byte) bool {
	// Complete a sequence carried over from the previous piece.
	for v.n > 0 && len(b) > 0 {
		v.pending[v.n] = b[0]
		v.n++
		b = b[1:]
		if utf8.FullRune(v.pending[:v.n]) {
			r, size := utf8.DecodeRune(v.pending[:v.n])
			if r == utf8.RuneError && size <= 1 {
				return false
			}
			v.n = 0
		} else if v.n == utf8.UTFMax {
			return false
		}
	}
	if v.n > 0 {
		return v.partialOK()
	}
	// Validate all but a possibly incomplete trailing sequence.
	tail := 0
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				tail = len(b) - i
			}
			break
		}
	}
	if !utf8.Valid(b[:len(b)-tail]) {
		return false
	}
	copy(v.pending[:], b[len(b)-tail:])
	v.n = tail
	return v.partialOK()
}

// partialOK rejects a carried-over prefix that can never become valid
// (e.g. a lead byte 0xF8, or 0xED 0xA0 starting a surrogate), so invalid
// text fails on the piece where it appears, as RFC 6455 §8.1 prefers.
func (v *UTF8Validator) partialOK() bool {
	if v.n == 0 {
		return true
	}
	p := v.pending[:v.n]
	c := p[0]
	switch {
	case c < 0xc2 || c > 0xf4:
		return false
	}
	if len(p) >= 2 {
		c1 := p[1]
		lo, hi := byte(0x80), byte(0xbf)
		switch c {
		case 0xe0:
			lo = 0xa0
		case 0xed:
			hi = 0x9f
		case 0xf0:
			lo = 0x90
		case 0xf4:
			hi = 0x8f
		}
		if c1 < lo || c1 > hi {
			return false
		}
		for _, cx := range p[2:] {
			if cx < 0x80 || cx > 0xbf {
				return false
			}
		}
	}
	return true
}

// Final reports whether the message ended on a complete sequence.
func (v *UTF8Validator) Final() bool { return v.n == 0 }
