package handoff

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
)

func fromJSON(t testing.TB, s string) tnetstring.Value {
	t.Helper()
	v, err := tnetstring.FromJSON([]byte(s))
	if err != nil {
		t.Fatalf("FromJSON(%s): %v", s, err)
	}
	return v
}

// The accept call captured in reference §4.3, with the elided header lists
// filled in as pushpin-proxy sent them.
const verifiedAccept = `{"method":"accept","id":"3b9b2a4e-5e3c-4bd4-9a65-4b3b64b7a2f1","args":{"route":"*,*,*,*","trusted":true,
 "requests":[{"rid":{"sender":"condure","id":"1-0-0"},"peer-address":"127.0.0.1","logical-peer-address":"127.0.0.1",
              "debug":true,"in-seq":2,"out-seq":2,"out-credits":8192}],
 "inspect":{"no-proxy":false},
 "orig-request-data":{"method":"GET","uri":"http://127.0.0.1:27999/response","headers":[["Host","127.0.0.1:27999"],["User-Agent","curl/7.88.1"],["Accept","*/*"]],"body":""},
 "request-data":{"method":"GET","uri":"http://127.0.0.1:27999/response","headers":[["Host","127.0.0.1:27999"],["User-Agent","curl/7.88.1"],["Accept","*/*"],["Grip-Sig","eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.x"],["Grip-Feature","status, session, link:next, filter:skip-self"]],"body":""},
 "response":{"code":200,"reason":"OK","headers":[["Content-Type","text/plain"],["Grip-Hold","response"],["Grip-Channel","test"],["Grip-Timeout","3"],["Content-Length","13"]],"body":"timeout body\n"}}}`

func TestVerifiedAccept(t *testing.T) {
	wire := tnetstring.Encode(fromJSON(t, verifiedAccept))
	req, err := zrpc.DecodeRequest(wire)
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != zrpc.MethodAccept {
		t.Fatalf("method = %q", req.Method)
	}
	a, err := ParseAcceptArgs(req.Args)
	if err != nil {
		t.Fatal(err)
	}
	want := AcceptArgs{
		Requests: []RequestState{{
			RID:         RID{Sender: "condure", ID: "1-0-0"},
			PeerAddress: "127.0.0.1", LogicalPeerAddress: "127.0.0.1",
			Debug: true, InSeq: 2, OutSeq: 2, OutCredits: 8192,
		}},
		Inspect: &InspectData{},
		OrigRequestData: RequestData{Method: "GET", URI: "http://127.0.0.1:27999/response",
			Headers: hs("Host", "127.0.0.1:27999", "User-Agent", "curl/7.88.1", "Accept", "*/*"), Body: []byte{}},
		RequestData: RequestData{Method: "GET", URI: "http://127.0.0.1:27999/response",
			Headers: hs("Host", "127.0.0.1:27999", "User-Agent", "curl/7.88.1", "Accept", "*/*", "Grip-Sig", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.x", "Grip-Feature", "status, session, link:next, filter:skip-self"), Body: []byte{}},
		Response: ResponseData{Code: 200, Reason: "OK",
			Headers: hs("Content-Type", "text/plain", "Grip-Hold", "response", "Grip-Channel", "test", "Grip-Timeout", "3", "Content-Length", "13"),
			Body:    []byte("timeout body\n")},
		Route:   "*,*,*,*",
		Trusted: true,
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("ParseAcceptArgs =\n%+v\nwant\n%+v", a, want)
	}
	// Re-encoding writes exactly the keys Pushpin wrote.
	if !want.Value().Equal(req.Args) {
		t.Fatalf("re-encoded args differ:\n%v\n%v", want.Value(), req.Args)
	}
	if r := want.Request(req.ID); !r.Args.Equal(req.Args) || r.ID != req.ID || r.Method != "accept" {
		t.Fatalf("Request = %+v", r)
	}
}

func TestAcceptAllFields(t *testing.T) {
	a := AcceptArgs{
		Requests: []RequestState{
			{RID: RID{"condure", "0-1-2"}, HTTPS: true, PeerAddress: "::1", LogicalPeerAddress: "203.0.113.9",
				Debug: true, IsRetry: true, AutoCrossOrigin: true, JSONPCallback: "cb", JSONPExtendedResponse: true,
				ResponseCode: 200, InSeq: 3, OutSeq: 4, OutCredits: 0, UserData: tnetstring.D("k", tnetstring.L(tnetstring.I(1)))},
			{RID: RID{"condure", "0-1-3"}, InSeq: 1, OutSeq: 1, OutCredits: 100},
		},
		RequestData:     RequestData{Method: "POST", URI: "https://origin/x", Headers: hs("A", "1", "A", "2"), Body: []byte("\x00\xff")},
		OrigRequestData: RequestData{Method: "POST", URI: "https://example.com/x", Headers: []Header{}, Body: []byte{}},
		Inspect: &InspectData{NoProxy: false, SharingKey: "auto|http://a/b|lk; last-id=p1", SID: "s1",
			LastIDs: map[string]string{"b": "2", "a": "1"}, UserData: tnetstring.S("ud")},
		Response:      ResponseData{Code: 299, Reason: "Custom", Headers: hs("Grip-Status", "299 Custom"), Body: []byte("x")},
		Route:         "myroute",
		SeparateStats: true,
		ChannelPrefix: "pre-",
		Channels:      []string{"c1", "c2"},
		Trusted:       true,
		UseSession:    true,
		ResponseSent:  true,
	}
	got, err := DecodeAcceptArgs(a.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("round trip =\n%+v\nwant\n%+v", got, a)
	}
	// Unset optional fields are omitted; jsonp-extended-response needs a
	// callback, as in Pushpin's encoder.
	min := RequestState{RID: RID{"c", "1"}, JSONPExtendedResponse: true}.Value()
	var keys []string
	for _, p := range min.Dict {
		keys = append(keys, string(p.Key))
	}
	if strings.Join(keys, ",") != "rid,in-seq,out-seq,out-credits" {
		t.Fatalf("minimal request state keys = %v", keys)
	}
	// Last ids are written in key order.
	if enc := tnetstring.Encode(a.Inspect.Value()); !bytes.Contains(enc, []byte("8:last-ids,16:1:a,1:1,1:b,1:2,}")) {
		t.Fatalf("inspect encoding %q", enc)
	}
}

func TestAcceptArgsErrors(t *testing.T) {
	base := func() tnetstring.Value {
		return fromJSON(t, `{"requests":[{"rid":{"sender":"condure","id":"1"},"in-seq":1,"out-seq":1,"out-credits":10}],
			"request-data":{"method":"GET","uri":"http://a/","headers":[],"body":""},
			"orig-request-data":{"method":"GET","uri":"http://a/","headers":[],"body":""},
			"response":{"code":200,"reason":"OK","headers":[],"body":""}}`)
	}
	if _, err := ParseAcceptArgs(base()); err != nil {
		t.Fatalf("base args rejected: %v", err)
	}
	tests := []struct {
		name string
		edit func(v *tnetstring.Value)
		msg  string
	}{
		{"no requests", func(v *tnetstring.Value) { del(v, "requests") }, "accept args: requests: missing"},
		{"requests dict", func(v *tnetstring.Value) { v.Set("requests", tnetstring.D()) }, "requests: must be of type list, not dict"},
		{"request not dict", func(v *tnetstring.Value) { v.Set("requests", tnetstring.L(tnetstring.S("x"))) }, "requests[0]: must be of type dict, not string"},
		{"no rid", func(v *tnetstring.Value) { del(req0(v), "rid") }, "requests[0].rid: missing"},
		{"sender int", func(v *tnetstring.Value) {
			req0(v).Set("rid", tnetstring.D("sender", tnetstring.I(1), "id", tnetstring.S("1")))
		}, "requests[0].rid.sender: must be of type string, not int"},
		{"empty sender", func(v *tnetstring.Value) {
			req0(v).Set("rid", tnetstring.D("sender", tnetstring.S(""), "id", tnetstring.S("1")))
		}, "requests[0].rid.sender: empty"},
		{"no in-seq", func(v *tnetstring.Value) { del(req0(v), "in-seq") }, "requests[0].in-seq: missing"},
		{"out-seq string", func(v *tnetstring.Value) { req0(v).Set("out-seq", tnetstring.S("1")) }, "requests[0].out-seq: must be of type int, not string"},
		{"credits overflow", func(v *tnetstring.Value) { req0(v).Set("out-credits", tnetstring.I(1<<40)) }, "out of range"},
		{"bad peer address", func(v *tnetstring.Value) { req0(v).Set("peer-address", tnetstring.S("localhost")) }, "requests[0].peer-address: invalid IP address"},
		{"empty logical address", func(v *tnetstring.Value) { req0(v).Set("logical-peer-address", tnetstring.S("")) }, "invalid IP address"},
		{"https string", func(v *tnetstring.Value) { req0(v).Set("https", tnetstring.S("true")) }, "requests[0].https: must be of type bool, not string"},
		{"response-code bool", func(v *tnetstring.Value) { req0(v).Set("response-code", tnetstring.T(true)) }, "response-code: must be of type int"},
		{"no request-data", func(v *tnetstring.Value) { del(v, "request-data") }, "request-data: missing"},
		{"request-data list", func(v *tnetstring.Value) { v.Set("request-data", tnetstring.L()) }, "request-data: must be of type dict, not list"},
		{"empty method", func(v *tnetstring.Value) { sub(v, "request-data").Set("method", tnetstring.S("")) }, "request-data.method: empty"},
		{"bad uri", func(v *tnetstring.Value) { sub(v, "orig-request-data").Set("uri", tnetstring.S("http://a b\x7f/")) }, "orig-request-data.uri: invalid URI"},
		{"no headers", func(v *tnetstring.Value) { del(sub(v, "request-data"), "headers") }, "request-data.headers: missing"},
		{"header not list", func(v *tnetstring.Value) {
			sub(v, "request-data").Set("headers", tnetstring.L(tnetstring.S("Host: a")))
		}, "request-data.headers[0]: must be of type list, not string"},
		{"header three items", func(v *tnetstring.Value) {
			sub(v, "request-data").Set("headers", tnetstring.L(tnetstring.L(tnetstring.S("a"), tnetstring.S("b"), tnetstring.S("c"))))
		}, "request-data.headers[0]: must have 2 elements, not 3"},
		{"header value int", func(v *tnetstring.Value) {
			sub(v, "request-data").Set("headers", tnetstring.L(tnetstring.L(tnetstring.S("a"), tnetstring.I(1))))
		}, "request-data.headers[0][1]: must be of type string, not int"},
		{"no body", func(v *tnetstring.Value) { del(sub(v, "orig-request-data"), "body") }, "orig-request-data.body: missing"},
		{"no response", func(v *tnetstring.Value) { del(v, "response") }, "response: missing"},
		{"response no reason", func(v *tnetstring.Value) { del(sub(v, "response"), "reason") }, "response.reason: missing"},
		{"response code string", func(v *tnetstring.Value) { sub(v, "response").Set("code", tnetstring.S("200")) }, "response.code: must be of type int, not string"},
		{"inspect without no-proxy", func(v *tnetstring.Value) { v.Set("inspect", tnetstring.D("sid", tnetstring.S("x"))) }, "inspect.no-proxy: missing"},
		{"last-ids value int", func(v *tnetstring.Value) {
			v.Set("inspect", tnetstring.D("no-proxy", tnetstring.T(false), "last-ids", tnetstring.D("ch", tnetstring.I(1))))
		}, "inspect.last-ids.ch: must be of type string, not int"},
		{"channels item int", func(v *tnetstring.Value) { v.Set("channels", tnetstring.L(tnetstring.I(1))) }, "channels[0]: must be of type string"},
		{"route int", func(v *tnetstring.Value) { v.Set("route", tnetstring.I(1)) }, "route: must be of type string, not int"},
		{"trusted null", func(v *tnetstring.Value) { v.Set("trusted", tnetstring.N()) }, "trusted: must be of type bool, not null"},
		{"response-sent int", func(v *tnetstring.Value) { v.Set("response-sent", tnetstring.I(1)) }, "response-sent: must be of type bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := base()
			tt.edit(&v)
			_, err := ParseAcceptArgs(v)
			checkInvalid(t, err, tt.msg)
		})
	}
	_, err := ParseAcceptArgs(tnetstring.Value{})
	checkInvalid(t, err, "accept args: missing")
	_, err = DecodeAcceptArgs([]byte("3:abc"))
	checkInvalid(t, err, "accept args: tnetstring")
}

// hs builds a header list from name, value pairs.
func hs(kv ...string) []Header {
	out := make([]Header, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Header{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func del(v *tnetstring.Value, key string) {
	out := v.Dict[:0]
	for _, p := range v.Dict {
		if string(p.Key) != key {
			out = append(out, p)
		}
	}
	v.Dict = out
}

func sub(v *tnetstring.Value, key string) *tnetstring.Value {
	for i := range v.Dict {
		if string(v.Dict[i].Key) == key {
			return &v.Dict[i].Value
		}
	}
	panic("no key " + key)
}

func req0(v *tnetstring.Value) *tnetstring.Value { return &sub(v, "requests").List[0] }

func checkInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("parse succeeded, want error containing %q", msg)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not mention %q", err, msg)
	}
}

func TestInspect(t *testing.T) {
	a := InspectArgs{Method: "GET", URI: "http://127.0.0.1:27999/link2?x=1",
		Headers: hs("Grip-Last", "lk; last-id=p1"), Body: []byte{}, AutoShare: true}
	req := a.Request("i1")
	if req.Method != "inspect" {
		t.Fatalf("method %q", req.Method)
	}
	dreq, err := zrpc.DecodeRequest(req.Encode())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseInspectArgs(dreq.Args)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("inspect args round trip = %+v, %v", got, err)
	}
	if _, ok := a.Value().Get("truncated"); ok {
		t.Fatal("unset truncated was written")
	}
	all := InspectArgs{Method: "POST", URI: "http://a/", Headers: []Header{}, Body: []byte("x"), Truncated: true, GetSession: true}
	if got, err := ParseInspectArgs(all.Value()); err != nil || !reflect.DeepEqual(got, all) {
		t.Fatalf("inspect args round trip = %+v, %v", got, err)
	}

	// The handler's answer to an auto-share next-link GET (§4.2, verified).
	wire := "86:8:no-proxy,5:false!11:sharing-key,48:auto|http://127.0.0.1:27999/link2|lk; last-id=p1,}"
	wv, err := tnetstring.Decode([]byte(wire))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseInspectResult(wv)
	if err != nil || res.NoProxy || res.SharingKey != "auto|http://127.0.0.1:27999/link2|lk; last-id=p1" {
		t.Fatalf("inspect result = %+v, %v", res, err)
	}
	if string(tnetstring.Encode(res.Value())) != wire {
		t.Fatalf("inspect result encodes as %q", tnetstring.Encode(res.Value()))
	}

	errs := []struct {
		v   tnetstring.Value
		msg string
	}{
		{tnetstring.D("method", tnetstring.S("GET")), "inspect args: uri: missing"},
		{tnetstring.D("method", tnetstring.I(1)), "inspect args: method: must be of type string, not int"},
		{fromJSON(t, `{"method":"GET","uri":"http://a/","headers":[],"body":"","truncated":1}`), "truncated: must be of type bool, not int"},
		{fromJSON(t, `{"method":"GET","uri":"http://a/","headers":{},"body":""}`), "headers: must be of type list, not dict"},
		{fromJSON(t, `{"method":"GET","uri":"http://a/","headers":[]}`), "body: missing"},
	}
	for _, e := range errs {
		_, err := ParseInspectArgs(e.v)
		checkInvalid(t, err, e.msg)
	}
	for _, e := range []struct {
		v   tnetstring.Value
		msg string
	}{
		{tnetstring.D(), "no-proxy: missing"},
		{tnetstring.D("no-proxy", tnetstring.S("false")), "no-proxy: must be of type bool"},
		{tnetstring.D("no-proxy", tnetstring.T(false), "sid", tnetstring.I(3)), "sid: must be of type string"},
		{tnetstring.D("no-proxy", tnetstring.T(false), "last-ids", tnetstring.L()), "last-ids: must be of type dict, not list"},
		{tnetstring.N(), "inspect result is a null, not a dict"},
	} {
		_, err := ParseInspectResult(e.v)
		checkInvalid(t, err, e.msg)
	}
}

func TestAcceptResult(t *testing.T) {
	tests := []struct {
		name string
		r    AcceptResult
		wire string
	}{
		{"accepted", AcceptResult{Accepted: true}, `{"accepted":true}`},
		// §4.3 verified: Grip-Status 299 with no hold.
		{"response", AcceptResult{Response: &ResponseData{Code: 299, Reason: "Custom",
			Headers: hs("Server", "x", "Date", "d", "Content-Type", "text/plain"), Body: []byte("nohold body\n")}},
			`{"response":{"code":299,"reason":"Custom","headers":[["Server","x"],["Date","d"],["Content-Type","text/plain"]],"body":"nohold body\n"}}`},
		{"response already sent", AcceptResult{}, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := fromJSON(t, tt.wire)
			if !tt.r.Value().Equal(want) {
				t.Fatalf("Value = %v, want %v", tt.r.Value(), want)
			}
			got, err := ParseAcceptResult(want)
			if err != nil || !reflect.DeepEqual(got, tt.r) {
				t.Fatalf("ParseAcceptResult = %+v, %v", got, err)
			}
		})
	}
	// The proxy tolerates a response without some fields.
	got, err := ParseAcceptResult(fromJSON(t, `{"response":{"code":200}}`))
	if err != nil || got.Response == nil || got.Response.Code != 200 {
		t.Fatalf("partial response = %+v, %v", got, err)
	}
	for _, e := range []struct{ wire, msg string }{
		{`{"accepted":"yes"}`, "accepted: must be of type bool, not string"},
		{`{"response":[]}`, "response: must be of type dict, not list"},
		{`{"response":{"code":"200"}}`, "response.code: must be of type int"},
		{`[]`, "accept result is a list"},
	} {
		_, err := ParseAcceptResult(fromJSON(t, e.wire))
		checkInvalid(t, err, e.msg)
	}
}

// The retry packet of reference §4.4 (verified).
const verifiedRetry = `{"requests":[{"rid":{"sender":"condure","id":"0-1-f"},"peer-address":"127.0.0.1","debug":true,
  "in-seq":3,"out-seq":4,"out-credits":8192}],
  "request-data":{"method":"GET","uri":"http://127.0.0.1:27999/status","headers":[["Host","127.0.0.1:27999"],["Accept","*/*"]],"body":""},
  "inspect":{"no-proxy":false,"last-ids":{"chan":"id"}},
  "route":"*,*,*,*"}`

func TestVerifiedRetry(t *testing.T) {
	v := fromJSON(t, verifiedRetry)
	p, err := DecodeRetry(tnetstring.Encode(v))
	if err != nil {
		t.Fatal(err)
	}
	want := RetryPacket{
		Requests: []RetryRequest{{RID: RID{"condure", "0-1-f"}, PeerAddress: "127.0.0.1", Debug: true, InSeq: 3, OutSeq: 4, OutCredits: 8192}},
		RequestData: RequestData{Method: "GET", URI: "http://127.0.0.1:27999/status",
			Headers: hs("Host", "127.0.0.1:27999", "Accept", "*/*"), Body: []byte{}},
		Inspect: &InspectData{LastIDs: map[string]string{"chan": "id"}},
		Route:   "*,*,*,*",
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("DecodeRetry =\n%+v\nwant\n%+v", p, want)
	}
	if !want.Value().Equal(v) {
		t.Fatalf("re-encoded retry differs:\n%v\n%v", want.Value(), v)
	}
}

func TestRetryRoundTripAndErrors(t *testing.T) {
	st := RequestState{RID: RID{"condure", "1"}, HTTPS: true, PeerAddress: "10.0.0.1", LogicalPeerAddress: "1.2.3.4",
		Debug: true, IsRetry: true, AutoCrossOrigin: true, JSONPCallback: "cb", JSONPExtendedResponse: true,
		ResponseCode: 200, InSeq: 1, OutSeq: 2, OutCredits: 3, UserData: tnetstring.I(7)}
	p := RetryPacket{Requests: []RetryRequest{st.Retry()}, RequestData: RequestData{Method: "GET", URI: "/x", Headers: nil, Body: []byte{}}}
	got, err := DecodeRetry(p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	p.RequestData.Headers = []Header{} // written as an empty list
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip =\n%+v\nwant\n%+v", got, p)
	}
	if _, ok := p.Requests[0].value().Get("logical-peer-address"); ok {
		t.Fatal("retry request carries logical-peer-address")
	}

	// headers are optional in the proxy's retry parser.
	noHeaders := `{"requests":[],"request-data":{"method":"GET","uri":"http://a/","body":""}}`
	if _, err := DecodeRetry(tnetstring.Encode(fromJSON(t, noHeaders))); err != nil {
		t.Fatalf("retry without headers rejected: %v", err)
	}
	for _, e := range []struct{ wire, msg string }{
		{`{"request-data":{"method":"GET","uri":"http://a/","body":""}}`, "retry packet: requests: missing"},
		{`{"requests":[]}`, "request-data: missing"},
		{`{"requests":[{"rid":{"sender":"c","id":"1"},"in-seq":1,"out-seq":1}],"request-data":{"method":"GET","uri":"http://a/","body":""}}`,
			"requests[0].out-credits: missing"},
		{`{"requests":[{"rid":{"sender":"c"},"in-seq":1,"out-seq":1,"out-credits":1}],"request-data":{"method":"GET","uri":"http://a/","body":""}}`,
			"requests[0].rid.id: missing"},
		{`{"requests":[],"request-data":{"method":"GET","uri":"http://a/"}}`, "request-data.body: missing"},
		{`{"requests":[],"request-data":{"method":"GET","uri":"http://a/","body":""},"inspect":{"no-proxy":1}}`, "inspect.no-proxy: must be of type bool, not int"},
		{`{"requests":[],"request-data":{"method":"GET","uri":"http://a/","body":""},"route":[]}`, "route: must be of type string, not list"},
		{`{"requests":[{"rid":{"sender":"c","id":"1"},"in-seq":1,"out-seq":1,"out-credits":1,"peer-address":5}],"request-data":{"method":"GET","uri":"http://a/","body":""}}`,
			"requests[0].peer-address: must be of type string, not int"},
	} {
		_, err := DecodeRetry(tnetstring.Encode(fromJSON(t, e.wire)))
		checkInvalid(t, err, e.msg)
	}
	_, err = DecodeRetry([]byte("T0:}"))
	checkInvalid(t, err, "retry packet: tnetstring")
	_, err = DecodeRetry([]byte("0:]"))
	checkInvalid(t, err, "retry packet is a list, not a dict")
}

func TestPassthrough(t *testing.T) {
	// §4.6 verified intreq passthrough.
	wire := fromJSON(t, `{"route":"*,*,*,*","prefer-internal":true,"auto-share":true,"trusted":true}`)
	p, err := ParsePassthrough(wire)
	want := Passthrough{Route: "*,*,*,*", PreferInternal: true, AutoShare: true, Trusted: true}
	if err != nil || p != want {
		t.Fatalf("ParsePassthrough = %+v, %v", p, err)
	}
	if !want.Value().Equal(wire) {
		t.Fatalf("Value = %v", want.Value())
	}
	// auto-share is always written, even when false.
	if got := string(tnetstring.Encode(Passthrough{Route: "r"}.Value())); got != "34:5:route,1:r,10:auto-share,5:false!}" {
		t.Fatalf("minimal passthrough = %q", got)
	}
	for _, e := range []struct {
		v   tnetstring.Value
		msg string
	}{
		{tnetstring.D("route", tnetstring.I(1)), "passthrough: route: must be of type string"},
		{tnetstring.D("prefer-internal", tnetstring.S("true")), "prefer-internal: must be of type bool"},
		{tnetstring.S("x"), "passthrough is a string, not a dict"},
	} {
		_, err := ParsePassthrough(e.v)
		checkInvalid(t, err, e.msg)
	}
}

func FuzzDecodeAcceptArgs(f *testing.F) {
	v, _ := tnetstring.FromJSON([]byte(verifiedAccept))
	args, _ := v.Get("args")
	f.Add(tnetstring.Encode(args))
	f.Add([]byte("0:}"))
	f.Add(AcceptArgs{Requests: []RequestState{{RID: RID{"c", "1"}, PeerAddress: "::1"}}, Inspect: &InspectData{LastIDs: map[string]string{"a": "b"}}}.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAcceptArgs(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		b, err := DecodeAcceptArgs(a.Encode())
		if err != nil {
			t.Fatalf("re-decode failed: %v", err)
		}
		if !reflect.DeepEqual(normAccept(a), normAccept(b)) {
			t.Fatalf("round trip changed\n%+v\n%+v", a, b)
		}
	})
}

// normAccept clears what encoding legitimately normalises: a jsonp flag
// without callback, user data (compared via Equal), and an empty last-ids
// map.
func normAccept(a AcceptArgs) AcceptArgs {
	for i := range a.Requests {
		if a.Requests[i].JSONPCallback == "" {
			a.Requests[i].JSONPExtendedResponse = false
		}
		a.Requests[i].UserData = tnetstring.S(a.Requests[i].UserData.String())
	}
	if a.Inspect != nil {
		d := *a.Inspect
		d.UserData = tnetstring.S(d.UserData.String())
		a.Inspect = &d
	}
	return a
}

func FuzzDecodeRetry(f *testing.F) {
	v, _ := tnetstring.FromJSON([]byte(verifiedRetry))
	f.Add(tnetstring.Encode(v))
	f.Add([]byte("0:}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeRetry(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		q, err := DecodeRetry(p.Encode())
		if err != nil {
			t.Fatalf("re-decode failed: %v", err)
		}
		if !p.Value().Equal(q.Value()) {
			t.Fatalf("round trip changed\n%v\n%v", p.Value(), q.Value())
		}
	})
}

// Packets captured from Debian's pushpin-handler 1.36 answering our accept
// calls: the no-hold response, and the retry packet it pushed after a
// recover command for a response hold on "rt; prev-id=0".
func TestCapturedFromHandler(t *testing.T) {
	resp, err := zrpc.DecodeResponse([]byte("158:2:id,2:a1,7:success,4:true!5:value,118:8:response,102:6:reason,6:Custom,7:headers,34:30:12:Content-Type,10:text/plain,]]4:body,12:nohold body\n,4:code,3:299#}}}"))
	if err != nil {
		t.Fatal(err)
	}
	ar, err := ParseAcceptResult(resp.Value)
	want := AcceptResult{Response: &ResponseData{Code: 299, Reason: "Custom", Headers: hs("Content-Type", "text/plain"), Body: []byte("nohold body\n")}}
	if err != nil || !reflect.DeepEqual(ar, want) {
		t.Fatalf("accept result = %+v, %v", ar, err)
	}

	raw := "384:8:requests,163:158:7:out-seq,1:4#6:in-seq,1:3#9:user-data,9:2:ud,1:5#}12:peer-address,9:127.0.0.1,11:out-credits,4:8192#3:rid,32:2:id,5:1-0-9,6:sender,7:condure,}5:debug,4:true!}]5:route,7:*,*,*,*,12:request-data,110:6:method,3:GET,3:uri,31:http://127.0.0.1:27999/response,7:headers,30:26:4:Host,15:127.0.0.1:27999,]]4:body,0:,}7:inspect,42:8:no-proxy,5:false!8:last-ids,9:2:rt,1:0,}}}"
	p, err := DecodeRetry([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	wantRetry := RetryPacket{
		Requests: []RetryRequest{{RID: RID{"condure", "1-0-9"}, PeerAddress: "127.0.0.1", Debug: true,
			InSeq: 3, OutSeq: 4, OutCredits: 8192, UserData: tnetstring.D("ud", tnetstring.I(5))}},
		RequestData: RequestData{Method: "GET", URI: "http://127.0.0.1:27999/response", Headers: hs("Host", "127.0.0.1:27999"), Body: []byte{}},
		Inspect:     &InspectData{LastIDs: map[string]string{"rt": "0"}},
		Route:       "*,*,*,*",
	}
	if !p.Value().Equal(wantRetry.Value()) {
		t.Fatalf("DecodeRetry = %v", p.Value())
	}
	if enc := p.Encode(); len(enc) != len(raw) {
		t.Fatalf("re-encoded length %d, captured %d", len(enc), len(raw))
	}
}

// FuzzParseValues feeds arbitrary tnetstrings to the Value parsers (inspect
// args and result, accept result, passthrough): no panics, errors wrap
// ErrInvalid, and what parses re-parses from its own encoding.
func FuzzParseValues(f *testing.F) {
	f.Add(tnetstring.Encode(InspectArgs{Method: "GET", URI: "http://a/", Headers: hs("A", "b"), Body: []byte{}, AutoShare: true}.Value()))
	f.Add(tnetstring.Encode(InspectData{SharingKey: "k", LastIDs: map[string]string{"c": "1"}}.Value()))
	f.Add(tnetstring.Encode(AcceptResult{Response: &ResponseData{Code: 200, Reason: "OK"}}.Value()))
	f.Add(tnetstring.Encode(Passthrough{Route: "r", PreferInternal: true, AutoShare: true}.Value()))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := tnetstring.Decode(data)
		if err != nil {
			return
		}
		check := func(err error) bool {
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return err == nil
		}
		if a, err := ParseInspectArgs(v); check(err) {
			if b, err := ParseInspectArgs(a.Value()); err != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("inspect args round trip: %+v -> %+v, %v", a, b, err)
			}
		}
		if d, err := ParseInspectResult(v); check(err) {
			if _, err := ParseInspectResult(d.Value()); err != nil {
				t.Fatalf("inspect result round trip: %v", err)
			}
		}
		if r, err := ParseAcceptResult(v); check(err) {
			if _, err := ParseAcceptResult(r.Value()); err != nil {
				t.Fatalf("accept result round trip: %v", err)
			}
		}
		if p, err := ParsePassthrough(v); check(err) {
			if q, err := ParsePassthrough(p.Value()); err != nil || p != q {
				t.Fatalf("passthrough round trip: %+v -> %+v, %v", p, q, err)
			}
		}
	})
}
