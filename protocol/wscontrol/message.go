package wscontrol

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// GRIP control messages (reference §5.7): a GRIP-enabled origin sends text
// messages "c:" + JSON object to the client side of a WebSocket (or
// WebSocket-over-HTTP) session. The proxy never delivers them to the client;
// it forwards the JSON in a grip item's Message and the handler acts on it.
// They live here because they only ever travel inside ws-control packets.

// Prefixes of origin → client messages on GRIP-enabled WebSockets.
const (
	// ControlPrefix marks a GRIP control message (single-frame text only).
	ControlPrefix = "c:"
	// DefaultMessagePrefix marks a message for the client, unless the
	// origin chose another with the grip extension's message-prefix param.
	DefaultMessagePrefix = "m:"
)

// MessageType is a control message's "type".
type MessageType uint8

// Control message types. There is no "close" in Pushpin 1.36.
const (
	MsgSubscribe    MessageType = iota + 1 // channel, filters?
	MsgUnsubscribe                         // channel
	MsgDetach                              // proxy drops the origin side
	MsgSession                             // id? (absent or empty clears)
	MsgSetMeta                             // name, value? (absent deletes)
	MsgKeepAlive                           // content|content-bin, message-type, timeout, mode
	MsgSendDelayed                         // content|content-bin, message-type, timeout
	MsgFlushDelayed                        // send the pending delayed message now
)

var msgTypeNames = [...]string{
	MsgSubscribe:    "subscribe",
	MsgUnsubscribe:  "unsubscribe",
	MsgDetach:       "detach",
	MsgSession:      "session",
	MsgSetMeta:      "set-meta",
	MsgKeepAlive:    "keep-alive",
	MsgSendDelayed:  "send-delayed",
	MsgFlushDelayed: "flush-delayed",
}

// String returns the wire name.
func (t MessageType) String() string {
	if t > 0 && int(t) < len(msgTypeNames) {
		return msgTypeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Timeouts (seconds) the handler uses when a message gives none (or 0).
const (
	DefaultKeepAliveTimeout   = 55
	DefaultSendDelayedTimeout = 1
)

// ControlMessage is a parsed GRIP control message.
type ControlMessage struct {
	Type MessageType

	Channel string   // subscribe, unsubscribe: non-empty, without the route prefix
	Filters []string // subscribe

	SessionID string // session: absent or "" clears the session

	MetaName  string  // set-meta: non-empty
	MetaValue *string // set-meta: nil (value absent) deletes the meta entry

	// ContentType is the frame kind of keep-alive and send-delayed content:
	// ContentText (the default, also for content-bin — a Pushpin quirk),
	// ContentBinary, ContentPing or ContentPong.
	ContentType string
	// Content is the message for keep-alive and send-delayed; nil = absent
	// (a keep-alive without content disables keep-alives).
	Content []byte
	// Timeout in seconds; 0 = absent (the handler then uses the default).
	// Only read when Content is present, as in Pushpin.
	Timeout int
	// Mode is the raw keep-alive mode ("" = absent); see KeepAliveMode.
	Mode string
}

// KeepAliveMode returns the mode the handler puts in keep-alive-setup:
// KeepAliveInterval if asked for, KeepAliveIdle for anything else.
func (m ControlMessage) KeepAliveMode() string {
	if m.Mode == KeepAliveInterval {
		return KeepAliveInterval
	}
	return KeepAliveIdle
}

// EffectiveTimeout returns Timeout, or the handler's default for the type
// when it is 0.
func (m ControlMessage) EffectiveTimeout() int {
	switch {
	case m.Timeout > 0:
		return m.Timeout
	case m.Type == MsgSendDelayed:
		return DefaultSendDelayedTimeout
	}
	return DefaultKeepAliveTimeout
}

// ErrNotJSON is returned for a control message that is not a JSON object or
// array; the handler logs "grip control message is not valid json".
var ErrNotJSON = errors.New("grip control message is not valid json")

// MessageError is a control message that is JSON but not a valid message.
// Its text is the handler's, e.g. "'type' contains unknown value: close", so
// logs read "failed to parse grip control message: <text>" as in Pushpin.
type MessageError struct {
	Msg string
}

func (e *MessageError) Error() string { return e.Msg }

const objName = "grip control object"

func msgErr(format string, args ...string) error {
	s := format
	for _, a := range args {
		s = strings.Replace(s, "%s", a, 1)
	}
	return &MessageError{Msg: s}
}

// ParseControlMessage parses the JSON of a control message (without the
// "c:" prefix) with the handler's rules and error texts. As in Pushpin, a
// JSON null is the wrong type for every field, optional ones included.
func ParseControlMessage(data []byte) (ControlMessage, error) {
	v, err := tnetstring.FromJSON(data)
	if err != nil || (v.Kind != tnetstring.Dict && v.Kind != tnetstring.List) {
		return ControlMessage{}, ErrNotJSON
	}
	if v.Kind != tnetstring.Dict {
		return ControlMessage{}, msgErr("grip control packet is not an object")
	}
	var m ControlMessage
	typ, _, err := getString(v, "type", true)
	if err != nil {
		return ControlMessage{}, err
	}
	switch typ {
	case "subscribe":
		m.Type = MsgSubscribe
	case "unsubscribe":
		m.Type = MsgUnsubscribe
	case "detach":
		m.Type = MsgDetach
	case "session":
		m.Type = MsgSession
	case "set-meta":
		m.Type = MsgSetMeta
	case "keep-alive":
		m.Type = MsgKeepAlive
	case "send-delayed":
		m.Type = MsgSendDelayed
	case "flush-delayed":
		m.Type = MsgFlushDelayed
	default:
		return ControlMessage{}, msgErr("'type' contains unknown value: %s", typ)
	}

	switch m.Type {
	case MsgSubscribe, MsgUnsubscribe:
		if m.Channel, _, err = getString(v, "channel", true); err != nil {
			return ControlMessage{}, err
		}
		if m.Channel == "" {
			return ControlMessage{}, msgErr("%s contains 'channel' with invalid value", objName)
		}
		if m.Type == MsgSubscribe {
			if m.Filters, err = getFilters(v); err != nil {
				return ControlMessage{}, err
			}
		}
	case MsgSession:
		if m.SessionID, _, err = getString(v, "id", false); err != nil {
			return ControlMessage{}, err
		}
	case MsgSetMeta:
		if m.MetaName, _, err = getString(v, "name", true); err != nil {
			return ControlMessage{}, err
		}
		if m.MetaName == "" {
			return ControlMessage{}, msgErr("%s contains 'name' with invalid value", objName)
		}
		val, ok, err := getString(v, "value", false)
		if err != nil {
			return ControlMessage{}, err
		}
		if ok {
			m.MetaValue = &val
		}
	case MsgKeepAlive, MsgSendDelayed:
		if err := m.parseContent(v); err != nil {
			return ControlMessage{}, err
		}
	}
	return m, nil
}

func (m *ControlMessage) parseContent(v tnetstring.Value) error {
	mt, ok, err := getString(v, "message-type", false)
	if err != nil {
		return err
	}
	m.ContentType = ContentText
	if ok {
		switch mt {
		case ContentText, ContentBinary, ContentPing, ContentPong:
			m.ContentType = mt
		default:
			return msgErr("%s contains 'message-type' with unknown value", objName)
		}
	}
	// Pushpin picks content-bin over content and, because message-type
	// already defaulted to text, never switches binary content to binary.
	if cb, ok := v.Get("content-bin"); ok {
		if cb.Kind != tnetstring.String {
			return msgErr("%s contains 'content-bin' with wrong type", objName)
		}
		m.Content = decodeBase64Lenient(cb.Str)
	} else if c, ok := v.Get("content"); ok {
		if c.Kind != tnetstring.String {
			return msgErr("%s contains 'content' with wrong type", objName)
		}
		m.Content = c.Str // FromJSON made a copy
		if m.Content == nil {
			m.Content = []byte{}
		}
	}
	if m.Content != nil {
		if t, ok := v.Get("timeout"); ok {
			n, ok := qtToInt(t)
			if !ok {
				return msgErr("%s contains 'timeout' with wrong type", objName)
			}
			if n < 0 || n > math.MaxInt32 {
				return msgErr("%s contains 'timeout' with invalid value", objName)
			}
			m.Timeout = int(n)
		}
	}
	if m.Type == MsgKeepAlive {
		if m.Mode, _, err = getString(v, "mode", false); err != nil {
			return err
		}
	}
	return nil
}

// getString reads a string field. A JSON null is the wrong type, even for
// optional fields (verified against pushpin-handler 1.36: Qt 5.15 maps null
// to a valid QVariant holding nullptr).
func getString(v tnetstring.Value, key string, required bool) (string, bool, error) {
	f, ok := v.Get(key)
	if !ok {
		if required {
			return "", false, msgErr("%s does not contain '%s'", objName, key)
		}
		return "", false, nil
	}
	if f.Kind != tnetstring.String {
		return "", false, msgErr("%s contains '%s' with wrong type", objName, key)
	}
	return string(f.Str), true, nil
}

func getFilters(v tnetstring.Value) ([]string, error) {
	f, ok := v.Get("filters")
	if !ok {
		return nil, nil
	}
	if f.Kind != tnetstring.List {
		return nil, msgErr("%s contains 'filters' with wrong type", objName)
	}
	out := make([]string, 0, len(f.List))
	for _, e := range f.List {
		if e.Kind != tnetstring.String {
			return nil, msgErr("filters contains value with wrong type")
		}
		out = append(out, string(e.Str))
	}
	return out, nil
}

// qtToInt converts a JSON value to an int the way Qt 5's QVariant does for
// the timeout field (verified against pushpin-handler 1.36): numbers round
// half up (2.6 → 3), numeric strings parse after trimming spaces (others
// read 0, i.e. the default), bools read 0/1; null, lists and objects are
// the wrong type.
func qtToInt(v tnetstring.Value) (int64, bool) {
	switch v.Kind {
	case tnetstring.Int:
		return v.Int, true
	case tnetstring.Float:
		f := math.Floor(v.Float + 0.5)
		if f < math.MinInt64 || f > math.MaxInt64 {
			return math.MaxInt64, true // out of range either way
		}
		return int64(f), true
	case tnetstring.String:
		n, err := strconv.ParseInt(strings.TrimSpace(string(v.Str)), 10, 64)
		if err != nil {
			return 0, true
		}
		return n, true
	case tnetstring.Bool:
		if v.Bool {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// decodeBase64Lenient decodes like Qt's QByteArray::fromBase64: characters
// outside the alphabet are skipped and padding is optional.
func decodeBase64Lenient(s []byte) []byte {
	clean := make([]byte, 0, len(s))
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		}
	}
	if len(clean)%4 == 1 { // a lone trailing sextet carries no full byte
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	// Only non-canonical trailing bits can fail here; keep what decoded,
	// as Qt does.
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// AppendJSON appends m as a compact JSON control message (without the "c:"
// prefix). Content is written as "content" when it is valid UTF-8 text and
// as base64 "content-bin" otherwise; message-type is written unless text.
func (m ControlMessage) AppendJSON(dst []byte) []byte {
	v := tnetstring.D("type", tnetstring.S(m.Type.String()))
	switch m.Type {
	case MsgSubscribe, MsgUnsubscribe:
		v.Set("channel", tnetstring.S(m.Channel))
		if m.Type == MsgSubscribe && len(m.Filters) > 0 {
			l := tnetstring.Value{Kind: tnetstring.List}
			for _, f := range m.Filters {
				l.List = append(l.List, tnetstring.S(f))
			}
			v.Set("filters", l)
		}
	case MsgSession:
		if m.SessionID != "" {
			v.Set("id", tnetstring.S(m.SessionID))
		}
	case MsgSetMeta:
		v.Set("name", tnetstring.S(m.MetaName))
		if m.MetaValue != nil {
			v.Set("value", tnetstring.S(*m.MetaValue))
		}
	case MsgKeepAlive, MsgSendDelayed:
		if m.ContentType != "" && m.ContentType != ContentText {
			v.Set("message-type", tnetstring.S(m.ContentType))
		}
		if m.Content != nil {
			if utf8.Valid(m.Content) {
				v.Set("content", tnetstring.B(m.Content))
			} else {
				v.Set("content-bin", tnetstring.S(base64.StdEncoding.EncodeToString(m.Content)))
			}
			if m.Timeout > 0 {
				v.Set("timeout", tnetstring.I(int64(m.Timeout)))
			}
		}
		if m.Type == MsgKeepAlive && m.Mode != "" {
			v.Set("mode", tnetstring.S(m.Mode))
		}
	}
	return tnetstring.AppendJSON(dst, v)
}
