// Package zrpc is ZRPC, the request/response protocol Pushpin's components
// speak over ZeroMQ DEALER/ROUTER sockets: the proxy's inspect and accept
// calls to the handler, and the command sockets of the handler and the proxy
// (reference §4.1, §4.8).
//
// A request is a bare tnetstring dict {id?, method, args?}; a response is
// {id, success:true, value} or {id, success:false, condition, value?}. Unlike
// ZHTTP there is no 'T' prefix. The client matches responses to requests by
// id, so a server must echo the request id unchanged.
//
// The invariant a reader must keep in mind: decoded byte data (Args, Value)
// aliases the message it was decoded from. zmq4 hands out a fresh buffer per
// received message, so keeping a decoded packet is safe unless the caller
// reuses its receive buffer.
//
// The socket framings (DEALER client, ROUTER server with multi-hop envelopes)
// live in frame.go; the command-socket methods in command.go.
package zrpc

import (
	"errors"
	"fmt"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// Error conditions Pushpin's ZRPC servers reply with (reference §4.3, §4.8).
const (
	// CondBadFormat: the request could be parsed but its content is wrong;
	// the handler uses it for invalid GRIP instructions in accept, with the
	// error text as value.
	CondBadFormat = "bad-format"
	// CondBadRequest: args missing or of the wrong type.
	CondBadRequest = "bad-request"
	// CondMethodNotFound: unknown method.
	CondMethodNotFound = "method-not-found"
	// CondItemNotFound: the addressed item (e.g. a refresh cid) is unknown.
	CondItemNotFound = "item-not-found"
	// CondServiceUnavailable: the service behind the method is not running
	// (e.g. the proxy's conncheck without stats, report without updates_check).
	CondServiceUnavailable = "service-unavailable"
)

// ErrInvalid is wrapped by every decoding error, so callers can tell a
// malformed packet (log and skip, as Pushpin does) from other failures.
var ErrInvalid = errors.New("invalid zrpc packet")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ConditionError is a failed response seen as a Go error. It matches another
// *ConditionError with errors.Is when the conditions are equal, so callers
// can write errors.Is(err, zrpc.ErrItemNotFound).
type ConditionError struct {
	Condition string
	Value     tnetstring.Value // optional detail; zero = absent
}

func (e *ConditionError) Error() string {
	if e.Value.Kind == tnetstring.String && len(e.Value.Str) > 0 {
		return fmt.Sprintf("zrpc: %s: %s", e.Condition, e.Value.Str)
	}
	return "zrpc: " + e.Condition
}

// Is reports whether target is a *ConditionError with the same condition.
func (e *ConditionError) Is(target error) bool {
	t, ok := target.(*ConditionError)
	return ok && t.Condition == e.Condition
}

// Sentinel errors for the conditions, for use with errors.Is.
var (
	ErrBadFormat          = &ConditionError{Condition: CondBadFormat}
	ErrBadRequest         = &ConditionError{Condition: CondBadRequest}
	ErrMethodNotFound     = &ConditionError{Condition: CondMethodNotFound}
	ErrItemNotFound       = &ConditionError{Condition: CondItemNotFound}
	ErrServiceUnavailable = &ConditionError{Condition: CondServiceUnavailable}
)

// Request is a ZRPC call.
type Request struct {
	// ID correlates the response; empty = absent (Pushpin's clients always
	// set one, a UUID).
	ID string
	// Method names the call, e.g. "inspect", "accept", "get-zmq-uris".
	Method string
	// Args is a dict, or the zero Value when the call has no arguments.
	Args tnetstring.Value
}

// Response is the reply to a Request.
type Response struct {
	ID      string // the request's id, echoed; empty = absent
	Success bool
	// Condition names the failure (one of the Cond* constants, or another
	// string); only meaningful when Success is false.
	Condition string
	// Value is the result on success (the zero Value is sent as null, as
	// Pushpin sends an invalid QVariant), or optional detail on failure.
	Value tnetstring.Value
}

// Success returns a successful response to the request with the given id.
func Success(id string, value tnetstring.Value) Response {
	return Response{ID: id, Success: true, Value: value}
}

// Failure returns a failed response; value may be the zero Value.
func Failure(id, condition string, value tnetstring.Value) Response {
	return Response{ID: id, Condition: condition, Value: value}
}

// FailureText returns a failed response whose value is a text message, as
// the handler sends for bad-format ("Invalid format: …", instruct errors).
func FailureText(id, condition, text string) Response {
	return Failure(id, condition, tnetstring.S(text))
}

// Err returns nil for a successful response and a *ConditionError otherwise.
func (r Response) Err() error {
	if r.Success {
		return nil
	}
	return &ConditionError{Condition: r.Condition, Value: r.Value}
}

// Encode returns the bare tnetstring encoding of r.
func (r Request) Encode() []byte { return r.Append(nil) }

// Append appends the bare tnetstring encoding of r to dst. Fields are written
// in the order id, method, args (the order of the verified capture, §4.1).
// It panics if Args is present and not a dict, which is a programming error.
func (r Request) Append(dst []byte) []byte {
	if !r.Args.IsZero() && r.Args.Kind != tnetstring.Dict {
		panic("zrpc: request args must be a dict, not " + r.Args.Kind.String())
	}
	e := tnetstring.NewEncoder(dst)
	e.BeginDict()
	if r.ID != "" {
		e.Str("id")
		e.Str(r.ID)
	}
	e.Str("method")
	e.Str(r.Method)
	if !r.Args.IsZero() {
		e.Str("args")
		e.Value(r.Args)
	}
	e.End()
	return e.Bytes()
}

// Encode returns the bare tnetstring encoding of r.
func (r Response) Encode() []byte { return r.Append(nil) }

// Append appends the bare tnetstring encoding of r to dst.
func (r Response) Append(dst []byte) []byte {
	e := tnetstring.NewEncoder(dst)
	e.BeginDict()
	if r.ID != "" {
		e.Str("id")
		e.Str(r.ID)
	}
	e.Str("success")
	e.Bool(r.Success)
	if !r.Success {
		e.Str("condition")
		e.Str(r.Condition)
	}
	// Pushpin always writes value on success (null when unset) and only
	// when set on failure.
	if r.Success || !r.Value.IsZero() {
		e.Str("value")
		e.Value(r.Value)
	}
	e.End()
	return e.Bytes()
}

// decodeDict decodes b as exactly one tnetstring dict.
func decodeDict(what string, b []byte) (tnetstring.Value, error) {
	v, err := tnetstring.Decode(b)
	if err != nil {
		return tnetstring.Value{}, invalid("%s: %v", what, err)
	}
	if v.Kind != tnetstring.Dict {
		return tnetstring.Value{}, invalid("%s is a %s, not a dict", what, v.Kind)
	}
	return v, nil
}

// optString reads an optional string field.
func optString(what string, d tnetstring.Value, key string) (string, error) {
	v, ok := d.Get(key)
	if !ok {
		return "", nil
	}
	if v.Kind != tnetstring.String {
		return "", invalid("%s %q must be of type string, not %s", what, key, v.Kind)
	}
	return string(v.Str), nil
}

// DecodeRequest parses a bare tnetstring request. As in Pushpin, method is
// required and must be a string, id (if present) a string and args (if
// present) a dict; unknown keys are ignored and a repeated key takes its last
// value.
func DecodeRequest(b []byte) (Request, error) {
	d, err := decodeDict("request", b)
	if err != nil {
		return Request{}, err
	}
	var r Request
	if r.ID, err = optString("request", d, "id"); err != nil {
		return Request{}, err
	}
	m, ok := d.Get("method")
	if !ok {
		return Request{}, invalid("request has no method")
	}
	if m.Kind != tnetstring.String {
		return Request{}, invalid("request \"method\" must be of type string, not %s", m.Kind)
	}
	r.Method = string(m.Str)
	if a, ok := d.Get("args"); ok {
		if a.Kind != tnetstring.Dict {
			return Request{}, invalid("request \"args\" must be of type dict, not %s", a.Kind)
		}
		r.Args = a
	}
	return r, nil
}

// DecodeResponse parses a bare tnetstring response. success (bool) is
// required; a successful response must carry value (possibly null), a failed
// one a string condition and optionally a value.
func DecodeResponse(b []byte) (Response, error) {
	d, err := decodeDict("response", b)
	if err != nil {
		return Response{}, err
	}
	var r Response
	if r.ID, err = optString("response", d, "id"); err != nil {
		return Response{}, err
	}
	s, ok := d.Get("success")
	if !ok {
		return Response{}, invalid("response has no success")
	}
	if s.Kind != tnetstring.Bool {
		return Response{}, invalid("response \"success\" must be of type bool, not %s", s.Kind)
	}
	r.Success = s.Bool
	v, hasValue := d.Get("value")
	if r.Success {
		if !hasValue {
			return Response{}, invalid("successful response has no value")
		}
		r.Value = v
		return r, nil
	}
	c, ok := d.Get("condition")
	if !ok {
		return Response{}, invalid("failed response has no condition")
	}
	if c.Kind != tnetstring.String {
		return Response{}, invalid("response \"condition\" must be of type string, not %s", c.Kind)
	}
	r.Condition = string(c.Str)
	if hasValue {
		r.Value = v
	}
	return r, nil
}
