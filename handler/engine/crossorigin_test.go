package engine

import (
	"fmt"
	"testing"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

func hdrs(pairs ...string) []zhttp.Header {
	var out []zhttp.Header
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, zhttp.Header{Name: pairs[i], Value: pairs[i+1]})
	}
	return out
}

func TestJSONPResponse(t *testing.T) {
	tests := []struct {
		name       string
		extended   bool
		code       int
		reason     string
		headers    []zhttp.Header
		body       string
		wantBody   string
		wantHeader string
	}{
		{"extended", true, 201, "Created", hdrs("Content-Type", "application/json", "X-B", "2", "Content-Length", "3", "A", "1"), "x<&>\n",
			`/**/cb({"body":"x<&>\n","code":201,"headers":{"A":"1","Content-Type":"application/json","X-B":"2"},"reason":"Created"});` + "\n",
			"[{X-B 2} {A 1} {Content-Type application/javascript}]"},
		{"basic", false, 200, "OK", hdrs("Content-Type", "application/json"), `{"a":1}`,
			`/**/cb({"a":1});` + "\n", "[{Content-Type application/javascript}]"},
		{"empty", true, 204, "", nil, "",
			`/**/cb({"body":"","code":204,"headers":{},"reason":""});` + "\n", "[{Content-Type application/javascript}]"},
		{"repeated header keeps the last", true, 200, "OK", hdrs("X", "1", "X", "2"), "b",
			`/**/cb({"body":"b","code":200,"headers":{"X":"2"},"reason":"OK"});` + "\n", "[{X 1} {X 2} {Content-Type application/javascript}]"},
		{"invalid UTF-8 and control bytes", true, 200, "OK", nil, "\xff\x01\"",
			`/**/cb({"body":"` + "\ufffd" + `\u0001\"","code":200,"headers":{},"reason":"OK"});` + "\n", "[{Content-Type application/javascript}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, b := jsonpResponse("cb", tt.extended, tt.code, tt.reason, tt.headers, []byte(tt.body))
			if string(b) != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", b, tt.wantBody)
			}
			if got := fmt.Sprint(h); got != tt.wantHeader {
				t.Errorf("headers %s, want %s", got, tt.wantHeader)
			}
		})
	}
}

func TestCORSHeaders(t *testing.T) {
	tests := []struct {
		name      string
		resp, req []zhttp.Header
		want      []zhttp.Header
	}{
		{"defaults", hdrs("Content-Type", "text/plain", "X-A", "1", "Grip-X", "y", "Cache-Control", "no"), nil,
			hdrs("Content-Type", "text/plain", "X-A", "1", "Grip-X", "y", "Cache-Control", "no",
				"Access-Control-Allow-Methods", "OPTIONS, HEAD, GET, POST, PUT, DELETE",
				"Access-Control-Expose-Headers", "X-A", "Access-Control-Allow-Credentials", "true",
				"Access-Control-Allow-Origin", "*", "Access-Control-Max-Age", "3600")},
		{"request values echoed", nil, hdrs("origin", "http://o", "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "X-Q"),
			hdrs("Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "X-Q",
				"Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Origin", "http://o", "Access-Control-Max-Age", "3600")},
		{"origin's own values kept", hdrs("access-control-allow-origin", "http://mine", "Access-Control-Max-Age", "1"), hdrs("Origin", "http://o"),
			hdrs("access-control-allow-origin", "http://mine", "Access-Control-Max-Age", "1",
				"Access-Control-Allow-Methods", "OPTIONS, HEAD, GET, POST, PUT, DELETE", "Access-Control-Allow-Credentials", "true")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := corsHeaders(tt.resp, tt.req)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}
