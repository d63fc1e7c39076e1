package engine

import (
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
