package handoff

import (
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// RetryRequest is the session state of one request in a retry packet.
type RetryRequest struct {
	RID                   RID
	HTTPS                 bool
	PeerAddress           string // "" = absent
	Debug                 bool
	AutoCrossOrigin       bool
	JSONPCallback         string // "" = not JSON-P
	JSONPExtendedResponse bool
	InSeq                 int
	OutSeq                int
	OutCredits            int
	UserData              tnetstring.Value
}

// RetryPacket is what the handler pushes to the proxy's retry socket to send
// held requests back to the origin (reference §4.4): on prev-id mismatch,
// hint publishes, recover, and the refresh after a first subscription. The
// proxy recreates the server sessions from Requests, re-routes (by Route when
// set) and adds Grip-Last headers from Inspect.LastIDs; the next accept then
// carries is-retry.
type RetryPacket struct {
	Requests []RetryRequest
	// RequestData is the original client request.
	RequestData RequestData
	// Inspect is carried over from the accept, or created to pass last ids;
	// nil = absent.
	Inspect *InspectData
	Route   string // "" = absent
}

func (r RetryRequest) value() tnetstring.Value {
	v := tnetstring.D("rid", r.RID.value())
	setTrue(&v, "https", r.HTTPS)
	setString(&v, "peer-address", r.PeerAddress)
	setTrue(&v, "debug", r.Debug)
	setTrue(&v, "auto-cross-origin", r.AutoCrossOrigin)
	setString(&v, "jsonp-callback", r.JSONPCallback)
	setTrue(&v, "jsonp-extended-response", r.JSONPExtendedResponse)
	v.Set("in-seq", tnetstring.I(int64(r.InSeq)))
	v.Set("out-seq", tnetstring.I(int64(r.OutSeq)))
	v.Set("out-credits", tnetstring.I(int64(r.OutCredits)))
	if !r.UserData.IsZero() {
		v.Set("user-data", r.UserData)
	}
	return v
}

// Value returns the packet dict with optional fields omitted when unset.
func (p RetryPacket) Value() tnetstring.Value {
	reqs := tnetstring.Value{Kind: tnetstring.List, List: make([]tnetstring.Value, 0, len(p.Requests))}
	for _, r := range p.Requests {
		reqs.List = append(reqs.List, r.value())
	}
	v := tnetstring.D("requests", reqs, "request-data", p.RequestData.Value())
	if p.Inspect != nil {
		v.Set("inspect", p.Inspect.Value())
	}
	setString(&v, "route", p.Route)
	return v
}

// Encode returns the packet as a bare tnetstring (no 'T' prefix), the form
// written to the retry socket.
func (p RetryPacket) Encode() []byte { return tnetstring.Encode(p.Value()) }

// DecodeRetry parses a retry packet with the proxy's rules: requests (each
// with rid {sender, id}, in-seq, out-seq, out-credits) and request-data
// (method, uri, body; headers optional) are required; inspect must have
// no-proxy; optional fields must have their types.
func DecodeRetry(b []byte) (RetryPacket, error) {
	v, err := decodeBytes("retry packet", b)
	if err != nil {
		return RetryPacket{}, err
	}
	o, err := topObj("retry packet", v)
	if err != nil {
		return RetryPacket{}, err
	}
	reqs, _, err := o.list("requests", true)
	if err != nil {
		return RetryPacket{}, err
	}
	var p RetryPacket
	p.Requests = make([]RetryRequest, 0, len(reqs))
	for i, rv := range reqs {
		ro, err := o.elem("requests", i, rv)
		if err != nil {
			return RetryPacket{}, err
		}
		r, err := ro.retryRequest()
		if err != nil {
			return RetryPacket{}, err
		}
		p.Requests = append(p.Requests, r)
	}
	if p.RequestData, err = o.requestData("request-data", false); err != nil {
		return RetryPacket{}, err
	}
	io, ok, err := o.child("inspect", false)
	if err != nil {
		return RetryPacket{}, err
	}
	if ok {
		d, err := io.inspectData()
		if err != nil {
			return RetryPacket{}, err
		}
		p.Inspect = &d
	}
	if p.Route, err = o.str("route", false); err != nil {
		return RetryPacket{}, err
	}
	return p, nil
}

func (o obj) retryRequest() (RetryRequest, error) {
	var r RetryRequest
	var err error
	if r.RID, err = o.rid(); err != nil {
		return RetryRequest{}, err
	}
	if r.HTTPS, err = o.boolean("https"); err != nil {
		return RetryRequest{}, err
	}
	// The proxy does not validate the address here (it builds a QHostAddress
	// from whatever string it gets); a bad one simply stays unset there. We
	// only check the type.
	if r.PeerAddress, err = o.str("peer-address", false); err != nil {
		return RetryRequest{}, err
	}
	if r.Debug, err = o.boolean("debug"); err != nil {
		return RetryRequest{}, err
	}
	if r.AutoCrossOrigin, err = o.boolean("auto-cross-origin"); err != nil {
		return RetryRequest{}, err
	}
	if r.JSONPCallback, err = o.str("jsonp-callback", false); err != nil {
		return RetryRequest{}, err
	}
	if r.JSONPExtendedResponse, err = o.boolean("jsonp-extended-response"); err != nil {
		return RetryRequest{}, err
	}
	if r.InSeq, _, err = o.integer("in-seq", true); err != nil {
		return RetryRequest{}, err
	}
	if r.OutSeq, _, err = o.integer("out-seq", true); err != nil {
		return RetryRequest{}, err
	}
	if r.OutCredits, _, err = o.integer("out-credits", true); err != nil {
		return RetryRequest{}, err
	}
	r.UserData, _ = o.v.Get("user-data")
	return r, nil
}
