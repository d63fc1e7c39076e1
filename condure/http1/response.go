package http1

import (
	"net/http"
	"strconv"
)

// Framing is how a response body is delimited on the wire.
type Framing uint8

// Response body framings.
const (
	FramingNone    Framing = iota // no body (HEAD, 1xx, 204, 304)
	FramingLength                 // Content-Length
	FramingChunked                // Transfer-Encoding: chunked (HTTP/1.1 only)
	FramingClose                  // delimited by closing the connection (HTTP/1.0 streaming)
)

// ResponseHeader is one header from the responder, as ZHTTP carries it.
type ResponseHeader struct {
	Name, Value string
}

// ResponsePlan is the outcome of Plan: how the body is framed, its declared
// length, and whether the connection stays open afterwards.
type ResponsePlan struct {
	Framing    Framing
	Length     int64 // with FramingLength
	Persistent bool
}

// BodylessStatus reports whether a status never carries a body.
func BodylessStatus(code int) bool {
	return (code >= 100 && code < 200) || code == 204 || code == 304
}

// Plan decides the response framing the way condure 1.9.1 does (verified
// against the Debian binary): a responder-supplied Content-Length is used
// as is; otherwise a complete first packet (no "more") gets
// Content-Length: len(body); a streamed response is chunked for HTTP/1.1
// clients and close-delimited for HTTP/1.0. HEAD responses and bodyless
// statuses send no body (HEAD still declares the length). wantPersistent is
// what the request asked for (HTTP/1.1 without "Connection: close", or
// HTTP/1.0 with "Connection: keep-alive").
func Plan(minor int, head bool, code int, headers []ResponseHeader, firstBody int, more bool, wantPersistent bool) ResponsePlan {
	p := ResponsePlan{Persistent: wantPersistent}
	declared := int64(-1)
	for _, h := range headers {
		if equalFoldString(h.Name, "Content-Length") {
			if n, ok := ParseContentLength([]byte(h.Value)); ok {
				declared = n
			}
		}
	}
	switch {
	case BodylessStatus(code):
		p.Framing = FramingNone
	case declared >= 0:
		p.Framing, p.Length = FramingLength, declared
	case !more:
		p.Framing, p.Length = FramingLength, int64(firstBody)
	case minor >= 1:
		p.Framing = FramingChunked
	default:
		p.Framing = FramingClose
		p.Persistent = false
	}
	if head && p.Framing != FramingNone {
		// The declared length stays in the head; no body bytes follow.
		if p.Framing != FramingLength {
			p.Persistent = false
		}
	}
	return p
}

// hopHeaders are responder headers condure never copies: it renders its
// own framing and connection management.
func hopHeader(name string) bool {
	return equalFoldString(name, "Connection") || equalFoldString(name, "Content-Length") ||
		equalFoldString(name, "Transfer-Encoding") || equalFoldString(name, "Keep-Alive")
}

// AppendResponseHead renders a response head for plan. Responder headers
// keep their order; condure's own Connection and framing headers follow, as
// condure 1.9.1 writes them (e.g. "Connection: Transfer-Encoding" then
// "Transfer-Encoding: chunked"). extra headers (already filtered) are
// appended after the responder's, before the framing headers.
func AppendResponseHead(dst []byte, minor int, code int, reason string, headers []ResponseHeader, skip func(name string) bool, extra []ResponseHeader, plan ResponsePlan) []byte {
	if minor == 0 {
		dst = append(dst, "HTTP/1.0 "...)
	} else {
		dst = append(dst, "HTTP/1.1 "...)
	}
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if reason == "" {
		reason = http.StatusText(code)
	}
	dst = appendSafe(dst, reason)
	dst = append(dst, "\r\n"...)
	for _, h := range headers {
		if hopHeader(h.Name) || (skip != nil && skip(h.Name)) {
			continue
		}
		dst = appendHeader(dst, h.Name, h.Value)
	}
	for _, h := range extra {
		dst = appendHeader(dst, h.Name, h.Value)
	}
	switch {
	case code == 101:
		// The caller supplies Upgrade/Connection for a WebSocket accept.
	case minor == 0:
		if plan.Persistent {
			dst = append(dst, "Connection: keep-alive\r\n"...)
		}
	default:
		// condure 1.9.1 writes both lines for a chunked response it will
		// close (verified: "Connection: close" then "Connection:
		// Transfer-Encoding" when a response starts before the request
		// body was read).
		if !plan.Persistent {
			dst = append(dst, "Connection: close\r\n"...)
		}
		if plan.Framing == FramingChunked {
			dst = append(dst, "Connection: Transfer-Encoding\r\n"...)
		}
	}
	switch plan.Framing {
	case FramingLength:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, plan.Length, 10)
		dst = append(dst, "\r\n"...)
	case FramingChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func appendHeader(dst []byte, name, value string) []byte {
	dst = appendSafe(dst, name)
	dst = append(dst, ": "...)
	dst = appendSafe(dst, value)
	return append(dst, "\r\n"...)
}

// appendSafe appends s with CR and LF replaced by spaces, so a responder
// can never split the response head (header injection).
func appendSafe(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// AppendChunk appends one chunk of a chunked body (nothing for empty data,
// which would terminate the body).
func AppendChunk(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = strconv.AppendInt(dst, int64(len(data)), 16)
	dst = append(dst, "\r\n"...)
	dst = append(dst, data...)
	return append(dst, "\r\n"...)
}

// LastChunk terminates a chunked body.
const LastChunk = "0\r\n\r\n"

// AppendSimpleResponse renders a complete small response condure itself
// originates (errors before any session exists), with Connection: close.
func AppendSimpleResponse(dst []byte, minor int, code int, body string) []byte {
	plan := ResponsePlan{Framing: FramingLength, Length: int64(len(body))}
	extra := []ResponseHeader{{Name: "Content-Type", Value: "text/plain"}}
	dst = AppendResponseHead(dst, minor, code, "", nil, nil, extra, plan)
	return append(dst, body...)
}

func equalFoldString(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// EqualFoldString reports whether a equals b, ASCII case-insensitively.
func EqualFoldString(a, b string) bool { return equalFoldString(a, b) }
