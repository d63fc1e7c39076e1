package engine

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pushpin-go/pushpin/protocol/handoff"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// FuzzContentFilters runs the content filters over published content, which
// comes from untrusted publishers.
func FuzzContentFilters(f *testing.F) {
	for _, s := range []string{"", "%I", "%(a)s", "%(a)I", "%%", "%(", "%(x)s%(y", "\x00%"} {
		f.Add([]byte(s))
	}
	sv := fakeView{m: map[string]string{"a": "1", "id_format": "%(c)s"}, prev: map[string]string{"c": "p"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = varSubst(sv.m, data)
		_, _ = buildID(sv, data)
	})
}

// FuzzInstruct feeds origin response headers and bodies to the instruct
// adapter (the origin is outside our control).
func FuzzInstruct(f *testing.F) {
	f.Add("Grip-Hold", "stream", "Grip-Channel", "a; prev-id=1, b; filter=skip-self", []byte(""))
	f.Add("Grip-Link", "</x>; rel=next; timeout=3", "Grip-Keep-Alive", `\n; format=cstring; mode=interval`, []byte(""))
	f.Add("Content-Type", "application/grip-instruct", "Grip-Status", "299 X", []byte(`{"hold":{"channels":[{"name":"a"}]}}`))
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string, body []byte) {
		resp := handoff.ResponseData{Code: 200, Reason: "OK", Headers: []zhttp.Header{{Name: n1, Value: v1}, {Name: n2, Value: v2}}, Body: body}
		in, err := ParseInstruct(resp, "http://example/path?q=1", 20)
		if err == nil && len(in.Channels) > 20 {
			t.Fatalf("%d channels kept", len(in.Channels))
		}
	})
}

// FuzzJSONP: whatever the response (bodies and headers are untrusted
// origin/publisher bytes), the extended JSON-P wrapping is the callback
// around valid JSON.
func FuzzJSONP(f *testing.F) {
	f.Add(200, "OK", "X-A", "1", []byte("body\n"))
	f.Add(0, "", "", "", []byte{})
	f.Add(999, "\xff\"", "\u2028", "<&>", []byte("\xff\x00\"\\"))
	f.Fuzz(func(t *testing.T, code int, reason, name, value string, body []byte) {
		_, out := jsonpResponse("cb", true, code, reason, []zhttp.Header{{Name: name, Value: value}}, body)
		s := string(out)
		if !strings.HasPrefix(s, "/**/cb(") || !strings.HasSuffix(s, ");\n") {
			t.Fatalf("not wrapped: %q", s)
		}
		if inner := s[len("/**/cb(") : len(s)-len(");\n")]; !json.Valid([]byte(inner)) {
			t.Fatalf("invalid JSON: %q", inner)
		}
	})
}
