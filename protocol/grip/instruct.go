package grip

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/pushpin-go/pushpin/protocol/publish"
)

// Defaults and limits Pushpin 1.36 applies (src/handler/instruct.cpp,
// pushpin.conf).
const (
	DefaultTimeout          = 55  // response hold timeout, seconds
	MinTimeout              = 5   // shorter Grip-Timeout values are raised to this
	DefaultKeepAliveTimeout = 55  // Grip-Keep-Alive timeout, seconds
	MinKeepAliveTimeout     = 1   // shorter keep-alive timeouts are raised to this
	DefaultNextLinkTimeout  = 120 // Grip-Link timeout, seconds
	DefaultSubscriptionMax  = 20  // [handler] connection_subscription_max
)

// HoldMode is what the handler does with the request.
type HoldMode uint8

// Hold modes.
const (
	// NoHold: no hold. The instruct response is sent as is, unless there
	// is a next link, in which case the request behaves as a stream that
	// first fetches it.
	NoHold HoldMode = iota
	// HoldResponse: long-poll until a publish or the timeout.
	HoldResponse
	// HoldStream: keep the response open and append published content.
	HoldStream
)

// String returns the Grip-Hold value ("" for NoHold).
func (m HoldMode) String() string {
	switch m {
	case HoldResponse:
		return "response"
	case HoldStream:
		return "stream"
	}
	return ""
}

// Channel is one subscription requested by the origin.
type Channel struct {
	// Name is the channel as the origin wrote it; the route's channel
	// prefix is prepended by the handler.
	Name string
	// PrevID is the last id the origin saw ("" when not given).
	PrevID string
	// Filters are the filter names in order (see publish.Filter*).
	Filters []string
}

// KeepAliveMode says when keep-alive data is sent on a stream hold.
type KeepAliveMode uint8

// Keep-alive modes.
const (
	// KeepAliveIdle sends after Timeout seconds without output; every send
	// restarts the timer.
	KeepAliveIdle KeepAliveMode = iota
	// KeepAliveInterval sends every Timeout seconds regardless of output.
	KeepAliveInterval
)

// String returns the Grip-Keep-Alive mode parameter value.
func (m KeepAliveMode) String() string {
	if m == KeepAliveInterval {
		return "interval"
	}
	return "idle"
}

// KeepAlive is the stream hold keep-alive.
type KeepAlive struct {
	// Data is written to the stream when the timer fires (may be empty
	// when it comes from a JSON instruct without content).
	Data []byte
	// Timeout in seconds, at least MinKeepAliveTimeout.
	Timeout int
	Mode    KeepAliveMode
}

// NextLink is a Grip-Link with rel=next ("GRIP Next", §5.3).
type NextLink struct {
	// URI is the link resolved against the request URI.
	URI *url.URL
	// Timeout is the period in seconds of the periodic refetch.
	Timeout int
}

// Response is an HTTP response: the origin's as input to Parse, the
// instruct response (what the client sees on timeout, or first on a stream)
// in Instruct.
type Response struct {
	Code    int
	Reason  string
	Headers []Header
	Body    []byte
}

// Instruct is everything an origin response tells Pushpin to do with a
// request.
type Instruct struct {
	Hold HoldMode
	// Channels in the order given: headers first, then the JSON body's
	// hold.channels. A repeated name is kept as given; the handler merges
	// by name with later entries overriding prev-id and filters, as
	// Pushpin's session does. At most Options.SubscriptionMax are kept.
	Channels []Channel
	// DroppedChannels counts channels cut by the subscription limit
	// (Pushpin logs "httpsession: too many subscriptions").
	DroppedChannels int
	// Timeout is the response hold timeout in seconds (default 55, at
	// least 5).
	Timeout int
	// KeepAlive is nil when none was asked for.
	KeepAlive *KeepAlive
	// Meta is the subscription meta used by filters (Grip-Set-Meta and the
	// JSON hold.meta); nil when none.
	Meta map[string]string
	// NextLink is nil when there is no Grip-Link with rel=next.
	NextLink *NextLink
	// ExposeHeaders are the Grip-Expose-Headers names; already applied to
	// Response, kept for publishes (see §5.5).
	ExposeHeaders []string
	// Response is the instruct response: Grip-Status applied, Grip-* and
	// hop-by-hop headers removed, the expose rule applied, reason defaulted
	// to the standard phrase; or, with an application/grip-instruct body,
	// only what its "response" object says.
	Response Response
}

// Options are the request-side inputs of Parse.
type Options struct {
	// RequestURI is the URI of the client request (or of the next link
	// being fetched); Grip-Link URIs are resolved against it. When nil the
	// link is kept as written.
	RequestURI *url.URL
	// SubscriptionMax is [handler] connection_subscription_max: channels
	// beyond it are dropped (and counted), as Pushpin's session does. Zero
	// or less means DefaultSubscriptionMax.
	SubscriptionMax int
}

// Error is an invalid instruct. Msg is Pushpin's message, verbatim; it is
// empty in the one case where Pushpin has none (a JSON "response" that is
// not an object), and Hint then says what is wrong. In debug mode pushpin
// 1.36 answers the client 502 with the body
// "Failed to parse accept instructions: " + Msg + "\n" (verified).
type Error struct {
	Msg  string
	Hint string
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Hint
	}
	return e.Msg
}

func errorf(format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// Parse reads the GRIP instructions of an origin response (§5.3, §5.4) with
// Pushpin's rules and messages. Header values are checked in Pushpin's order
// and the first problem is returned as an *Error. When the response's
// Content-Type is application/grip-instruct its JSON body is read as well:
// its hold settings override or extend the headers' and the instruct
// response comes from its "response" object alone.
func Parse(origin Response, opts Options) (*Instruct, error) {
	in := &Instruct{Timeout: -1}
	var err error

	if v, ok := First(origin.Headers, "Grip-Hold"); ok {
		if in.Hold, err = ParseHold(v); err != nil {
			return nil, err
		}
	}
	in.Channels = ParseChannels(origin.Headers)
	if v, ok := First(origin.Headers, "Grip-Timeout"); ok {
		if in.Timeout, err = ParseTimeout(v); err != nil {
			return nil, err
		}
	}
	in.ExposeHeaders = Values(origin.Headers, "Grip-Expose-Headers")
	if v, ok := First(origin.Headers, "Grip-Keep-Alive"); ok {
		if in.KeepAlive, err = ParseKeepAlive(v); err != nil {
			return nil, err
		}
	}
	if in.Meta, err = ParseSetMeta(origin.Headers); err != nil {
		return nil, err
	}

	resp := Response{Code: origin.Code, Reason: origin.Reason, Body: origin.Body}
	if v, _ := First(origin.Headers, "Grip-Status"); v != "" {
		if resp.Code, resp.Reason, err = ParseStatus(v); err != nil {
			return nil, err
		}
	}
	if in.NextLink, err = ParseLinks(origin.Headers, opts.RequestURI); err != nil {
		return nil, err
	}
	resp.Headers = ClientHeaders(origin.Headers, in.ExposeHeaders)

	ct, _ := First(origin.Headers, "Content-Type")
	if ps, ok := ParseParams(ct, FirstIsValue); ok && ps[0].Name == InstructContentType {
		if origin.Code != 200 {
			return nil, errorf("response code for application/grip-instruct content must be 200")
		}
		if err := parseBody(in, &resp, origin.Body); err != nil {
			return nil, err
		}
	}

	if resp.Reason == "" {
		resp.Reason = publish.StatusText(resp.Code)
	}
	in.Response = resp
	if in.Timeout < 0 {
		in.Timeout = DefaultTimeout
	}
	in.Timeout = max(in.Timeout, MinTimeout)
	if in.KeepAlive != nil {
		in.KeepAlive.Timeout = max(in.KeepAlive.Timeout, MinKeepAliveTimeout)
	}

	limit := opts.SubscriptionMax
	if limit <= 0 {
		limit = DefaultSubscriptionMax
	}
	if len(in.Channels) > limit {
		in.DroppedChannels = len(in.Channels) - limit
		in.Channels = in.Channels[:limit]
	}
	return in, nil
}

// ClientResponse returns an origin response as the client sees it when it
// is relayed without a JSON instruct body: Grip-Status applied (an empty
// reason becomes the standard phrase), Grip-* and hop-by-hop headers
// removed, and the Grip-Expose-Headers rule applied. The proxy uses it when
// it streams the initial response of a stream hold itself (§5.2; it then
// also drops Content-Length); Parse computes the same Instruct.Response.
func ClientResponse(origin Response) (Response, error) {
	resp := Response{Code: origin.Code, Reason: origin.Reason, Body: origin.Body}
	if v, _ := First(origin.Headers, "Grip-Status"); v != "" {
		var err error
		if resp.Code, resp.Reason, err = ParseStatus(v); err != nil {
			return Response{}, err
		}
	}
	resp.Headers = ClientHeaders(origin.Headers, Values(origin.Headers, "Grip-Expose-Headers"))
	if resp.Reason == "" {
		resp.Reason = publish.StatusText(resp.Code)
	}
	return resp, nil
}

// ParseHold reads a Grip-Hold value, which must be exactly "response" or
// "stream" (no trimming, case matters).
func ParseHold(v string) (HoldMode, error) {
	switch v {
	case "response":
		return HoldResponse, nil
	case "stream":
		return HoldStream, nil
	}
	return NoHold, errorf("Grip-Hold must be set to either 'response' or 'stream'")
}

// ParseChannels reads every Grip-Channel element: "name[; prev-id=ID]
// [; filter=F]…". An element whose parameters fail to parse is skipped and
// an empty element is an empty channel name, both as in Pushpin. The
// "prev-id" parameter name is case-insensitive but "filter" must be written
// in lower case: Pushpin compares it exactly.
func ParseChannels(headers []Header) []Channel {
	var out []Channel
	for _, ps := range allParams(headers, "Grip-Channel", FirstIsValue) {
		c := Channel{Name: ps[0].Name}
		c.PrevID, _ = ps.Get("prev-id")
		for _, p := range ps[1:] {
			if p.Name == "filter" {
				c.Filters = append(c.Filters, p.Value)
			}
		}
		out = append(out, c)
	}
	return out
}

// ParseTimeout reads a Grip-Timeout value: a decimal integer ≥ 0 (Qt's
// toInt: surrounding whitespace and a sign allowed). The minimum of 5 s is
// applied by Parse, not here.
func ParseTimeout(v string) (int, error) {
	n, ok := publish.ParseQtInt(v)
	if !ok {
		return 0, errorf("failed to parse Grip-Timeout")
	}
	if n < 0 {
		return 0, errorf("Grip-Timeout has invalid value")
	}
	return n, nil
}

// ParseKeepAlive reads a Grip-Keep-Alive value:
// "data[; format=raw|cstring|base64][; timeout=N][; mode=idle|interval]".
// The data is the raw text before the first ";" (so it cannot contain one
// except as \x3b in cstring format). It returns nil, nil when the value is
// empty or its parameters fail to parse, which Pushpin treats as no
// keep-alive. The minimum timeout of 1 s is applied by Parse.
func ParseKeepAlive(v string) (*KeepAlive, error) {
	if v == "" {
		return nil, nil
	}
	ps, ok := ParseParams(v, FirstIsValue)
	if !ok {
		return nil, nil
	}
	val := ps[0].Name
	if val == "" {
		return nil, errorf("Grip-Keep-Alive cannot be empty")
	}
	ka := &KeepAlive{Timeout: DefaultKeepAliveTimeout}
	switch mode, _ := ps.Get("mode"); mode {
	case "", "idle":
		ka.Mode = KeepAliveIdle
	case "interval":
		ka.Mode = KeepAliveInterval
	default:
		return nil, errorf("no such Grip-Keep-Alive mode '%s'", mode)
	}
	if t, ok := ps.Get("timeout"); ok {
		n, ok := publish.ParseQtInt(t)
		if !ok {
			return nil, errorf("failed to parse Grip-Keep-Alive timeout value")
		}
		if n < 0 {
			return nil, errorf("Grip-Keep-Alive timeout has invalid value")
		}
		ka.Timeout = n
	}
	switch format, _ := ps.Get("format"); format {
	case "", "raw":
		ka.Data = []byte(val)
	case "cstring":
		data, err := UnescapeCString(val)
		// Pushpin's unescape returns a null array on error and also when
		// nothing was produced (e.g. only unknown escapes).
		if err != nil || len(data) == 0 {
			return nil, errorf("failed to parse Grip-Keep-Alive cstring format")
		}
		ka.Data = data
	case "base64":
		ka.Data = publish.DecodeBase64([]byte(val))
	default:
		return nil, errorf("no such Grip-Keep-Alive format '%s'", format)
	}
	return ka, nil
}

// ParseSetMeta reads every Grip-Set-Meta element, name="value" (all
// segments parsed as parameters; only the first is used). A later name
// overrides an earlier one. An empty element ("a=1,,b=2") is an error; an
// element with bad quoting is skipped, as in Pushpin.
func ParseSetMeta(headers []Header) (map[string]string, error) {
	var meta map[string]string
	for _, ps := range allParams(headers, "Grip-Set-Meta", AllParams) {
		if len(ps) == 0 {
			return nil, errorf("Grip-Set-Meta cannot be empty")
		}
		if meta == nil {
			meta = make(map[string]string)
		}
		meta[ps[0].Name] = ps[0].Value
	}
	return meta, nil
}

// ParseStatus reads a Grip-Status value, "CODE[ REASON]": the code is the
// text before the first space (0–999), the reason everything after it,
// possibly empty (then the caller uses the standard phrase).
func ParseStatus(v string) (code int, reason string, err error) {
	codeStr := v
	if at := strings.IndexByte(v, ' '); at >= 0 {
		codeStr, reason = v[:at], v[at+1:]
	}
	code, ok := publish.ParseQtInt(codeStr)
	if !ok || code < 0 || code > 999 {
		return 0, "", errorf("Grip-Status contains invalid status code")
	}
	return code, reason, nil
}

// ParseLinks reads the Grip-Link elements, "<URI>; rel=next[; timeout=N]",
// and returns the last one with rel=next (nil if none), its URI resolved
// against base. Elements with another rel, or without parameters, are
// ignored unchecked, as in Pushpin 1.36.
func ParseLinks(headers []Header, base *url.URL) (*NextLink, error) {
	var link *NextLink
	for _, ps := range allParams(headers, "Grip-Link", FirstIsValue) {
		if rel, _ := ps.Get("rel"); len(ps) < 2 || rel != "next" {
			continue
		}
		raw := ps[0].Name
		if len(raw) <= 2 || raw[0] != '<' || raw[len(raw)-1] != '>' {
			return nil, errorf("failed to parse Grip-Link value")
		}
		u, err := parseLinkURI(raw[1 : len(raw)-1])
		if err != nil {
			return nil, &Error{Msg: "Grip-Link contains invalid link", Hint: err.Error()}
		}
		if base != nil {
			u = base.ResolveReference(u)
		}
		link = &NextLink{URI: u, Timeout: DefaultNextLinkTimeout}
		if t, ok := ps.Get("timeout"); ok {
			n, ok := publish.ParseQtInt(t)
			if !ok {
				return nil, errorf("failed to parse Grip-Link timeout value")
			}
			if n < 0 {
				return nil, errorf("Grip-Link timeout has invalid value")
			}
			link.Timeout = n
		}
	}
	return link, nil
}

// parseLinkURI parses a link the way QUrl::fromEncoded's tolerant mode
// accepts it: a '%' that does not start a valid escape stands for itself.
func parseLinkURI(s string) (*url.URL, error) {
	if strings.IndexByte(s, '%') >= 0 {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '%' && (i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0) {
				b.WriteString("%25")
				continue
			}
			b.WriteByte(s[i])
		}
		s = b.String()
	}
	return url.Parse(s)
}
