package publish

import (
	"fmt"
	"strconv"
)

// Source is the encoding an item was decoded from. It decides how "-bin"
// fields and nulls are read (see the package documentation).
type Source uint8

// Sources.
const (
	SourceJSON Source = iota + 1
	SourceTnet
	SourceMsgpack
)

// String names the encoding.
func (s Source) String() string {
	switch s {
	case SourceJSON:
		return "JSON"
	case SourceTnet:
		return "tnetstring"
	case SourceMsgpack:
		return "msgpack"
	}
	return "unknown"
}

// ErrorKind classifies a decoding failure the way Pushpin's replies do.
type ErrorKind uint8

// Error kinds.
const (
	// KindSyntax: the bytes are not a valid document of their encoding.
	KindSyntax ErrorKind = iota + 1
	// KindNotObject: the document parsed but its top level is not an object
	// where one is required (HTTP body, 'J' message).
	KindNotObject
	// KindInvalid: the structure or a field is wrong; Detail says what.
	KindInvalid
)

// Error is a rejected publish request or item. It carries both Pushpin's
// wording (Detail, rendered by PushpinText and LogText) and ours (Error),
// which adds the item's position in the batch and explains the cases where
// Pushpin says nothing.
type Error struct {
	Kind   ErrorKind
	Source Source
	// Index is the position of the offending item in the batch, or -1 when
	// the error concerns the whole request or a single-item message.
	Index int
	// Detail is Pushpin's message for KindInvalid, verbatim. It is empty
	// where Pushpin gives none (an unknown "action", an instruct "response"
	// that is not an object).
	Detail string
	// Hint is our own explanation, set when Detail is empty or vague.
	Hint string
	// Err is the underlying parse error for KindSyntax.
	Err error
}

// Error describes the problem for the publisher, e.g.
// "item 3: 'ws-message' contains 'type' with unknown value".
func (e *Error) Error() string {
	var msg string
	switch e.Kind {
	case KindSyntax:
		msg = "invalid " + e.Source.String()
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
	case KindNotObject:
		msg = e.Source.String() + " value is not an object"
	default:
		msg = e.Detail
		if e.Hint != "" {
			if msg == "" {
				msg = e.Hint
			} else {
				msg += " (" + e.Hint + ")"
			}
		}
	}
	if e.Index >= 0 {
		return "item " + strconv.Itoa(e.Index) + ": " + msg
	}
	return msg
}

// Unwrap returns the underlying parse error, if any.
func (e *Error) Unwrap() error { return e.Err }

// PushpinText is the text pushpin-handler answers on the HTTP control API
// (followed by "\n", status 400) and in the command socket's bad-request
// value: "Body is not valid JSON.", "Invalid format." or
// "Invalid format: <detail>" (§6.1, §4.8).
func (e *Error) PushpinText() string {
	switch e.Kind {
	case KindSyntax:
		return "Body is not valid JSON."
	case KindNotObject:
		return "Invalid format."
	}
	return "Invalid format: " + e.Detail
}

// LogText is what pushpin-handler logs (after "IN pull: " or "IN sub: ")
// when it drops an item received over ZeroMQ.
func (e *Error) LogText() string {
	switch e.Kind {
	case KindSyntax:
		switch e.Source {
		case SourceJSON:
			return "received message with invalid format (json parse failed)"
		case SourceMsgpack:
			return "received message with invalid format (msgpack parse failed)"
		}
		return "received message with invalid format (tnetstring parse failed)"
	case KindNotObject:
		return "received message with invalid format (not a valid json object)"
	}
	return "received message with invalid format: " + e.Detail
}

func invalidf(format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Index: -1, Detail: fmt.Sprintf(format, args...)}
}

func wrongType(parent, key string) *Error {
	return invalidf("%s contains '%s' with wrong type", parent, key)
}

func invalidValue(parent, key string) *Error {
	return invalidf("%s contains '%s' with invalid value", parent, key)
}
