// Package http1 is condure's allocation-light HTTP/1.x codec: it parses
// request heads and chunked request bodies from a connection's read buffer
// and renders response heads and chunk framing.
//
// The invariant a reader must know: parsed values alias the caller's buffer.
// Nothing here copies or allocates per request beyond the caller-provided
// header slice, so a connection can parse a request head from its pooled
// read buffer and must finish with the values before it reuses the buffer.
package http1

import (
	"bytes"
	"errors"
)

// Errors returned by ParseRequestHead. Each maps to the status condure's
// replacement sends before closing (see Status).
var (
	// ErrIncomplete means the buffer holds only part of a head; read more.
	ErrIncomplete = errors.New("http1: incomplete request head")
	// ErrBadRequest is a malformed request line or header.
	ErrBadRequest = errors.New("http1: malformed request")
	// ErrTooManyHeaders means the head has more header lines than allowed.
	ErrTooManyHeaders = errors.New("http1: too many headers")
	// ErrVersion is a protocol version other than HTTP/1.0 or HTTP/1.1.
	ErrVersion = errors.New("http1: unsupported HTTP version")
	// ErrHeadTooLarge is returned by callers whose buffer filled up before
	// the head ended (the parser itself never sees the limit).
	ErrHeadTooLarge = errors.New("http1: request head too large")
)

// Status returns the HTTP status a client should get for a parse error:
// 400, 431 or 505, or 0 for ErrIncomplete and errors not from this package.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrVersion):
		return 505
	case errors.Is(err, ErrHeadTooLarge), errors.Is(err, ErrTooManyHeaders):
		return 431
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrBodyFraming):
		return 400
	}
	return 0
}

// Header is one header line; Name and Value alias the parsed buffer.
// Value has surrounding whitespace removed.
type Header struct {
	Name, Value []byte
}

// Request is a parsed request head.
type Request struct {
	Method  []byte
	Target  []byte
	Minor   int // 0 for HTTP/1.0, 1 for HTTP/1.1
	Headers []Header
}

// Header returns the value of the first header named name
// (ASCII case-insensitive) and whether it exists.
func (r *Request) Header(name string) ([]byte, bool) {
	for i := range r.Headers {
		if EqualFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

// HasToken reports whether any header named name contains token in its
// comma-separated list (case-insensitive), as Connection and Upgrade do.
func (r *Request) HasToken(name, token string) bool {
	for i := range r.Headers {
		if EqualFold(r.Headers[i].Name, name) && ContainsToken(r.Headers[i].Value, token) {
			return true
		}
	}
	return false
}

// ParseRequestHead parses the request head at the start of buf into req,
// reusing req.Headers' capacity; at most maxHeaders header lines are
// accepted. It returns the head length including the blank line. Lines may
// end in CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept LF);
// obsolete line folding is rejected, as are empty lines before the request
// line beyond the single CRLF the RFC tolerates.
func ParseRequestHead(buf []byte, req *Request, maxHeaders int) (int, error) {
	req.Method, req.Target, req.Minor = nil, nil, 0
	req.Headers = req.Headers[:0]
	pos := 0
	// RFC 9112 §2.2: ignore at least one empty line before the request line.
	for i := 0; i < 2 && pos < len(buf); i++ {
		if buf[pos] == '\n' {
			pos++
		} else if buf[pos] == '\r' {
			if pos+1 >= len(buf) {
				return 0, ErrIncomplete
			}
			if buf[pos+1] != '\n' {
				return 0, ErrBadRequest
			}
			pos += 2
		} else {
			break
		}
	}
	line, next, err := readLine(buf, pos)
	if err != nil {
		return 0, err
	}
	if err := parseRequestLine(line, req); err != nil {
		return 0, err
	}
	pos = next
	for {
		line, next, err = readLine(buf, pos)
		if err != nil {
			return 0, err
		}
		pos = next
		if len(line) == 0 {
			return pos, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 0, ErrBadRequest // obs-fold
		}
		if len(req.Headers) >= maxHeaders {
			return 0, ErrTooManyHeaders
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, ErrBadRequest
		}
		name := line[:colon]
		for _, c := range name {
			if !isToken(c) {
				return 0, ErrBadRequest
			}
		}
		value := trimOWS(line[colon+1:])
		for _, c := range value {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return 0, ErrBadRequest
			}
		}
		req.Headers = append(req.Headers, Header{Name: name, Value: value})
	}
}

// readLine returns the line starting at pos without its terminator, and the
// position after the terminator.
func readLine(buf []byte, pos int) (line []byte, next int, err error) {
	i := bytes.IndexByte(buf[pos:], '\n')
	if i < 0 {
		return nil, 0, ErrIncomplete
	}
	line = buf[pos : pos+i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, ErrBadRequest // bare CR
	}
	return line, pos + i + 1, nil
}

func parseRequestLine(line []byte, req *Request) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return ErrBadRequest
	}
	method := line[:sp1]
	for _, c := range method {
		if !isToken(c) {
			return ErrBadRequest
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return ErrBadRequest
	}
	target := rest[:sp2]
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return ErrBadRequest
		}
	}
	version := rest[sp2+1:]
	if len(version) != 8 || !bytes.HasPrefix(version, []byte("HTTP/")) ||
		version[6] != '.' || !isDigit(version[5]) || !isDigit(version[7]) {
		return ErrBadRequest
	}
	if version[5] != '1' || version[7] > '1' {
		return ErrVersion
	}
	req.Method, req.Target, req.Minor = method, target, int(version[7]-'0')
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// tokenChars marks the tchar set of RFC 9110 §5.6.2.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(c byte) bool { return tokenChars[c] }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// EqualFold reports whether b equals s, ASCII case-insensitively.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// ContainsToken reports whether the comma-separated list v contains token
// (case-insensitive; parameters after ';' are ignored).
func ContainsToken(v []byte, token string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if i := bytes.IndexByte(item, ';'); i >= 0 {
			item = item[:i]
		}
		if EqualFold(trimOWS(item), token) {
			return true
		}
	}
	return false
}

// ParseContentLength parses a Content-Length value: ASCII digits only, no
// sign, bounded to 2^62 so sums cannot overflow.
func ParseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
