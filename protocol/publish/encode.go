package publish

import (
	"encoding/base64"
	"slices"
	"unicode/utf8"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// AppendJSON appends it as a compact JSON object, the form published over
// HTTP inside {"items":[…]} and over ZeroMQ after a 'J'. Bytes that are not
// valid UTF-8 travel base64-encoded in "body-bin"/"content-bin", as
// pushpin-publish does.
func (it *Item) AppendJSON(dst []byte) []byte {
	return tnetstring.AppendJSON(dst, it.value(SourceJSON))
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (it *Item) MarshalJSON() ([]byte, error) { return it.AppendJSON(nil), nil }

// AppendTnet appends it as a bare tnetstring, the form pushpin-publish pushes
// over ZeroMQ (prefix a 'T' to be explicit; both are accepted).
func (it *Item) AppendTnet(dst []byte) []byte {
	return tnetstring.Append(dst, it.value(SourceTnet))
}

// AppendMsgpack appends it as msgpack, without the 'M' prefix that marks it
// on the ZeroMQ inputs.
func (it *Item) AppendMsgpack(dst []byte) []byte {
	return appendMsgpack(dst, it.value(SourceMsgpack))
}

// AppendBodyJSON appends the HTTP control API body {"items":[…]}.
func AppendBodyJSON(dst []byte, items []Item) []byte {
	list := make([]tnetstring.Value, len(items))
	for i := range items {
		list[i] = items[i].value(SourceJSON)
	}
	return tnetstring.AppendJSON(dst, tnetstring.D("items", tnetstring.L(list...)))
}

// CommandArgs returns the args of a handler command socket "publish" call.
func CommandArgs(items []Item) tnetstring.Value {
	list := make([]tnetstring.Value, len(items))
	for i := range items {
		list[i] = items[i].value(SourceTnet)
	}
	return tnetstring.D("items", tnetstring.L(list...))
}

// value builds the item tree for an encoding: the fields each decoder reads
// back to an equal Item. Defaults are omitted (action send, code 200 with its
// standard reason, the message type implied by the content field).
func (it *Item) value(src Source) tnetstring.Value {
	// The channel is always written, even empty (a legal channel name);
	// the SUB input ignores it in favour of the topic.
	v := tnetstring.D("channel", tnetstring.S(it.Channel))
	if it.ID != "" {
		v.Set("id", tnetstring.S(it.ID))
	}
	if it.PrevID != "" {
		v.Set("prev-id", tnetstring.S(it.PrevID))
	}
	formats := tnetstring.Value{Kind: tnetstring.Dict}
	if f := it.HTTPResponse; f != nil {
		formats.Set("http-response", f.value(src))
	}
	if f := it.HTTPStream; f != nil {
		formats.Set("http-stream", f.value(src))
	}
	if f := it.WSMessage; f != nil {
		formats.Set("ws-message", f.value(src))
	}
	v.Set("formats", formats)
	if it.Meta != nil {
		m := tnetstring.Value{Kind: tnetstring.Dict, Dict: make([]tnetstring.Pair, 0, len(it.Meta))}
		for _, k := range sortedKeys(it.Meta) {
			m.Dict = append(m.Dict, tnetstring.Pair{Key: []byte(k), Value: tnetstring.S(it.Meta[k])})
		}
		v.Set("meta", m)
	}
	if it.HasSize {
		v.Set("size", tnetstring.I(int64(it.Size)))
	}
	if it.NoSeq {
		v.Set("no-seq", tnetstring.T(true))
	}
	return v
}

func actionValue(v *tnetstring.Value, a Action) {
	if a != ActionSend {
		v.Set("action", tnetstring.S(a.String()))
	}
}

func filtersValue(v *tnetstring.Value, filters []string) {
	if filters == nil {
		return
	}
	l := tnetstring.Value{Kind: tnetstring.List, List: make([]tnetstring.Value, len(filters))}
	for i, f := range filters {
		l.List[i] = tnetstring.S(f)
	}
	v.Set("content-filters", l)
}

// bytesValue stores b under key, or base64-encoded under binKey when the
// encoding is JSON and b is not valid UTF-8.
func bytesValue(v *tnetstring.Value, src Source, key, binKey string, b []byte) {
	if src == SourceJSON && !utf8.Valid(b) {
		v.Set(binKey, tnetstring.S(base64.StdEncoding.EncodeToString(b)))
		return
	}
	if b == nil {
		b = []byte{}
	}
	v.Set(key, tnetstring.B(b))
}

func (f *HTTPResponseFormat) value(src Source) tnetstring.Value {
	v := tnetstring.Value{Kind: tnetstring.Dict}
	actionValue(&v, f.Action)
	if f.Action != ActionSend {
		return v
	}
	v.Set("code", tnetstring.I(int64(f.Code)))
	if f.Reason != "" && f.Reason != StatusText(f.Code) {
		v.Set("reason", tnetstring.S(f.Reason))
	}
	if f.Headers != nil {
		l := tnetstring.Value{Kind: tnetstring.List, List: make([]tnetstring.Value, len(f.Headers))}
		for i, h := range f.Headers {
			l.List[i] = tnetstring.L(tnetstring.S(h.Name), tnetstring.S(h.Value))
		}
		v.Set("headers", l)
	}
	filtersValue(&v, f.ContentFilters)
	if f.BodyPatch != nil {
		ops, err := tnetstring.FromJSON(f.BodyPatch)
		if err != nil || ops.Kind != tnetstring.List {
			// Not a JSON array: keep the field's type right so decoding
			// reports the problem where Pushpin would, at apply time.
			ops = tnetstring.Value{Kind: tnetstring.List}
		}
		v.Set("body-patch", ops)
		return v
	}
	// tnetstring has no "body-bin" for http-response: raw bytes go in "body".
	bytesValue(&v, src, "body", "body-bin", f.Body)
	return v
}

func (f *HTTPStreamFormat) value(src Source) tnetstring.Value {
	v := tnetstring.Value{Kind: tnetstring.Dict}
	actionValue(&v, f.Action)
	if f.Action != ActionSend {
		return v
	}
	filtersValue(&v, f.ContentFilters)
	bytesValue(&v, src, "content", "content-bin", f.Content)
	return v
}

func (f *WSMessageFormat) value(src Source) tnetstring.Value {
	v := tnetstring.Value{Kind: tnetstring.Dict}
	actionValue(&v, f.Action)
	switch f.Action {
	case ActionClose:
		if f.HasCode {
			v.Set("code", tnetstring.I(int64(f.Code)))
		}
		if f.Reason != "" {
			v.Set("reason", tnetstring.S(f.Reason))
		}
	case ActionSend:
		filtersValue(&v, f.ContentFilters)
		// "content" implies text and "content-bin" binary; anything else
		// is stated. Binary payloads use content-bin in every encoding
		// (base64 in JSON, raw elsewhere).
		useBin := f.Type == MessageBinary || (src == SourceJSON && !utf8.Valid(f.Content))
		switch {
		case f.Type == MessageBinary:
		case f.Type == MessageText && !useBin:
		default:
			v.Set("type", tnetstring.S(f.Type.String()))
		}
		if f.Content == nil && (f.Type == MessagePing || f.Type == MessagePong) {
			return v
		}
		content := f.Content
		if content == nil {
			content = []byte{}
		}
		switch {
		case !useBin:
			v.Set("content", tnetstring.B(content))
		case src == SourceJSON:
			v.Set("content-bin", tnetstring.S(base64.StdEncoding.EncodeToString(content)))
		default:
			v.Set("content-bin", tnetstring.B(content))
		}
	}
	return v
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
