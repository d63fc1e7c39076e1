package grip

import (
	"strings"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Header is one HTTP header. It is zhttp.Header so origin responses decoded
// from ZHTTP packets are parsed without copying.
type Header = zhttp.Header

// InstructContentType is the media type of a JSON instruct body (§5.4).
const InstructContentType = "application/grip-instruct"

// First returns the value of the first header named name (case-insensitive)
// and whether there is one. Pushpin reads Grip-Hold, Grip-Timeout,
// Grip-Status, Grip-Keep-Alive and Content-Type this way: later occurrences
// are ignored and the value is not split on commas.
func First(headers []Header, name string) (string, bool) {
	for _, h := range headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// Values returns the values of every header named name (case-insensitive),
// each split on commas outside double quotes (SplitList). Pushpin reads
// Grip-Channel, Grip-Link, Grip-Set-Meta, Grip-Expose-Headers and Grip-Last
// this way, so "Grip-Channel: a, b" subscribes to a and b.
func Values(headers []Header, name string) []string {
	var out []string
	for _, h := range headers {
		if strings.EqualFold(h.Name, name) {
			out = append(out, SplitList(h.Value)...)
		}
	}
	return out
}

// SplitList splits a header value on commas that are not inside double
// quotes, trimming each part, as Pushpin's headerSplit does
// (src/corelib common/httpheaders.cpp). Inside quotes a backslash escapes
// the next byte. Empty parts between commas are kept ("a,,b" has three), a
// trailing comma adds none, and an unterminated quote (or a backslash ending
// the value) makes the rest of the value one part.
func SplitList(s string) []string {
	var parts []string
	pos := 0
	for pos < len(s) {
		end := findUnquoted(s, ',', pos)
		if end < 0 {
			parts = append(parts, trimQt(s[pos:]))
			break
		}
		parts = append(parts, trimQt(s[pos:end]))
		pos = end + 1
	}
	return parts
}

// findUnquoted returns the index of the first c at or after off outside
// double quotes, len(s) if there is none, or -1 when a quote is left open.
func findUnquoted(s string, c byte, off int) int {
	inQuote := false
	for n := off; n < len(s); n++ {
		switch b := s[n]; {
		case inQuote && b == '\\':
			n++
			if n >= len(s) {
				return -1
			}
		case b == '"':
			inQuote = !inQuote
		case !inQuote && b == c:
			return n
		}
	}
	if inQuote {
		return -1
	}
	return len(s)
}

// trimQt trims the whitespace QByteArray::trimmed removes.
func trimQt(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
	})
}

// Param is one ";"-separated parameter of a header value. A parameter
// without "=" has an empty Value.
type Param struct {
	Name, Value string
}

// Params is a parsed header value, in order.
type Params []Param

// Get returns the value of the first parameter named name, compared
// case-insensitively as Pushpin does, and whether there is one.
func (ps Params) Get(name string) (string, bool) {
	for _, p := range ps {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// ParseMode selects how the first ";" segment of a value is read.
type ParseMode uint8

const (
	// FirstIsValue takes the text before the first ";" as the first
	// parameter's Name, raw (quotes and "=" are not interpreted): the
	// channel name of Grip-Channel, the payload of Grip-Keep-Alive, the
	// <URI> of Grip-Link. Pushpin's NoParseFirstParameter.
	FirstIsValue ParseMode = iota
	// AllParams parses every segment as name[=value], e.g. Grip-Set-Meta.
	AllParams
)

// ParseParams parses "first; name=value; name="quoted \"value\""" the way
// Pushpin's HttpHeaders::parseParameters does: names and unquoted values
// are trimmed; a quoted value may contain ";" and backslash-escapes any byte;
// text after a closing quote up to the next ";" is ignored. It reports false
// when a quoted value is not terminated or ends in a lone backslash; Pushpin
// then drops the whole element (or, for single-occurrence headers, treats
// the header as absent).
func ParseParams(s string, mode ParseMode) (Params, bool) {
	var out Params
	start := 0
	if mode == FirstIsValue {
		if at := strings.IndexByte(s, ';'); at >= 0 {
			out = append(out, Param{Name: trimQt(s[:at])})
			start = at + 1
		} else {
			out = append(out, Param{Name: trimQt(s)})
			start = len(s)
		}
	}
	for start < len(s) {
		at := strings.IndexAny(s[start:], "=;")
		if at < 0 {
			out = append(out, Param{Name: trimQt(s[start:])})
			break
		}
		at += start
		p := Param{Name: trimQt(s[start:at])}
		if s[at] == ';' {
			out = append(out, p)
			start = at + 1
			continue
		}
		at++ // past '='
		if at < len(s) && s[at] == '"' {
			var val strings.Builder
			complete := false
			n := at + 1
			for ; n < len(s); n++ {
				switch s[n] {
				case '\\':
					if n+1 >= len(s) {
						return nil, false
					}
					n++
					val.WriteByte(s[n])
					continue
				case '"':
					complete = true
				default:
					val.WriteByte(s[n])
					continue
				}
				break
			}
			if !complete {
				return nil, false
			}
			p.Value = val.String()
			if semi := strings.IndexByte(s[n+1:], ';'); semi >= 0 {
				start = n + 1 + semi + 1
			} else {
				start = len(s)
			}
		} else if semi := strings.IndexByte(s[at:], ';'); semi >= 0 {
			p.Value = trimQt(s[at : at+semi])
			start = at + semi + 1
		} else {
			p.Value = trimQt(s[at:])
			start = len(s)
		}
		out = append(out, p)
	}
	return out, true
}

// allParams parses every comma-separated element of every occurrence of
// name, dropping elements that fail to parse as Pushpin's
// getAllAsParameters does.
func allParams(headers []Header, name string, mode ParseMode) []Params {
	var out []Params
	for _, v := range Values(headers, name) {
		if ps, ok := ParseParams(v, mode); ok {
			out = append(out, ps)
		}
	}
	return out
}

// IsInstruct reports whether an origin response carries GRIP instructions,
// the proxy's rule for handing a request to the handler (§5.2, Pushpin's
// proxysession.cpp): any header whose name starts with "Grip-"
// (case-insensitive), or a contentType (the value of the response's first
// Content-Type header) equal to application/grip-instruct once cut at ";".
// Like Pushpin the comparison is exact: no trimming and case matters, so
// "application/grip-instruct ; charset=utf-8" does not count.
func IsInstruct(headers []Header, contentType string) bool {
	if at := strings.IndexByte(contentType, ';'); at >= 0 {
		contentType = contentType[:at]
	}
	if contentType == InstructContentType {
		return true
	}
	for _, h := range headers {
		if isGrip(h.Name) {
			return true
		}
	}
	return false
}

func isGrip(name string) bool {
	return len(name) >= 5 && strings.EqualFold(name[:5], "Grip-")
}

// hopByHop are the origin response headers never relayed to the client
// (§5.2, §5.3); Content-Length is recomputed by whoever writes the body.
var hopByHop = [...]string{"Connection", "Keep-Alive", "Content-Encoding", "Transfer-Encoding"}

// ClientHeaders returns the origin response headers the client sees: every
// Grip-* header and the hop-by-hop headers (Connection, Keep-Alive,
// Content-Encoding, Transfer-Encoding) removed and, when expose (the
// Grip-Expose-Headers names) is non-empty, only the headers it names kept
// (case-insensitive). Content-Length is kept: callers streaming the body
// drop it, callers sending a complete body set it.
func ClientHeaders(headers []Header, expose []string) []Header {
	out := make([]Header, 0, len(headers))
outer:
	for _, h := range headers {
		if isGrip(h.Name) {
			continue
		}
		for _, x := range hopByHop {
			if strings.EqualFold(h.Name, x) {
				continue outer
			}
		}
		if len(expose) > 0 {
			found := false
			for _, e := range expose {
				if strings.EqualFold(e, h.Name) {
					found = true
					break
				}
			}
			if !found {
				continue
			}
		}
		out = append(out, h)
	}
	return out
}
