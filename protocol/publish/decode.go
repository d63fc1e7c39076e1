package publish

import (
	"fmt"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// DecodeBody decodes the body of a POST to the HTTP control API's /publish/
// endpoint: a JSON object {"items": [item, …]} (§6.1). Every item must be
// valid or none is returned; the *Error then names the first bad item's
// index and renders Pushpin's reply with PushpinText.
func DecodeBody(body []byte) ([]Item, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	items, perr := parseBatch(v, SourceJSON)
	if perr != nil {
		return nil, perr
	}
	return items, nil
}

// DecodeMessage decodes one item received as a single ZeroMQ frame on the
// handler's PULL input, or as the payload frame on its SUB input (§6.4). The
// first byte selects the encoding: 'J' JSON, 'T' tnetstring, 'M' msgpack (our
// extension), anything else a bare tnetstring (Pushpin tries tnetstring for
// every non-'J' message, so a stray byte fails as a tnetstring error).
//
// channel is the SUB topic; when non-empty it is the item's channel and the
// payload's "channel" field is not read, as in Pushpin. Pass "" for PULL.
//
// As in Pushpin, bytes after the first tnetstring element are ignored
// (verified with pushpin 1.36).
func DecodeMessage(msg []byte, channel string) (Item, error) {
	var (
		v   tnetstring.Value
		src Source
		err *Error
	)
	switch {
	case len(msg) > 0 && msg[0] == 'J':
		src = SourceJSON
		v, err = decodeJSON(msg[1:])
	case len(msg) > 0 && msg[0] == 'M':
		src = SourceMsgpack
		v, err = decodeMsgpack(msg[1:])
	default:
		src = SourceTnet
		b := msg
		if len(b) > 0 && b[0] == 'T' {
			b = b[1:]
		}
		// Pushpin parses one element at an offset and does not look past it.
		var terr error
		if v, _, terr = tnetstring.DecodeOne(b); terr != nil {
			err = &Error{Kind: KindSyntax, Source: SourceTnet, Index: -1, Err: terr}
		}
	}
	if err != nil {
		return Item{}, err
	}
	it, err := parser{src}.item(v, channel)
	if err != nil {
		err.Source = src
		return Item{}, err
	}
	return it, nil
}

// DecodeCommandArgs decodes the args of the handler command socket's
// "publish" method, a tnetstring dict {"items": [item, …]} (§4.8). Errors
// render as the bad-request value with PushpinText.
func DecodeCommandArgs(args tnetstring.Value) ([]Item, error) {
	items, err := parseBatch(args, SourceTnet)
	if err != nil {
		return nil, err
	}
	return items, nil
}

// ParseItem reads one item from an already decoded value. channel overrides
// the item's "channel" field when non-empty (the SUB topic).
func ParseItem(v tnetstring.Value, src Source, channel string) (Item, error) {
	it, err := parser{src}.item(v, channel)
	if err != nil {
		err.Source = src
		return Item{}, err
	}
	return it, nil
}

// decodeJSON parses a JSON document that must be an object. Like Qt 5's
// QJsonDocument (and so Pushpin) it refuses a scalar top level as invalid
// JSON, while an array parses but is not an object.
func decodeJSON(b []byte) (tnetstring.Value, *Error) {
	v, err := tnetstring.FromJSON(b)
	if err != nil {
		return v, &Error{Kind: KindSyntax, Source: SourceJSON, Index: -1, Err: err}
	}
	switch v.Kind {
	case tnetstring.Dict:
		return v, nil
	case tnetstring.List:
		return v, &Error{Kind: KindNotObject, Source: SourceJSON, Index: -1}
	}
	return v, &Error{Kind: KindSyntax, Source: SourceJSON, Index: -1,
		Err: fmt.Errorf("top-level %s is not an object or array", v.Kind)}
}

func parseBatch(v tnetstring.Value, src Source) ([]Item, *Error) {
	fail := func(e *Error) *Error { e.Source = src; return e }
	if v.Kind != tnetstring.Dict {
		return nil, fail(&Error{Kind: KindNotObject, Index: -1})
	}
	list, ok := v.Get("items")
	if !ok {
		return nil, fail(invalidf("object does not contain 'items'"))
	}
	if list.Kind != tnetstring.List {
		return nil, fail(invalidf("object contains 'items' with wrong type"))
	}
	p := parser{src}
	items := make([]Item, 0, len(list.List))
	for i, e := range list.List {
		it, err := p.item(e, "")
		if err != nil {
			err.Index = i
			return nil, fail(err)
		}
		items = append(items, it)
	}
	return items, nil
}

// parser applies Pushpin's field rules for one source encoding.
type parser struct{ src Source }

const (
	itemName         = "publish item object"
	httpResponseName = "'http-response'"
	httpStreamName   = "'http-stream'"
	wsMessageName    = "'ws-message'"
)

// absent reports whether a present value counts as a missing optional field.
// Pushpin's tnetstring null becomes an invalid QVariant, which getString and
// getKeyedObject treat as absent; a JSON null is a valid QVariant of the
// wrong type. Our msgpack nil follows tnetstring.
func (p parser) absent(v tnetstring.Value) bool {
	return v.Kind == tnetstring.Null && p.src != SourceJSON
}

func (p parser) optString(obj tnetstring.Value, parent, key string) (string, bool, *Error) {
	v, ok := obj.Get(key)
	if !ok || p.absent(v) {
		return "", false, nil
	}
	if v.Kind != tnetstring.String {
		return "", false, wrongType(parent, key)
	}
	return string(v.Str), true, nil
}

func (p parser) optObject(obj tnetstring.Value, parent, key string) (tnetstring.Value, bool, *Error) {
	v, ok := obj.Get(key)
	if !ok || p.absent(v) {
		return v, false, nil
	}
	if v.Kind != tnetstring.Dict {
		return v, false, wrongType(parent, key)
	}
	return v, true, nil
}

var formatKeys = [...]string{"http-response", "http-stream", "ws-message"}

func (p parser) item(v tnetstring.Value, channel string) (Item, *Error) {
	var it Item
	if v.Kind != tnetstring.Dict {
		return it, invalidf("%s is not an object", itemName)
	}

	if channel != "" {
		it.Channel = channel
	} else {
		c, ok := v.Get("channel")
		if !ok {
			return it, invalidf("%s does not contain 'channel'", itemName)
		}
		if c.Kind != tnetstring.String {
			return it, wrongType(itemName, "channel")
		}
		it.Channel = string(c.Str)
	}

	var err *Error
	if it.ID, _, err = p.optString(v, itemName, "id"); err != nil {
		return it, err
	}
	if it.PrevID, _, err = p.optString(v, itemName, "prev-id"); err != nil {
		return it, err
	}

	// Formats sit in "formats" or, when that key is absent, directly in the
	// item. A "formats" object with only unknown keys is accepted and yields
	// no format, as in Pushpin.
	var fv [len(formatKeys)]tnetstring.Value
	var have [len(formatKeys)]bool
	formats, ok, err := p.optObject(v, itemName, "formats")
	if err != nil {
		return it, err
	}
	if ok {
		if len(formats.Dict) == 0 {
			return it, invalidf("no formats specified")
		}
		for i, k := range formatKeys {
			fv[i], have[i] = formats.Get(k)
		}
	} else {
		found := false
		for i, k := range formatKeys {
			fv[i], have[i] = v.Get(k)
			if have[i] && p.absent(fv[i]) {
				have[i] = false
			}
			found = found || have[i]
		}
		if !found {
			return it, invalidf("no formats specified")
		}
	}
	if have[0] {
		if it.HTTPResponse, err = p.httpResponse(fv[0]); err != nil {
			return it, err
		}
	}
	if have[1] {
		if it.HTTPStream, err = p.httpStream(fv[1]); err != nil {
			return it, err
		}
	}
	if have[2] {
		if it.WSMessage, err = p.wsMessage(fv[2]); err != nil {
			return it, err
		}
	}

	meta, ok, err := p.optObject(v, itemName, "meta")
	if err != nil {
		return it, err
	}
	if ok {
		it.Meta = make(map[string]string, len(meta.Dict))
		for _, kv := range lastWins(meta.Dict) {
			if kv.Value.Kind != tnetstring.String {
				return it, invalidf("'meta' contains '%s' with wrong type", kv.Key)
			}
			it.Meta[string(kv.Key)] = string(kv.Value.Str)
		}
	}

	if sv, ok := v.Get("size"); ok {
		n, err := ToInt(sv)
		switch {
		case err == ErrWrongType:
			return it, wrongType(itemName, "size")
		case err != nil || n < 0:
			return it, invalidValue(itemName, "size")
		}
		it.Size, it.HasSize = n, true
	}

	if nv, ok := v.Get("no-seq"); ok {
		if nv.Kind != tnetstring.Bool {
			return it, wrongType(itemName, "no-seq")
		}
		it.NoSeq = nv.Bool
	}
	return it, nil
}

func (p parser) action(v tnetstring.Value, parent string) (Action, *Error) {
	s, ok, err := p.optString(v, parent, "action")
	if err != nil || !ok {
		return ActionSend, err
	}
	a, known := parseAction(s)
	if !known {
		// Pushpin fails here without a message ("Invalid format: ").
		return 0, &Error{Kind: KindInvalid, Index: -1,
			Hint: fmt.Sprintf("%s contains 'action' with unknown value %q (expected send, hint or close)", parent, s)}
	}
	return a, nil
}

func (p parser) contentFilters(v tnetstring.Value, parent string) ([]string, *Error) {
	fv, ok := v.Get("content-filters")
	if !ok {
		return nil, nil
	}
	if fv.Kind != tnetstring.List {
		return nil, wrongType(parent, "content-filters")
	}
	out := make([]string, 0, len(fv.List))
	for _, e := range fv.List {
		if e.Kind != tnetstring.String {
			return nil, invalidf("content-filters contains element with wrong type")
		}
		out = append(out, string(e.Str))
	}
	return out, nil
}

// bytesField reads a "body"/"content" style field: any string.
func bytesField(v tnetstring.Value, parent, key string) ([]byte, *Error) {
	if v.Kind != tnetstring.String {
		return nil, wrongType(parent, key)
	}
	return v.Str, nil
}

// binField reads a "body-bin"/"content-bin" field: base64 text in JSON, raw
// bytes in tnetstring and msgpack.
func (p parser) binField(v tnetstring.Value, parent, key string) ([]byte, *Error) {
	if v.Kind != tnetstring.String {
		return nil, wrongType(parent, key)
	}
	if p.src == SourceJSON {
		return DecodeBase64(v.Str), nil
	}
	return v.Str, nil
}

func (p parser) httpResponse(v tnetstring.Value) (*HTTPResponseFormat, *Error) {
	const pn = httpResponseName
	if v.Kind != tnetstring.Dict {
		return nil, invalidf("%s is not an object", pn)
	}
	f := &HTTPResponseFormat{}
	var err *Error
	if f.Action, err = p.action(v, pn); err != nil || f.Action != ActionSend {
		return f, err
	}

	f.Code = 200
	if cv, ok := v.Get("code"); ok {
		n, err := ToInt(cv)
		switch {
		case err == ErrWrongType:
			return f, wrongType(pn, "code")
		case err != nil || n < 0 || n > 999:
			return f, invalidValue(pn, "code")
		}
		f.Code = n
	}
	reason, _, err := p.optString(v, pn, "reason")
	if err != nil {
		return f, err
	}
	if reason == "" {
		reason = StatusText(f.Code)
	}
	f.Reason = reason

	if hv, ok := v.Get("headers"); ok {
		if f.Headers, err = parseHeaders(hv, pn); err != nil {
			return f, err
		}
	}
	if f.ContentFilters, err = p.contentFilters(v, pn); err != nil {
		return f, err
	}

	// Precedence as in Pushpin: body-bin (not read from tnetstring), body,
	// body-patch.
	if bv, ok := v.Get("body-bin"); ok && p.src != SourceTnet {
		f.Body, err = p.binField(bv, pn, "body-bin")
	} else if bv, ok := v.Get("body"); ok {
		f.Body, err = bytesField(bv, pn, "body")
	} else if pv, ok := v.Get("body-patch"); ok {
		if pv.Kind != tnetstring.List {
			return f, wrongType(pn, "body-patch")
		}
		f.BodyPatch = tnetstring.AppendJSON(nil, pv)
	} else if p.src == SourceTnet {
		err = invalidf("%s does not contain 'body' or 'body-patch'", pn)
	} else {
		err = invalidf("%s does not contain 'body', 'body-bin', or 'body-patch'", pn)
	}
	return f, err
}

func (p parser) httpStream(v tnetstring.Value) (*HTTPStreamFormat, *Error) {
	const pn = httpStreamName
	if v.Kind != tnetstring.Dict {
		return nil, invalidf("%s is not an object", pn)
	}
	f := &HTTPStreamFormat{}
	var err *Error
	if f.Action, err = p.action(v, pn); err != nil || f.Action != ActionSend {
		return f, err
	}
	if f.ContentFilters, err = p.contentFilters(v, pn); err != nil {
		return f, err
	}
	if cv, ok := v.Get("content-bin"); ok && p.src != SourceTnet {
		f.Content, err = p.binField(cv, pn, "content-bin")
	} else if cv, ok := v.Get("content"); ok {
		f.Content, err = bytesField(cv, pn, "content")
	} else if p.src == SourceTnet {
		err = invalidf("%s does not contain 'content'", pn)
	} else {
		err = invalidf("%s does not contain 'content' or 'content-bin'", pn)
	}
	return f, err
}

func (p parser) wsMessage(v tnetstring.Value) (*WSMessageFormat, *Error) {
	const pn = wsMessageName
	if v.Kind != tnetstring.Dict {
		return nil, invalidf("%s is not an object", pn)
	}
	f := &WSMessageFormat{}
	var err *Error
	if f.Action, err = p.action(v, pn); err != nil {
		return f, err
	}
	switch f.Action {
	case ActionSend:
		typ, haveType, err := p.optString(v, pn, "type")
		if err != nil {
			return f, err
		}
		if haveType {
			t, ok := parseMessageType(typ)
			if !ok {
				e := invalidf("%s contains 'type' with unknown value", pn)
				e.Hint = fmt.Sprintf("%q; expected text, binary, ping or pong", typ)
				return f, e
			}
			f.Type = t
		}
		if f.ContentFilters, err = p.contentFilters(v, pn); err != nil {
			return f, err
		}
		if cv, ok := v.Get("content-bin"); ok {
			if f.Content, err = p.binField(cv, pn, "content-bin"); err != nil {
				return f, err
			}
			if !haveType {
				f.Type = MessageBinary
			}
		} else if cv, ok := v.Get("content"); ok {
			if f.Content, err = bytesField(cv, pn, "content"); err != nil {
				return f, err
			}
		} else if f.Type == MessageText || f.Type == MessageBinary {
			return f, invalidf("%s does not contain 'content' or 'content-bin'", pn)
		}
	case ActionClose:
		if cv, ok := v.Get("code"); ok {
			n, err := ToInt(cv)
			switch {
			case err == ErrWrongType:
				return f, wrongType(pn, "code")
			case err != nil || n < 0:
				return f, invalidValue(pn, "code")
			}
			f.Code, f.HasCode = n, true
		}
		if f.Reason, _, err = p.optString(v, pn, "reason"); err != nil {
			return f, err
		}
	}
	return f, nil
}

// ParseHeaders reads headers given as an object {name: value} or as a list of
// [name, value] pairs, the shapes both publish formats and instruct bodies
// use. Order is kept; in an object a repeated name keeps its last value. The
// error is an *Error whose Detail is Pushpin's message; parent names the
// enclosing object for the wrong-type message ("'http-response'").
func ParseHeaders(v tnetstring.Value, parent string) ([]Header, error) {
	h, err := parseHeaders(v, parent)
	if err != nil {
		return nil, err
	}
	return h, nil
}

func parseHeaders(hv tnetstring.Value, parent string) ([]Header, *Error) {
	switch hv.Kind {
	case tnetstring.List:
		out := make([]Header, 0, len(hv.List))
		for _, e := range hv.List {
			if e.Kind != tnetstring.List {
				return nil, invalidf("headers contains element with wrong type")
			}
			if len(e.List) != 2 {
				return nil, invalidf("headers contains list with wrong number of elements")
			}
			if e.List[0].Kind != tnetstring.String {
				return nil, invalidf("header contains name element with wrong type")
			}
			if e.List[1].Kind != tnetstring.String {
				return nil, invalidf("header contains value element with wrong type")
			}
			out = append(out, Header{Name: string(e.List[0].Str), Value: string(e.List[1].Str)})
		}
		return out, nil
	case tnetstring.Dict:
		pairs := lastWins(hv.Dict)
		out := make([]Header, 0, len(pairs))
		for _, kv := range pairs {
			if kv.Value.Kind != tnetstring.String {
				return nil, invalidf("headers contains '%s' with wrong type", kv.Key)
			}
			out = append(out, Header{Name: string(kv.Key), Value: string(kv.Value.Str)})
		}
		return out, nil
	}
	return nil, wrongType(parent, "headers")
}

// lastWins drops every dict entry whose key appears again later, keeping the
// survivors in document order: Pushpin reads dicts into hashes, where a
// repeated key keeps its last value.
func lastWins(d []tnetstring.Pair) []tnetstring.Pair {
	if len(d) < 2 {
		return d
	}
	seen := make(map[string]struct{}, len(d))
	keep := make([]bool, len(d))
	n := 0
	for i := len(d) - 1; i >= 0; i-- {
		if _, dup := seen[string(d[i].Key)]; dup {
			continue
		}
		seen[string(d[i].Key)] = struct{}{}
		keep[i] = true
		n++
	}
	if n == len(d) {
		return d
	}
	out := make([]tnetstring.Pair, 0, n)
	for i, k := range keep {
		if k {
			out = append(out, d[i])
		}
	}
	return out
}
