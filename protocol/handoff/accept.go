package handoff

import (
	"fmt"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
)

// RequestState is the ZHTTP server-session state of one client request handed
// from the proxy to the handler: enough for the handler to take the session
// over from condure (reference §4.3).
type RequestState struct {
	RID   RID
	HTTPS bool // the client connection is TLS
	// PeerAddress is the client's IP address ("" = absent).
	PeerAddress string
	// LogicalPeerAddress is the client address after X-Forwarded-For rules
	// ("" = absent).
	LogicalPeerAddress string
	Debug              bool
	IsRetry            bool // the request came back through a retry packet
	AutoCrossOrigin    bool
	// JSONPCallback is the JSON-P callback name ("" = not JSON-P).
	JSONPCallback string
	// JSONPExtendedResponse selects the extended JSON-P wrapping; it is only
	// sent along with a callback.
	JSONPExtendedResponse bool
	// ResponseCode is the status the proxy already sent to the client, or 0
	// when the response has not started.
	ResponseCode int
	InSeq        int // next expected seq from condure
	OutSeq       int // next seq to send to condure
	OutCredits   int // credits granted by condure and not yet used
	UserData     tnetstring.Value
}

// AcceptArgs are the args of the accept call: the proxy hands the requests
// whose origin answered with GRIP instructions to the handler (§4.3).
type AcceptArgs struct {
	// Requests has one entry per client session; several when the origin
	// request was shared.
	Requests []RequestState
	// RequestData is the request as sent to the origin (rewritten, with
	// Grip-Sig etc.).
	RequestData RequestData
	// OrigRequestData is the request as received from the client.
	OrigRequestData RequestData
	// Inspect is the inspect result the proxy used; nil = absent.
	Inspect *InspectData
	// Response is the origin's response, Grip-* headers included.
	Response ResponseData
	// Route is the route id (e.g. "*,*,*,*" or an explicit id=).
	Route string
	// SeparateStats: the route has an explicit id, so stats carry it.
	SeparateStats bool
	// ChannelPrefix is the route's prefix= ("" = none).
	ChannelPrefix string
	// Channels are the implicit channels of the target's sub= params.
	Channels []string
	// Trusted: the target is trusted (not "untrusted").
	Trusted bool
	// UseSession: the route has the session flag.
	UseSession bool
	// ResponseSent: the proxy already sent the initial response (stream
	// holds with bodies too large to hand off).
	ResponseSent bool
}

// Value returns the request-state dict as the proxy writes it.
func (r RequestState) Value() tnetstring.Value {
	v := tnetstring.D("rid", r.RID.value())
	setTrue(&v, "https", r.HTTPS)
	setString(&v, "peer-address", r.PeerAddress)
	setString(&v, "logical-peer-address", r.LogicalPeerAddress)
	setTrue(&v, "debug", r.Debug)
	setTrue(&v, "is-retry", r.IsRetry)
	setTrue(&v, "auto-cross-origin", r.AutoCrossOrigin)
	if r.JSONPCallback != "" {
		v.Set("jsonp-callback", tnetstring.S(r.JSONPCallback))
		setTrue(&v, "jsonp-extended-response", r.JSONPExtendedResponse)
	}
	if r.ResponseCode != 0 {
		v.Set("response-code", tnetstring.I(int64(r.ResponseCode)))
	}
	v.Set("in-seq", tnetstring.I(int64(r.InSeq)))
	v.Set("out-seq", tnetstring.I(int64(r.OutSeq)))
	v.Set("out-credits", tnetstring.I(int64(r.OutCredits)))
	if !r.UserData.IsZero() {
		v.Set("user-data", r.UserData)
	}
	return v
}

// Retry returns the retry-packet form of the state, as the handler builds it
// when it sends the request back (it drops logical-peer-address, is-retry and
// response-code).
func (r RequestState) Retry() RetryRequest {
	return RetryRequest{
		RID:                   r.RID,
		HTTPS:                 r.HTTPS,
		PeerAddress:           r.PeerAddress,
		Debug:                 r.Debug,
		AutoCrossOrigin:       r.AutoCrossOrigin,
		JSONPCallback:         r.JSONPCallback,
		JSONPExtendedResponse: r.JSONPExtendedResponse,
		InSeq:                 r.InSeq,
		OutSeq:                r.OutSeq,
		OutCredits:            r.OutCredits,
		UserData:              r.UserData,
	}
}

// Value returns the args dict with optional fields omitted when unset.
func (a AcceptArgs) Value() tnetstring.Value {
	reqs := tnetstring.Value{Kind: tnetstring.List, List: make([]tnetstring.Value, 0, len(a.Requests))}
	for _, r := range a.Requests {
		reqs.List = append(reqs.List, r.Value())
	}
	v := tnetstring.D(
		"requests", reqs,
		"request-data", a.RequestData.Value(),
		"orig-request-data", a.OrigRequestData.Value())
	if a.Inspect != nil {
		v.Set("inspect", a.Inspect.Value())
	}
	v.Set("response", a.Response.Value())
	setString(&v, "route", a.Route)
	setTrue(&v, "separate-stats", a.SeparateStats)
	setString(&v, "channel-prefix", a.ChannelPrefix)
	if len(a.Channels) > 0 {
		l := tnetstring.Value{Kind: tnetstring.List, List: make([]tnetstring.Value, 0, len(a.Channels))}
		for _, c := range a.Channels {
			l.List = append(l.List, tnetstring.S(c))
		}
		v.Set("channels", l)
	}
	setTrue(&v, "trusted", a.Trusted)
	setTrue(&v, "use-session", a.UseSession)
	setTrue(&v, "response-sent", a.ResponseSent)
	return v
}

// Request returns the ZRPC accept request with the given id.
func (a AcceptArgs) Request(id string) zrpc.Request {
	return zrpc.Request{ID: id, Method: zrpc.MethodAccept, Args: a.Value()}
}

// Encode returns the args dict as a bare tnetstring.
func (a AcceptArgs) Encode() []byte { return tnetstring.Encode(a.Value()) }

// DecodeAcceptArgs parses args encoded as a bare tnetstring.
func DecodeAcceptArgs(b []byte) (AcceptArgs, error) {
	v, err := decodeBytes("accept args", b)
	if err != nil {
		return AcceptArgs{}, err
	}
	return ParseAcceptArgs(v)
}

// ParseAcceptArgs reads accept args with the handler's rules: requests,
// request-data, orig-request-data and response (all four of its fields) are
// required; every request needs rid {sender (non-empty), id}, in-seq, out-seq
// and out-credits; addresses must be IP addresses; optional fields must have
// their types. The handler answers any violation with bad-request.
func ParseAcceptArgs(args tnetstring.Value) (AcceptArgs, error) {
	o, err := topObj("accept args", args)
	if err != nil {
		return AcceptArgs{}, err
	}
	var a AcceptArgs
	if a.Route, err = o.str("route", false); err != nil {
		return AcceptArgs{}, err
	}
	if a.SeparateStats, err = o.boolean("separate-stats"); err != nil {
		return AcceptArgs{}, err
	}
	if a.ChannelPrefix, err = o.str("channel-prefix", false); err != nil {
		return AcceptArgs{}, err
	}
	chans, _, err := o.list("channels", false)
	if err != nil {
		return AcceptArgs{}, err
	}
	for i, c := range chans {
		if c.Kind != tnetstring.String {
			return AcceptArgs{}, o.errorf(fmt.Sprintf("channels[%d]", i), "must be of type string, not %s", c.Kind)
		}
		a.Channels = append(a.Channels, string(c.Str))
	}
	if a.Trusted, err = o.boolean("trusted"); err != nil {
		return AcceptArgs{}, err
	}
	reqs, _, err := o.list("requests", true)
	if err != nil {
		return AcceptArgs{}, err
	}
	a.Requests = make([]RequestState, 0, len(reqs))
	for i, rv := range reqs {
		ro, err := o.elem("requests", i, rv)
		if err != nil {
			return AcceptArgs{}, err
		}
		r, err := ro.requestState()
		if err != nil {
			return AcceptArgs{}, err
		}
		a.Requests = append(a.Requests, r)
	}
	if a.RequestData, err = o.requestData("request-data", true); err != nil {
		return AcceptArgs{}, err
	}
	if a.OrigRequestData, err = o.requestData("orig-request-data", true); err != nil {
		return AcceptArgs{}, err
	}
	if a.Response, err = o.responseData("response", true); err != nil {
		return AcceptArgs{}, err
	}
	io, ok, err := o.child("inspect", false)
	if err != nil {
		return AcceptArgs{}, err
	}
	if ok {
		d, err := io.inspectData()
		if err != nil {
			return AcceptArgs{}, err
		}
		a.Inspect = &d
	}
	if a.ResponseSent, err = o.boolean("response-sent"); err != nil {
		return AcceptArgs{}, err
	}
	if a.UseSession, err = o.boolean("use-session"); err != nil {
		return AcceptArgs{}, err
	}
	return a, nil
}

func (o obj) requestState() (RequestState, error) {
	var r RequestState
	var err error
	if r.RID, err = o.rid(); err != nil {
		return RequestState{}, err
	}
	if r.InSeq, _, err = o.integer("in-seq", true); err != nil {
		return RequestState{}, err
	}
	if r.OutSeq, _, err = o.integer("out-seq", true); err != nil {
		return RequestState{}, err
	}
	if r.OutCredits, _, err = o.integer("out-credits", true); err != nil {
		return RequestState{}, err
	}
	if r.ResponseCode, _, err = o.integer("response-code", false); err != nil {
		return RequestState{}, err
	}
	if r.PeerAddress, err = o.ipAddr("peer-address"); err != nil {
		return RequestState{}, err
	}
	if r.LogicalPeerAddress, err = o.ipAddr("logical-peer-address"); err != nil {
		return RequestState{}, err
	}
	if r.HTTPS, err = o.boolean("https"); err != nil {
		return RequestState{}, err
	}
	if r.Debug, err = o.boolean("debug"); err != nil {
		return RequestState{}, err
	}
	if r.IsRetry, err = o.boolean("is-retry"); err != nil {
		return RequestState{}, err
	}
	if r.AutoCrossOrigin, err = o.boolean("auto-cross-origin"); err != nil {
		return RequestState{}, err
	}
	if r.JSONPCallback, err = o.str("jsonp-callback", false); err != nil {
		return RequestState{}, err
	}
	if r.JSONPExtendedResponse, err = o.boolean("jsonp-extended-response"); err != nil {
		return RequestState{}, err
	}
	r.UserData, _ = o.v.Get("user-data")
	return r, nil
}

// AcceptResult is the value of a successful accept response: either the
// handler took the requests over (Accepted), or the instructions did not
// hold and the proxy must send Response itself; both unset means the proxy
// already sent the response (response-sent) and just resumes.
type AcceptResult struct {
	Accepted bool
	Response *ResponseData
}

// Value returns {"accepted":true}, {"response":{…}} or {}.
func (r AcceptResult) Value() tnetstring.Value {
	v := tnetstring.Value{Kind: tnetstring.Dict}
	setTrue(&v, "accepted", r.Accepted)
	if r.Response != nil {
		v.Set("response", r.Response.Value())
	}
	return v
}

// ParseAcceptResult reads the value of a successful accept response as the
// proxy does: accepted must be a bool and response a dict when present; the
// response's own fields are optional but typed.
func ParseAcceptResult(v tnetstring.Value) (AcceptResult, error) {
	o, err := topObj("accept result", v)
	if err != nil {
		return AcceptResult{}, err
	}
	var r AcceptResult
	if r.Accepted, err = o.boolean("accepted"); err != nil {
		return AcceptResult{}, err
	}
	if _, ok := v.Get("response"); ok {
		resp, err := o.responseData("response", false)
		if err != nil {
			return AcceptResult{}, err
		}
		r.Response = &resp
	}
	return r, nil
}
