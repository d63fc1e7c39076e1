package engine

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Auto cross-origin for held responses (reference §5.9): when the proxy
// hands over a request with auto-cross-origin, pushpin-handler adds CORS
// headers to the response it sends, or, when the request came with a
// JSON-P callback, wraps the response in a JavaScript call instead. Only
// response holds are affected: a stream hold's response goes out as the
// origin gave it (verified against pushpin-handler 1.36).

// simpleResponseHeaders need no Access-Control-Expose-Headers entry (the
// CORS "simple response headers", plus Content-Length, which Pushpin adds
// only after the CORS headers).
var simpleResponseHeaders = []string{"Cache-Control", "Content-Language", "Content-Length", "Content-Type", "Expires", "Last-Modified", "Pragma"}

// corsHeaders returns resp plus the Access-Control-* headers of Pushpin's
// cors.cpp for the client request headers req, each only when the response
// does not have it already.
func corsHeaders(resp, req []zhttp.Header) []zhttp.Header {
	out := append(make([]zhttp.Header, 0, len(resp)+6), resp...)
	set := func(name, value string) {
		if value != "" && !hasHeader(out, name) {
			out = append(out, zhttp.Header{Name: name, Value: value})
		}
	}
	methods := "OPTIONS, HEAD, GET, POST, PUT, DELETE"
	if m := firstHeader(req, "Access-Control-Request-Method"); m != "" {
		methods = m
	}
	set("Access-Control-Allow-Methods", methods)
	set("Access-Control-Allow-Headers", firstHeader(req, "Access-Control-Request-Headers"))
	var expose []string
	for _, h := range resp {
		if oneOfFold(h.Name, simpleResponseHeaders) || hasPrefixFold(h.Name, "Access-Control-") || hasPrefixFold(h.Name, "Grip-") {
			continue
		}
		expose = append(expose, h.Name)
	}
	set("Access-Control-Expose-Headers", strings.Join(expose, ", "))
	set("Access-Control-Allow-Credentials", "true")
	origin := firstHeader(req, "Origin")
	if origin == "" {
		origin = "*"
	}
	set("Access-Control-Allow-Origin", origin)
	set("Access-Control-Max-Age", "3600")
	return out
}

// jsonpResponse wraps a response for a JSON-P callback: 200 OK with
// Content-Type application/javascript, the other headers kept, and the
// body "/**/cb(<body>);\n" (basic) or "/**/cb({"body":…,"code":…,
// "headers":{…},"reason":…});\n" (extended; keys sorted and headers an
// object, as Qt's QJsonObject writes them; a repeated header name keeps its
// last value). Content-Length is left to the caller.
func jsonpResponse(cb string, extended bool, code int, reason string, headers []zhttp.Header, body []byte) ([]zhttp.Header, []byte) {
	out := make([]zhttp.Header, 0, len(headers)+1)
	for _, h := range headers {
		if !strings.EqualFold(h.Name, "Content-Type") && !strings.EqualFold(h.Name, "Content-Length") {
			out = append(out, h)
		}
	}
	out = append(out, zhttp.Header{Name: "Content-Type", Value: "application/javascript"})

	var b bytes.Buffer
	b.WriteString("/**/")
	b.WriteString(cb)
	b.WriteByte('(')
	if extended {
		hm := make(map[string]string, len(headers))
		for _, h := range headers {
			if !strings.EqualFold(h.Name, "Content-Length") {
				hm[h.Name] = h.Value
			}
		}
		names := make([]string, 0, len(hm))
		for n := range hm {
			names = append(names, n)
		}
		sort.Strings(names)
		b.WriteString(`{"body":`)
		writeJSONString(&b, string(body))
		b.WriteString(`,"code":`)
		b.WriteString(strconv.Itoa(code))
		b.WriteString(`,"headers":{`)
		for i, n := range names {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, n)
			b.WriteByte(':')
			writeJSONString(&b, hm[n])
		}
		b.WriteString(`},"reason":`)
		writeJSONString(&b, reason)
		b.WriteByte('}')
	} else {
		b.Write(body)
	}
	b.WriteString(");\n")
	return out, b.Bytes()
}

// writeJSONString writes s as a JSON string without HTML escaping (Qt
// does not escape <, > or &); invalid UTF-8 becomes U+FFFD written as
// such, as Qt's UTF-8 decoding and JSON writer produce it.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(strings.ToValidUTF8(s, "\uFFFD")) // a string always encodes
	b.Truncate(b.Len() - 1)                          // Encode's newline
}

func firstHeader(hs []zhttp.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func oneOfFold(s string, list []string) bool {
	for _, l := range list {
		if strings.EqualFold(s, l) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
