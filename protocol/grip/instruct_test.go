package grip

import (
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func hdrs(kv ...string) []Header {
	h := make([]Header, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		h = append(h, Header{Name: kv[i], Value: kv[i+1]})
	}
	return h
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func ok200(h ...string) Response {
	return Response{Code: 200, Reason: "OK", Headers: append(hdrs("Content-Type", "text/plain"), hdrs(h...)...), Body: []byte("hello world")}
}

func TestParseHeaders(t *testing.T) {
	base := mustURL("http://example.com/stream/?x=1")
	tests := []struct {
		name string
		in   Response
		want Instruct
	}{
		{"not grip at all", ok200(), Instruct{Timeout: 55,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"no hold with channel (Pushpin noHold test)", ok200("Grip-Channel", "test"), Instruct{Timeout: 55,
			Channels: []Channel{{Name: "test"}},
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"status code only", ok200("Grip-Status", "404"), Instruct{Timeout: 55,
			Response: Response{Code: 404, Reason: "Not Found", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"status with reason", ok200("Grip-Status", "202 Pending Thing"), Instruct{Timeout: 55,
			Response: Response{Code: 202, Reason: "Pending Thing", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"status first occurrence only", ok200("Grip-Status", "201", "Grip-Status", "bogus"), Instruct{Timeout: 55,
			Response: Response{Code: 201, Reason: "Created", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"empty status ignored", ok200("Grip-Status", ""), Instruct{Timeout: 55,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"origin reason kept", Response{Code: 200, Reason: "Fine", Headers: hdrs("Grip-Hold", "response")}, Instruct{Hold: HoldResponse, Timeout: 55,
			Response: Response{Code: 200, Reason: "Fine", Headers: []Header{}}}},
		{"empty origin reason defaulted", Response{Code: 503, Headers: hdrs("Grip-Hold", "response")}, Instruct{Hold: HoldResponse, Timeout: 55,
			Response: Response{Code: 503, Reason: "Service Unavailable", Headers: []Header{}}}},
		{"response hold (Pushpin responseHold test)", ok200("Grip-Hold", "response", "Grip-Channel", "apple", "Grip-Channel", "banana, cherry",
			"Grip-Timeout", "120", "Grip-Set-Meta", "foo=bar, bar=baz"), Instruct{Hold: HoldResponse, Timeout: 120,
			Channels: []Channel{{Name: "apple"}, {Name: "banana"}, {Name: "cherry"}},
			Meta:     map[string]string{"foo": "bar", "bar": "baz"},
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"channel params (Pushpin test)", ok200("Grip-Hold", "response", "Grip-Channel", "apple; prev-id=item1; filter=f1",
			"Grip-Channel", "banana; filter=f2, cherry; filter=f1; filter=f2"), Instruct{Hold: HoldResponse, Timeout: 55,
			Channels: []Channel{{Name: "apple", PrevID: "item1", Filters: []string{"f1"}}, {Name: "banana", Filters: []string{"f2"}},
				{Name: "cherry", Filters: []string{"f1", "f2"}}},
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"quoted comma in channel filter", ok200("Grip-Channel", `a; filter="x,y", b`), Instruct{Timeout: 55,
			Channels: []Channel{{Name: "a", Filters: []string{"x,y"}}, {Name: "b"}},
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"channel param case", ok200("Grip-Channel", "a; PREV-ID=3; Filter=skip-self; filter=var-subst"), Instruct{Timeout: 55,
			Channels: []Channel{{Name: "a", PrevID: "3", Filters: []string{"var-subst"}}},
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"bad channel element skipped, empty element kept", ok200("Grip-Channel", `a; prev-id="open, b,, c`), Instruct{Timeout: 55,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"empty elements are empty channel names", ok200("Grip-Channel", "a,,b", "Grip-Channel", ""), Instruct{Timeout: 55,
			Channels: []Channel{{Name: "a"}, {Name: ""}, {Name: "b"}},
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"duplicate channels kept", ok200("Grip-Channel", "a; prev-id=1", "Grip-Channel", "a; prev-id=2"), Instruct{Timeout: 55,
			Channels: []Channel{{Name: "a", PrevID: "1"}, {Name: "a", PrevID: "2"}},
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"timeout minimum", ok200("Grip-Hold", "response", "Grip-Timeout", "3"), Instruct{Hold: HoldResponse, Timeout: 5,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"timeout zero raised", ok200("Grip-Timeout", " 0 "), Instruct{Timeout: 5,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"timeout first only", ok200("Grip-Timeout", "30", "Grip-Timeout", "x"), Instruct{Timeout: 30,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"stream with keep-alive (Pushpin test)", ok200("Grip-Hold", "stream", "Grip-Channel", "test", "Grip-Keep-Alive", `ping1\n; timeout=10`),
			Instruct{Hold: HoldStream, Timeout: 55, Channels: []Channel{{Name: "test"}},
				KeepAlive: &KeepAlive{Data: []byte(`ping1\n`), Timeout: 10, Mode: KeepAliveIdle},
				Response:  Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"keep-alive cstring SSE", ok200("Grip-Hold", "stream", "Grip-Keep-Alive", `:\n\n; format=cstring; timeout=20`),
			Instruct{Hold: HoldStream, Timeout: 55, KeepAlive: &KeepAlive{Data: []byte(":\n\n"), Timeout: 20},
				Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"keep-alive base64 interval", ok200("Grip-Hold", "stream", "Grip-Keep-Alive", "a2E=; format=base64; timeout=3; mode=interval"),
			Instruct{Hold: HoldStream, Timeout: 55, KeepAlive: &KeepAlive{Data: []byte("ka"), Timeout: 3, Mode: KeepAliveInterval},
				Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"keep-alive with comma and min timeout", ok200("Grip-Keep-Alive", "a, b; timeout=0; format=raw; mode=idle"),
			Instruct{Timeout: 55, KeepAlive: &KeepAlive{Data: []byte("a, b"), Timeout: 1},
				Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"keep-alive bad quoting means none", ok200("Grip-Keep-Alive", `x; format="raw`), Instruct{Timeout: 55,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"keep-alive empty header means none", ok200("Grip-Keep-Alive", ""), Instruct{Timeout: 55,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"set-meta quoted", ok200("Grip-Set-Meta", `user="alice"`, "grip-set-meta", `note="a, b; c", user=bob; extra=ignored`), Instruct{Timeout: 55,
			Meta:     map[string]string{"user": "bob", "note": "a, b; c"},
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"set-meta without value", ok200("Grip-Set-Meta", "flag"), Instruct{Timeout: 55, Meta: map[string]string{"flag": ""},
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"next link resolved", ok200("Grip-Hold", "stream", "Grip-Link", "</next?after=5>; rel=next"),
			Instruct{Hold: HoldStream, Timeout: 55, NextLink: &NextLink{URI: mustURL("http://example.com/next?after=5"), Timeout: 120},
				Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"next link relative path and timeout", ok200("Grip-Link", "<more>; rel=next; timeout=30"),
			Instruct{Timeout: 55, NextLink: &NextLink{URI: mustURL("http://example.com/stream/more"), Timeout: 30},
				Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"last next link wins, others ignored", ok200("Grip-Link", "</prev>; rel=prev, <bogus", "Grip-Link", "<http://other/a>; rel=next, </b>; REL=next"),
			Instruct{Timeout: 55, NextLink: &NextLink{URI: mustURL("http://example.com/b"), Timeout: 120},
				Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"link rel is case-sensitive", ok200("Grip-Link", "</a>; rel=Next"), Instruct{Timeout: 55,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"tolerant percent in link", ok200("Grip-Link", "</a%zz%41>; rel=next"),
			Instruct{Timeout: 55, NextLink: &NextLink{URI: mustURL("http://example.com/a%25zz%41"), Timeout: 120},
				Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"expose headers", Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain", "X-A", "1", "X-B", "2",
			"Grip-Expose-Headers", "x-b", "Grip-Expose-Headers", "Content-Type, Connection", "Connection", "close")},
			Instruct{Timeout: 55, ExposeHeaders: []string{"x-b", "Content-Type", "Connection"},
				Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain", "X-B", "2")}}},
		{"hop-by-hop and grip removed", Response{Code: 200, Reason: "OK", Headers: hdrs("Grip-Hold", "stream", "Transfer-Encoding", "chunked",
			"Content-Encoding", "gzip", "Keep-Alive", "x", "Grip-Unknown", "y", "Server", "s")},
			Instruct{Hold: HoldStream, Timeout: 55, Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Server", "s")}}},
		{"subscription limit", ok200("Grip-Channel", "a, b, c, d"), Instruct{Timeout: 55,
			Channels: []Channel{{Name: "a"}, {Name: "b"}}, DroppedChannels: 2,
			Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{RequestURI: base}
			if strings.Contains(tt.name, "subscription limit") {
				opts.SubscriptionMax = 2
			}
			got, err := Parse(tt.in, opts)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkInstruct(t, got, &tt.want)
		})
	}
}

func checkInstruct(t *testing.T, got, want *Instruct) {
	t.Helper()
	if len(got.Response.Body) == 0 && len(want.Response.Body) == 0 {
		got.Response.Body, want.Response.Body = nil, nil
	}
	if len(got.Response.Headers) == 0 && len(want.Response.Headers) == 0 {
		got.Response.Headers, want.Response.Headers = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v\n(keep-alive got %+v want %+v; link got %+v want %+v)",
			*got, *want, got.KeepAlive, want.KeepAlive, got.NextLink, want.NextLink)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   Response
		msg  string
	}{
		{"bad hold", ok200("Grip-Hold", "forever"), "Grip-Hold must be set to either 'response' or 'stream'"},
		{"empty hold", ok200("Grip-Hold", ""), "Grip-Hold must be set to either 'response' or 'stream'"},
		{"hold case", ok200("Grip-Hold", "Response"), "Grip-Hold must be set to either 'response' or 'stream'"},
		{"hold first only", ok200("Grip-Hold", "bad", "Grip-Hold", "stream"), "Grip-Hold must be set to either 'response' or 'stream'"},
		{"timeout not a number", ok200("Grip-Timeout", "soon"), "failed to parse Grip-Timeout"},
		{"timeout empty", ok200("Grip-Timeout", ""), "failed to parse Grip-Timeout"},
		{"timeout float", ok200("Grip-Timeout", "1.5"), "failed to parse Grip-Timeout"},
		{"timeout overflow", ok200("Grip-Timeout", "99999999999"), "failed to parse Grip-Timeout"},
		{"timeout negative", ok200("Grip-Timeout", "-1"), "Grip-Timeout has invalid value"},
		{"keep-alive empty data", ok200("Grip-Keep-Alive", "; format=raw"), "Grip-Keep-Alive cannot be empty"},
		{"keep-alive bad mode", ok200("Grip-Keep-Alive", "x; mode=often"), "no such Grip-Keep-Alive mode 'often'"},
		{"keep-alive bad timeout", ok200("Grip-Keep-Alive", "x; timeout=abc"), "failed to parse Grip-Keep-Alive timeout value"},
		{"keep-alive timeout without value", ok200("Grip-Keep-Alive", "x; timeout"), "failed to parse Grip-Keep-Alive timeout value"},
		{"keep-alive negative timeout", ok200("Grip-Keep-Alive", "x; timeout=-5"), "Grip-Keep-Alive timeout has invalid value"},
		{"keep-alive bad cstring", ok200("Grip-Keep-Alive", `x\; format=cstring`), "failed to parse Grip-Keep-Alive cstring format"},
		{"keep-alive cstring decoding to nothing", ok200("Grip-Keep-Alive", `\t; format=cstring`), "failed to parse Grip-Keep-Alive cstring format"},
		{"keep-alive bad format", ok200("Grip-Keep-Alive", "x; format=hex"), "no such Grip-Keep-Alive format 'hex'"},
		{"keep-alive mode before timeout", ok200("Grip-Keep-Alive", "x; timeout=bad; mode=bad"), "no such Grip-Keep-Alive mode 'bad'"},
		{"set-meta empty element", ok200("Grip-Set-Meta", "a=1,,b=2"), "Grip-Set-Meta cannot be empty"},
		{"set-meta leading comma", ok200("Grip-Set-Meta", ", a=1"), "Grip-Set-Meta cannot be empty"},
		{"status not a number", ok200("Grip-Status", "OK"), "Grip-Status contains invalid status code"},
		{"status too big", ok200("Grip-Status", "1000 Big"), "Grip-Status contains invalid status code"},
		{"status negative", ok200("Grip-Status", "-1"), "Grip-Status contains invalid status code"},
		{"status leading space", ok200("Grip-Status", " 200"), "Grip-Status contains invalid status code"},
		{"link without brackets", ok200("Grip-Link", "/next; rel=next"), "failed to parse Grip-Link value"},
		{"link empty brackets", ok200("Grip-Link", "<>; rel=next"), "failed to parse Grip-Link value"},
		{"link invalid", ok200("Grip-Link", "<http://h:port/>; rel=next"), "Grip-Link contains invalid link"},
		{"link bad timeout", ok200("Grip-Link", "</n>; rel=next; timeout=x"), "failed to parse Grip-Link timeout value"},
		{"link negative timeout", ok200("Grip-Link", "</n>; rel=next; timeout=-1"), "Grip-Link timeout has invalid value"},
		{"hold checked before timeout", ok200("Grip-Timeout", "x", "Grip-Hold", "x"), "Grip-Hold must be set to either 'response' or 'stream'"},
		{"status checked before link", ok200("Grip-Link", "x; rel=next", "Grip-Status", "x"), "Grip-Status contains invalid status code"},
		{"instruct body needs 200", Response{Code: 201, Headers: hdrs("Content-Type", "application/grip-instruct"), Body: []byte("{}")},
			"response code for application/grip-instruct content must be 200"},
		{"instruct code checked before Grip-Status", Response{Code: 404, Headers: hdrs("Content-Type", "application/grip-instruct", "Grip-Status", "200"), Body: []byte("{}")},
			"response code for application/grip-instruct content must be 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in, Options{})
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", got)
			}
			var ge *Error
			if !errors.As(err, &ge) || ge.Msg != tt.msg {
				t.Fatalf("error %q, want %q", err, tt.msg)
			}
		})
	}
}

func instructResp(body string) Response {
	return Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "application/grip-instruct", "X-Origin", "dropped"), Body: []byte(body)}
}

func TestParseBody(t *testing.T) {
	tests := []struct {
		name string
		in   Response
		want Instruct
	}{
		{"response only (Pushpin test)", instructResp(`{"response":{"code": 200,"headers":{"Content-Type":"text/plain"},"body":"hello world"}}`),
			Instruct{Timeout: 55, Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"empty object", instructResp(`{}`), Instruct{Timeout: 55, Response: Response{Code: 200, Reason: "OK"}}},
		{"content type params", Response{Code: 200, Headers: hdrs("Content-Type", " application/grip-instruct ; charset=utf-8"), Body: []byte(`{}`)},
			Instruct{Timeout: 55, Response: Response{Code: 200, Reason: "OK"}}},
		{"response hold (Pushpin test)", instructResp(`{"hold":{"mode":"response","channels":[{"name":"test"}],"timeout":120,"meta":{"foo":"bar","bar":"baz"}},"response":{"code": 200,"headers":{"Content-Type":"text/plain"},"body":"hello world"}}`),
			Instruct{Hold: HoldResponse, Timeout: 120, Channels: []Channel{{Name: "test"}}, Meta: map[string]string{"foo": "bar", "bar": "baz"},
				Response: Response{Code: 200, Reason: "OK", Headers: hdrs("Content-Type", "text/plain"), Body: []byte("hello world")}}},
		{"channel params", instructResp(`{"hold":{"mode":"stream","channels":[{"name":"apple","prev-id":"item1","filters":["f1"]},{"name":"cherry","filters":["f1","f2"]}]}}`),
			Instruct{Hold: HoldStream, Timeout: 55, Channels: []Channel{{Name: "apple", PrevID: "item1", Filters: []string{"f1"}}, {Name: "cherry", Filters: []string{"f1", "f2"}}},
				Response: Response{Code: 200, Reason: "OK"}}},
		{"hold default mode", instructResp(`{"hold":{"channels":[]}}`), Instruct{Hold: HoldResponse, Timeout: 55, Response: Response{Code: 200, Reason: "OK"}}},
		{"json extends headers", Response{Code: 200, Headers: hdrs("Content-Type", "application/grip-instruct", "Grip-Hold", "stream",
			"Grip-Channel", "h", "Grip-Set-Meta", "a=1, b=2", "Grip-Timeout", "60", "Grip-Keep-Alive", "ka; mode=idle; timeout=9"),
			Body: []byte(`{"hold":{"mode":"response","channels":[{"name":"j"}],"timeout":7,"meta":{"b":"3"},"keep-alive":{"content":"x"}}}`)},
			Instruct{Hold: HoldResponse, Timeout: 7, Channels: []Channel{{Name: "h"}, {Name: "j"}}, Meta: map[string]string{"a": "1", "b": "3"},
				KeepAlive: &KeepAlive{Data: []byte("x"), Timeout: 55, Mode: KeepAliveIdle}, Response: Response{Code: 200, Reason: "OK"}}},
		{"json keep-alive without header is interval", instructResp(`{"hold":{"mode":"stream","channels":[],"keep-alive":{"content-bin":"OgoK","timeout":0}}}`),
			Instruct{Hold: HoldStream, Timeout: 55, KeepAlive: &KeepAlive{Data: []byte(":\n\n"), Timeout: 1, Mode: KeepAliveInterval},
				Response: Response{Code: 200, Reason: "OK"}}},
		{"json keep-alive without content keeps header data", Response{Code: 200, Headers: hdrs("Content-Type", "application/grip-instruct",
			"Grip-Keep-Alive", "hdr; timeout=9; mode=interval"), Body: []byte(`{"hold":{"channels":[],"keep-alive":{}}}`)},
			Instruct{Hold: HoldResponse, Timeout: 55, KeepAlive: &KeepAlive{Data: []byte("hdr"), Timeout: 55, Mode: KeepAliveInterval},
				Response: Response{Code: 200, Reason: "OK"}}},
		{"grip-status kept without json code", Response{Code: 200, Headers: hdrs("Content-Type", "application/grip-instruct", "Grip-Status", "202"), Body: []byte(`{"response":{"body":"b"}}`)},
			Instruct{Timeout: 55, Response: Response{Code: 202, Reason: "Accepted", Body: []byte("b")}}},
		{"json code resets reason", Response{Code: 200, Headers: hdrs("Content-Type", "application/grip-instruct", "Grip-Status", "202 Custom"), Body: []byte(`{"response":{"code":"404"}}`)},
			Instruct{Timeout: 55, Response: Response{Code: 404, Reason: "Not Found"}}},
		{"json reason", instructResp(`{"response":{"code":500,"reason":"Oops","headers":[["A","1"],["A","2"]],"body-bin":"AP8="}}`),
			Instruct{Timeout: 55, Response: Response{Code: 500, Reason: "Oops", Headers: hdrs("A", "1", "A", "2"), Body: []byte{0, 0xff}}}},
		{"body-bin wins over body", instructResp(`{"response":{"body":"text","body-bin":"Ymlu"}}`),
			Instruct{Timeout: 55, Response: Response{Code: 200, Reason: "OK", Body: []byte("bin")}}},
		{"timeout float rounds", instructResp(`{"hold":{"channels":[],"timeout":9.5}}`),
			Instruct{Hold: HoldResponse, Timeout: 10, Response: Response{Code: 200, Reason: "OK"}}},
		{"duplicate keys last wins", instructResp(`{"hold":{"channels":[{"name":"a"}],"channels":[{"name":"b"}],"meta":{"k":1,"k":"v"}}}`),
			Instruct{Hold: HoldResponse, Timeout: 55, Channels: []Channel{{Name: "b"}}, Meta: map[string]string{"k": "v"},
				Response: Response{Code: 200, Reason: "OK"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in, Options{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkInstruct(t, got, &tt.want)
		})
	}
}

func TestParseBodyErrors(t *testing.T) {
	tests := []struct{ name, body, msg string }{
		{"not json", `{`, "failed to parse application/grip-instruct content as JSON"},
		{"empty", ``, "failed to parse application/grip-instruct content as JSON"},
		{"scalar", `"x"`, "failed to parse application/grip-instruct content as JSON"},
		{"trailing", `{} x`, "failed to parse application/grip-instruct content as JSON"},
		{"array", `[]`, "instruct must be an object"},
		{"hold wrong type", `{"hold":[]}`, "instruct contains 'hold' with wrong type"},
		{"hold null", `{"hold":null}`, "instruct contains 'hold' with wrong type"},
		{"mode wrong type", `{"hold":{"mode":1,"channels":[]}}`, "hold contains 'mode' with wrong type"},
		{"mode bad", `{"hold":{"mode":"forever","channels":[]}}`, "hold 'mode' must be set to either 'response' or 'stream'"},
		{"no channels", `{"hold":{"mode":"stream"}}`, "hold does not contain 'channels'"},
		{"channels wrong type", `{"hold":{"channels":{}}}`, "hold contains 'channels' with wrong type"},
		{"channel not object", `{"hold":{"channels":["a"]}}`, "channel is not an object"},
		{"channel no name", `{"hold":{"channels":[{}]}}`, "channel does not contain 'name'"},
		{"channel name wrong type", `{"hold":{"channels":[{"name":null}]}}`, "channel contains 'name' with wrong type"},
		{"prev-id wrong type", `{"hold":{"channels":[{"name":"a","prev-id":1}]}}`, "channel contains 'prev-id' with wrong type"},
		{"filters wrong type", `{"hold":{"channels":[{"name":"a","filters":"f"}]}}`, "channel contains 'filters' with wrong type"},
		{"filter wrong type", `{"hold":{"channels":[{"name":"a","filters":[1]}]}}`, "filters contains value with wrong type"},
		{"timeout wrong type", `{"hold":{"channels":[],"timeout":"soon"}}`, "hold contains 'timeout' with wrong type"},
		{"timeout negative", `{"hold":{"channels":[],"timeout":-1}}`, "hold contains 'timeout' with invalid value"},
		{"keep-alive wrong type", `{"hold":{"channels":[],"keep-alive":"x"}}`, "hold contains 'keep-alive' with wrong type"},
		{"keep-alive content wrong type", `{"hold":{"channels":[],"keep-alive":{"content":1}}}`, "keep-alive contains 'content' with wrong type"},
		{"keep-alive content-bin wrong type", `{"hold":{"channels":[],"keep-alive":{"content-bin":1}}}`, "keep-alive contains 'content-bin' with wrong type"},
		{"keep-alive timeout wrong type", `{"hold":{"channels":[],"keep-alive":{"timeout":[]}}}`, "keep-alive contains 'timeout' with wrong type"},
		{"keep-alive timeout negative", `{"hold":{"channels":[],"keep-alive":{"timeout":-2}}}`, "keep-alive contains 'timeout' with invalid value"},
		{"meta wrong type", `{"hold":{"channels":[],"meta":[]}}`, "hold contains 'meta' with wrong type"},
		{"meta value wrong type", `{"hold":{"channels":[],"meta":{"user":5}}}`, "'meta' contains 'user' with wrong type"},
		{"response wrong type has no message", `{"response":"x"}`, ""},
		{"code wrong type", `{"response":{"code":"abc"}}`, "response contains 'code' with wrong type"},
		{"code invalid", `{"response":{"code":1000}}`, "response contains 'code' with invalid value"},
		{"reason wrong type", `{"response":{"reason":1}}`, "response contains 'reason' with wrong type"},
		{"headers wrong type", `{"response":{"headers":"x"}}`, "response contains 'headers' with wrong type"},
		{"header element wrong type", `{"response":{"headers":[1]}}`, "headers contains element with wrong type"},
		{"header pair length", `{"response":{"headers":[["a"]]}}`, "headers contains list with wrong number of elements"},
		{"header object value", `{"response":{"headers":{"A":1}}}`, "headers contains 'A' with wrong type"},
		{"body wrong type", `{"response":{"body":1}}`, "response contains 'body' with wrong type"},
		{"body-bin wrong type", `{"response":{"body-bin":1}}`, "response contains 'body-bin' with wrong type"},
		{"hold checked before response", `{"response":"x","hold":{}}`, "hold does not contain 'channels'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(instructResp(tt.body), Options{})
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", got)
			}
			var ge *Error
			if !errors.As(err, &ge) || ge.Msg != tt.msg {
				t.Fatalf("error %q (msg %q), want %q", err, ge.Msg, tt.msg)
			}
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
		})
	}
}

func TestSubscriptionMax(t *testing.T) {
	var names []string
	for i := 0; i < 25; i++ {
		names = append(names, "c"+strconv.Itoa(i))
	}
	in := ok200("Grip-Hold", "response", "Grip-Channel", strings.Join(names, ", "))
	got, err := Parse(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Channels) != DefaultSubscriptionMax || got.DroppedChannels != 5 || got.Channels[19].Name != "c19" {
		t.Fatalf("default limit: %d channels, %d dropped", len(got.Channels), got.DroppedChannels)
	}
	got, err = Parse(in, Options{SubscriptionMax: 100})
	if err != nil || len(got.Channels) != 25 || got.DroppedChannels != 0 {
		t.Fatalf("limit 100: %v %d", err, len(got.Channels))
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in     string
		code   int
		reason string
		ok     bool
	}{
		{"200", 200, "", true}, {"202 Pending Thing", 202, "Pending Thing", true}, {"404  Two Spaces", 404, " Two Spaces", true},
		{"0", 0, "", true}, {"999 Max", 999, "Max", true}, {"+201", 201, "", true}, {"200 ", 200, "", true},
		{"", 0, "", false}, {"abc", 0, "", false}, {"1000", 0, "", false}, {"20O", 0, "", false},
	}
	for _, tt := range tests {
		code, reason, err := ParseStatus(tt.in)
		if (err == nil) != tt.ok || code != tt.code || reason != tt.reason {
			t.Errorf("ParseStatus(%q) = %d, %q, %v", tt.in, code, reason, err)
		}
	}
}

func TestHoldModeStrings(t *testing.T) {
	if HoldResponse.String() != "response" || HoldStream.String() != "stream" || NoHold.String() != "" {
		t.Fatal("HoldMode.String")
	}
	if KeepAliveIdle.String() != "idle" || KeepAliveInterval.String() != "interval" {
		t.Fatal("KeepAliveMode.String")
	}
}

func TestClientResponse(t *testing.T) {
	origin := Response{Code: 200, Reason: "OK", Body: []byte("b"), Headers: hdrs("Grip-Hold", "stream", "Grip-Status", "202",
		"Content-Length", "1", "Content-Type", "text/plain", "X-Hidden", "1", "Grip-Expose-Headers", "Content-Type, Content-Length", "Connection", "close")}
	got, err := ClientResponse(origin)
	if err != nil {
		t.Fatal(err)
	}
	want := Response{Code: 202, Reason: "Accepted", Body: []byte("b"), Headers: hdrs("Content-Length", "1", "Content-Type", "text/plain")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	in, err := Parse(origin, Options{})
	if err != nil || !reflect.DeepEqual(in.Response, want) {
		t.Fatalf("Parse response %+v, %v", in.Response, err)
	}
	if _, err := ClientResponse(Response{Headers: hdrs("Grip-Status", "x")}); err == nil {
		t.Fatal("bad Grip-Status accepted")
	}
}
