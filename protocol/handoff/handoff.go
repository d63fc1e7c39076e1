// Package handoff holds the packets with which pushpin-proxy hands client
// requests to pushpin-handler and gets them back (reference §4.2–§4.4, §4.6):
//
//   - inspect (ZRPC, proxy → handler): InspectArgs, answered by InspectData;
//   - accept (ZRPC, proxy → handler): AcceptArgs, answered by AcceptResult;
//   - retry (PUSH → PULL, handler → proxy, bare tnetstring): RetryPacket;
//   - passthrough (the ZHTTP "passthrough" field of the handler's internal
//     next-link requests to the proxy): Passthrough.
//
// Decoding checks types strictly, as Pushpin's parsers do, and reports the
// path of the offending field; unknown keys are ignored and a repeated key
// takes its last value. Encoding omits optional fields that are unset, so our
// packets carry the same keys as Pushpin's. Header lists keep their order and
// repetitions.
//
// The invariant a reader must keep in mind: byte fields (bodies) and
// UserData alias the decoded message; strings are copies.
package handoff

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// ErrInvalid is wrapped by every decoding error. A ZRPC server answers such
// args with bad-request, as the handler does.
var ErrInvalid = errors.New("invalid handoff packet")

// Header is one HTTP header, in wire order.
type Header = zhttp.Header

// RID identifies a client session on a ZHTTP server: the server instance
// (the ZHTTP "from", e.g. condure's id) and the session id.
type RID struct {
	Sender string
	ID     string
}

// RequestData is an HTTP request as {method, uri, headers, body}.
type RequestData struct {
	Method  string
	URI     string // absolute, as the client or origin sees it
	Headers []Header
	Body    []byte
}

// ResponseData is an HTTP response as {code, reason, headers, body}.
type ResponseData struct {
	Code    int
	Reason  string
	Headers []Header
	Body    []byte
}

// InspectData is the result of inspect and the "inspect" dict carried by
// accept and retry packets.
type InspectData struct {
	// NoProxy tells the proxy not to forward the request; Pushpin 1.36
	// always answers false.
	NoProxy bool
	// SharingKey groups requests that may share one origin request
	// ("auto|<uri>|…" for next links, "<METHOD>|<uri>" with share_all).
	SharingKey string
	SID        string            // session id from the state service
	LastIDs    map[string]string // channel → last published id, sent as Grip-Last
	UserData   tnetstring.Value  // opaque, passed through; zero = absent
}

// --- encoding helpers ---

func headersValue(hs []Header) tnetstring.Value {
	l := tnetstring.Value{Kind: tnetstring.List, List: make([]tnetstring.Value, 0, len(hs))}
	for _, h := range hs {
		l.List = append(l.List, tnetstring.L(tnetstring.S(h.Name), tnetstring.S(h.Value)))
	}
	return l
}

func bodyValue(b []byte) tnetstring.Value {
	if b == nil {
		b = []byte{}
	}
	return tnetstring.B(b)
}

// Value returns {method, uri, headers, body}; all four are always written.
func (r RequestData) Value() tnetstring.Value {
	return tnetstring.D(
		"method", tnetstring.S(r.Method),
		"uri", tnetstring.S(r.URI),
		"headers", headersValue(r.Headers),
		"body", bodyValue(r.Body))
}

// Value returns {code, reason, headers, body}; all four are always written.
func (r ResponseData) Value() tnetstring.Value {
	return tnetstring.D(
		"code", tnetstring.I(int64(r.Code)),
		"reason", tnetstring.S(r.Reason),
		"headers", headersValue(r.Headers),
		"body", bodyValue(r.Body))
}

// Value returns the inspect dict: no-proxy always, the rest when set. Last
// ids are written in key order so encoding is deterministic.
func (d InspectData) Value() tnetstring.Value {
	v := tnetstring.D("no-proxy", tnetstring.T(d.NoProxy))
	if d.SharingKey != "" {
		v.Set("sharing-key", tnetstring.S(d.SharingKey))
	}
	if d.SID != "" {
		v.Set("sid", tnetstring.S(d.SID))
	}
	if len(d.LastIDs) > 0 {
		keys := make([]string, 0, len(d.LastIDs))
		for k := range d.LastIDs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ids := tnetstring.Value{Kind: tnetstring.Dict, Dict: make([]tnetstring.Pair, 0, len(keys))}
		for _, k := range keys {
			ids.Dict = append(ids.Dict, tnetstring.Pair{Key: []byte(k), Value: tnetstring.S(d.LastIDs[k])})
		}
		v.Set("last-ids", ids)
	}
	if !d.UserData.IsZero() {
		v.Set("user-data", d.UserData)
	}
	return v
}

func setString(d *tnetstring.Value, key, s string) {
	if s != "" {
		d.Set(key, tnetstring.S(s))
	}
}

func setTrue(d *tnetstring.Value, key string, b bool) {
	if b {
		d.Set(key, tnetstring.T(true))
	}
}

// --- decoding helpers ---

// obj reads the fields of one dict, naming them by their path in errors.
type obj struct {
	v     tnetstring.Value
	label string // the packet, e.g. "accept args"
	path  string // dotted path of v inside the packet; "" at the top
}

func (o obj) name(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o obj) errorf(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s: %s", ErrInvalid, o.label, o.name(key), fmt.Sprintf(format, args...))
}

func topObj(label string, v tnetstring.Value) (obj, error) {
	switch v.Kind {
	case tnetstring.Dict:
		return obj{v: v, label: label}, nil
	case 0:
		return obj{}, fmt.Errorf("%w: %s: missing", ErrInvalid, label)
	}
	return obj{}, fmt.Errorf("%w: %s is a %s, not a dict", ErrInvalid, label, v.Kind)
}

// get returns the value of key; a missing required key is an error.
func (o obj) get(key string, required bool) (tnetstring.Value, bool, error) {
	v, ok := o.v.Get(key)
	if !ok && required {
		return v, false, o.errorf(key, "missing")
	}
	return v, ok, nil
}

func (o obj) typed(key string, required bool, k tnetstring.Kind) (tnetstring.Value, bool, error) {
	v, ok, err := o.get(key, required)
	if err != nil || !ok {
		return v, ok, err
	}
	if v.Kind != k {
		return v, false, o.errorf(key, "must be of type %s, not %s", k, v.Kind)
	}
	return v, true, nil
}

func (o obj) str(key string, required bool) (string, error) {
	v, _, err := o.typed(key, required, tnetstring.String)
	return string(v.Str), err
}

func (o obj) bytes(key string, required bool) ([]byte, error) {
	v, ok, err := o.typed(key, required, tnetstring.String)
	if ok && v.Str == nil {
		v.Str = []byte{}
	}
	return v.Str, err
}

func (o obj) boolean(key string) (bool, error) {
	v, _, err := o.typed(key, false, tnetstring.Bool)
	return v.Bool, err
}

// integer reads an int that must fit Pushpin's 32-bit int fields.
func (o obj) integer(key string, required bool) (int, bool, error) {
	v, ok, err := o.typed(key, required, tnetstring.Int)
	if err != nil || !ok {
		return 0, ok, err
	}
	if v.Int < -1<<31 || v.Int > 1<<31-1 {
		return 0, false, o.errorf(key, "%d out of range", v.Int)
	}
	return int(v.Int), true, nil
}

func (o obj) child(key string, required bool) (obj, bool, error) {
	v, ok, err := o.typed(key, required, tnetstring.Dict)
	if err != nil || !ok {
		return obj{}, ok, err
	}
	return obj{v: v, label: o.label, path: o.name(key)}, true, nil
}

func (o obj) list(key string, required bool) ([]tnetstring.Value, bool, error) {
	v, ok, err := o.typed(key, required, tnetstring.List)
	return v.List, ok, err
}

// elem returns the i-th element of the list at key as an obj.
func (o obj) elem(key string, i int, v tnetstring.Value) (obj, error) {
	name := fmt.Sprintf("%s[%d]", key, i)
	if v.Kind != tnetstring.Dict {
		return obj{}, o.errorf(name, "must be of type dict, not %s", v.Kind)
	}
	return obj{v: v, label: o.label, path: o.name(name)}, nil
}

func (o obj) headers(key string, required bool) ([]Header, error) {
	l, ok, err := o.list(key, required)
	if err != nil || !ok {
		return nil, err
	}
	hs := make([]Header, 0, len(l))
	for i, h := range l {
		name := fmt.Sprintf("%s[%d]", key, i)
		if h.Kind != tnetstring.List {
			return nil, o.errorf(name, "must be of type list, not %s", h.Kind)
		}
		if len(h.List) != 2 {
			return nil, o.errorf(name, "must have 2 elements, not %d", len(h.List))
		}
		for j, e := range h.List {
			if e.Kind != tnetstring.String {
				return nil, o.errorf(fmt.Sprintf("%s[%d]", name, j), "must be of type string, not %s", e.Kind)
			}
		}
		hs = append(hs, Header{Name: string(h.List[0].Str), Value: string(h.List[1].Str)})
	}
	return hs, nil
}

// uri reads a required absolute-or-relative URI that must parse, as the
// handler rejects URIs QUrl finds invalid.
func (o obj) uri(key string) (string, error) {
	s, err := o.str(key, true)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", o.errorf(key, "empty")
	}
	if _, err := url.Parse(s); err != nil {
		return "", o.errorf(key, "invalid URI %q", s)
	}
	return s, nil
}

// ipAddr reads an optional IP address string; the handler rejects accept
// packets whose addresses QHostAddress cannot parse.
func (o obj) ipAddr(key string) (string, error) {
	v, ok, err := o.typed(key, false, tnetstring.String)
	if err != nil || !ok {
		return "", err
	}
	if _, err := netip.ParseAddr(string(v.Str)); err != nil {
		return "", o.errorf(key, "invalid IP address %q", v.Str)
	}
	return string(v.Str), nil
}

// requestData reads {method, uri, headers, body}. headersRequired mirrors the
// difference between the handler (accept: required) and the proxy (retry:
// optional).
func (o obj) requestData(key string, headersRequired bool) (RequestData, error) {
	c, _, err := o.child(key, true)
	if err != nil {
		return RequestData{}, err
	}
	var r RequestData
	if r.Method, err = c.str("method", true); err != nil {
		return RequestData{}, err
	}
	if r.Method == "" {
		return RequestData{}, c.errorf("method", "empty")
	}
	if r.URI, err = c.uri("uri"); err != nil {
		return RequestData{}, err
	}
	if r.Headers, err = c.headers("headers", headersRequired); err != nil {
		return RequestData{}, err
	}
	if r.Body, err = c.bytes("body", true); err != nil {
		return RequestData{}, err
	}
	return r, nil
}

// responseData reads {code, reason, headers, body}; all are required when
// strict (the handler's accept parser), all optional otherwise (the proxy's
// reading of an accept result).
func (o obj) responseData(key string, strict bool) (ResponseData, error) {
	c, _, err := o.child(key, true)
	if err != nil {
		return ResponseData{}, err
	}
	var r ResponseData
	if r.Code, _, err = c.integer("code", strict); err != nil {
		return ResponseData{}, err
	}
	if r.Reason, err = c.str("reason", strict); err != nil {
		return ResponseData{}, err
	}
	if r.Headers, err = c.headers("headers", strict); err != nil {
		return ResponseData{}, err
	}
	if r.Body, err = c.bytes("body", strict); err != nil {
		return ResponseData{}, err
	}
	return r, nil
}

// inspectData reads an inspect dict (accept, retry, or an inspect result).
func (o obj) inspectData() (InspectData, error) {
	var d InspectData
	np, _, err := o.typed("no-proxy", true, tnetstring.Bool)
	if err != nil {
		return InspectData{}, err
	}
	d.NoProxy = np.Bool
	if d.SharingKey, err = o.str("sharing-key", false); err != nil {
		return InspectData{}, err
	}
	if d.SID, err = o.str("sid", false); err != nil {
		return InspectData{}, err
	}
	ids, ok, err := o.child("last-ids", false)
	if err != nil {
		return InspectData{}, err
	}
	if ok && len(ids.v.Dict) > 0 {
		d.LastIDs = make(map[string]string, len(ids.v.Dict))
		for _, p := range ids.v.Dict {
			if p.Value.Kind != tnetstring.String {
				return InspectData{}, ids.errorf(string(p.Key), "must be of type string, not %s", p.Value.Kind)
			}
			d.LastIDs[string(p.Key)] = string(p.Value.Str)
		}
	}
	d.UserData, _ = o.v.Get("user-data")
	return d, nil
}

func (o obj) rid() (RID, error) {
	c, _, err := o.child("rid", true)
	if err != nil {
		return RID{}, err
	}
	var r RID
	if r.Sender, err = c.str("sender", true); err != nil {
		return RID{}, err
	}
	if r.Sender == "" {
		return RID{}, c.errorf("sender", "empty")
	}
	if r.ID, err = c.str("id", true); err != nil {
		return RID{}, err
	}
	return r, nil
}

func (r RID) value() tnetstring.Value {
	return tnetstring.D("sender", tnetstring.S(r.Sender), "id", tnetstring.S(r.ID))
}

// decodeBytes decodes a whole bare tnetstring message.
func decodeBytes(label string, b []byte) (tnetstring.Value, error) {
	v, err := tnetstring.Decode(b)
	if err != nil {
		return tnetstring.Value{}, fmt.Errorf("%w: %s: %v", ErrInvalid, label, err)
	}
	return v, nil
}
