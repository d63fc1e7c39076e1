package engine

import (
	"strings"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// simpleResponseHeaders need no Access-Control-Expose-Headers entry.
var simpleResponseHeaders = []string{"Cache-Control", "Content-Language", "Content-Length", "Content-Type", "Expires", "Last-Modified", "Pragma"}

// addCORSHeaders adds the headers of auto_cross_origin / route aco
// (reference §5.9, Pushpin's cors.cpp), each only when the origin did not
// set it.
func addCORSHeaders(resp, req []zhttp.Header) []zhttp.Header {
	out := append([]zhttp.Header(nil), resp...)
	set := func(name, value string) {
		if _, ok := firstHeader(out, name); !ok && value != "" {
			out = append(out, zhttp.Header{Name: name, Value: value})
		}
	}
	methods := "OPTIONS, HEAD, GET, POST, PUT, DELETE"
	if m, ok := firstHeader(req, "Access-Control-Request-Method"); ok && m != "" {
		methods = m
	}
	set("Access-Control-Allow-Methods", methods)
	if hs, ok := firstHeader(req, "Access-Control-Request-Headers"); ok {
		set("Access-Control-Allow-Headers", hs)
	}
	var expose []string
	for _, h := range resp {
		if isOneOfFold(h.Name, simpleResponseHeaders) || hasPrefixFold(h.Name, "Access-Control-") || hasPrefixFold(h.Name, "Grip-") {
			continue
		}
		expose = append(expose, h.Name)
	}
	set("Access-Control-Expose-Headers", strings.Join(expose, ", "))
	set("Access-Control-Allow-Credentials", "true")
	origin := "*"
	if o, ok := firstHeader(req, "Origin"); ok && o != "" {
		origin = o
	}
	set("Access-Control-Allow-Origin", origin)
	set("Access-Control-Max-Age", "3600")
	return out
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
