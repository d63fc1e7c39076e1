package publish

import (
	"encoding/json"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Header is one HTTP header of a published response. It is zhttp.Header so
// the handler can hand published headers to a ZHTTP response without copying.
type Header = zhttp.Header

// Action is what a format asks the subscriber's session to do (§6.6).
type Action uint8

// Actions. The zero value is ActionSend, the default when "action" is absent.
const (
	// ActionSend delivers the format's payload.
	ActionSend Action = iota
	// ActionHint asks the session to fetch the data itself: response holds
	// retry the origin request, stream holds fetch their next link,
	// WebSocket sessions ignore it.
	ActionHint
	// ActionClose ends stream holds and closes WebSocket sessions; response
	// holds ignore it.
	ActionClose
)

// String returns the wire name of a.
func (a Action) String() string {
	switch a {
	case ActionHint:
		return "hint"
	case ActionClose:
		return "close"
	}
	return "send"
}

func parseAction(s string) (Action, bool) {
	switch s {
	case "send":
		return ActionSend, true
	case "hint":
		return ActionHint, true
	case "close":
		return ActionClose, true
	}
	return 0, false
}

// MessageType is the kind of WebSocket message a ws-message send produces.
type MessageType uint8

// WebSocket message types.
const (
	MessageText MessageType = iota
	MessageBinary
	MessagePing
	MessagePong
)

// String returns the wire name of t (also the ws-control content type).
func (t MessageType) String() string {
	switch t {
	case MessageBinary:
		return "binary"
	case MessagePing:
		return "ping"
	case MessagePong:
		return "pong"
	}
	return "text"
}

func parseMessageType(s string) (MessageType, bool) {
	switch s {
	case "text":
		return MessageText, true
	case "binary":
		return MessageBinary, true
	case "ping":
		return MessagePing, true
	case "pong":
		return MessagePong, true
	}
	return 0, false
}

// Filter names Pushpin 1.36 knows (§5.6). Publish formats list the content
// filters of a subscription in ContentFilters; subscriptions name them in
// Grip-Channel "filter" parameters.
const (
	FilterSkipSelf   = "skip-self"
	FilterSkipUsers  = "skip-users"
	FilterRequireSub = "require-sub"
	FilterBuildID    = "build-id"
	FilterVarSubst   = "var-subst"
)

// Item is one published message for one channel.
type Item struct {
	// Channel is the channel name. Items received on the SUB input take it
	// from the topic frame instead of the payload.
	Channel string
	// ID and PrevID are the item's id and the id of the item it follows,
	// used by the sequencer and de-duplication (§6.3); "" means absent.
	ID     string
	PrevID string
	// Meta is the publish meta read by filters (sender, skip_users,
	// require_sub, …); nil when absent.
	Meta map[string]string
	// Size overrides the size used for block accounting when HasSize is set.
	Size    int
	HasSize bool
	// NoSeq bypasses the prev-id sequencer.
	NoSeq bool

	// The formats; nil when the item has no such format. Pushpin rejects an
	// item without any format key but accepts one whose "formats" object
	// holds only unknown keys, so all three may be nil.
	HTTPResponse *HTTPResponseFormat
	HTTPStream   *HTTPStreamFormat
	WSMessage    *WSMessageFormat
}

// HTTPResponseFormat is the "http-response" format, delivered to response
// (long-poll) holds. Fields other than Action are only read for ActionSend.
type HTTPResponseFormat struct {
	Action Action
	// Code is the status code (0–999, default 200); Reason defaults to
	// StatusText(Code).
	Code   int
	Reason string
	// Headers in the order given; they override same-named headers of the
	// instruct response.
	Headers []Header
	// Body is the response body unless BodyPatch is set.
	Body []byte
	// BodyPatch, when non-nil, is a compact JSON array of RFC 6902
	// operations to apply to the instruct response body (see ApplyPatch).
	// It is kept raw: Pushpin only validates it when applying it.
	BodyPatch json.RawMessage
	// ContentFilters, when non-nil, must equal the subscription's content
	// filters for delivery; nil means the field was absent (no check), an
	// empty non-nil slice that it was given as [].
	ContentFilters []string
}

// HTTPStreamFormat is the "http-stream" format, appended to stream holds.
type HTTPStreamFormat struct {
	Action Action
	// Content is the data to append (ActionSend).
	Content []byte
	// ContentFilters as in HTTPResponseFormat.
	ContentFilters []string
}

// WSMessageFormat is the "ws-message" format, sent to WebSocket sessions.
type WSMessageFormat struct {
	Action Action
	// Type defaults to text for "content" and to binary for "content-bin".
	Type MessageType
	// Content is the message payload; ping and pong may have none.
	Content []byte
	// Code and Reason are the close frame's code (when HasCode) and reason
	// for ActionClose.
	Code    int
	HasCode bool
	Reason  string
	// ContentFilters as in HTTPResponseFormat.
	ContentFilters []string
}
