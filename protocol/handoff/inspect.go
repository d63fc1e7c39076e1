package handoff

import (
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
)

// InspectArgs are the args of the inspect call the proxy makes for every new
// request, after prefetching up to 10000 bytes of body (reference §4.2).
type InspectArgs struct {
	Method  string
	URI     string
	Headers []Header
	Body    []byte // the prefetched part of the body
	// Truncated: the body is longer than what was prefetched.
	Truncated bool
	// GetSession: the route has the session flag; the handler asks the
	// state service for session detection.
	GetSession bool
	// AutoShare: the request is a handler-originated next-link request
	// (passthrough auto-share); the handler answers with an "auto|…"
	// sharing key.
	AutoShare bool
}

// Value returns the args dict; the flags are written only when true.
func (a InspectArgs) Value() tnetstring.Value {
	v := tnetstring.D(
		"method", tnetstring.S(a.Method),
		"uri", tnetstring.S(a.URI),
		"headers", headersValue(a.Headers),
		"body", bodyValue(a.Body))
	setTrue(&v, "truncated", a.Truncated)
	setTrue(&v, "get-session", a.GetSession)
	setTrue(&v, "auto-share", a.AutoShare)
	return v
}

// Request returns the ZRPC inspect request with the given id.
func (a InspectArgs) Request(id string) zrpc.Request {
	return zrpc.Request{ID: id, Method: zrpc.MethodInspect, Args: a.Value()}
}

// ParseInspectArgs reads inspect args as the handler does: method, uri,
// headers and body are required; the flags must be bools when present.
func ParseInspectArgs(args tnetstring.Value) (InspectArgs, error) {
	o, err := topObj("inspect args", args)
	if err != nil {
		return InspectArgs{}, err
	}
	var a InspectArgs
	if a.Method, err = o.str("method", true); err != nil {
		return InspectArgs{}, err
	}
	if a.URI, err = o.uri("uri"); err != nil {
		return InspectArgs{}, err
	}
	if a.Headers, err = o.headers("headers", true); err != nil {
		return InspectArgs{}, err
	}
	if a.Body, err = o.bytes("body", true); err != nil {
		return InspectArgs{}, err
	}
	if a.Truncated, err = o.boolean("truncated"); err != nil {
		return InspectArgs{}, err
	}
	if a.GetSession, err = o.boolean("get-session"); err != nil {
		return InspectArgs{}, err
	}
	if a.AutoShare, err = o.boolean("auto-share"); err != nil {
		return InspectArgs{}, err
	}
	return a, nil
}

// ParseInspectResult reads the value of a successful inspect response as the
// proxy does: no-proxy (bool) is required; sharing-key, sid (strings),
// last-ids (dict of strings) and user-data are optional.
func ParseInspectResult(v tnetstring.Value) (InspectData, error) {
	o, err := topObj("inspect result", v)
	if err != nil {
		return InspectData{}, err
	}
	return o.inspectData()
}
