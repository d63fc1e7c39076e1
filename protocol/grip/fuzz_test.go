package grip

import (
	"strings"
	"testing"
)

func FuzzSplitList(f *testing.F) {
	for _, s := range []string{"", "a, b", `a; filter="x,y", b`, `"open, x`, `a="\"`, ",,", `x\,y`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts := SplitList(s)
		if len(parts) > strings.Count(s, ",")+1 {
			t.Fatalf("%d parts from %d commas", len(parts), strings.Count(s, ","))
		}
		for _, p := range parts {
			if p != trimQt(p) {
				t.Fatalf("part %q not trimmed", p)
			}
		}
	})
}

func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"", "chan; prev-id=1; filter=skip-self", `user="a\"b;c"`, `k="open`, "a;;b=", `=;=;`, `x; a="1" junk; b`} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, all bool) {
		mode := FirstIsValue
		if all {
			mode = AllParams
		}
		ps, ok := ParseParams(s, mode)
		if ok && mode == FirstIsValue && len(ps) == 0 {
			t.Fatal("FirstIsValue result without the first parameter")
		}
		if !ok && ps != nil {
			t.Fatal("failed parse returned parameters")
		}
	})
}

func FuzzUnescapeCString(f *testing.F) {
	for _, s := range []string{"", `:\n\n`, `\x41\\`, `\`, `\x4`, `\q`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := UnescapeCString(s)
		if err == nil && len(out) > len(s) {
			t.Fatalf("output %d bytes longer than input %d", len(out), len(s))
		}
	})
}

// FuzzParse drives the whole instruct parser with fuzzed values for every
// GRIP header and a fuzzed body, with and without the instruct content type.
func FuzzParse(f *testing.F) {
	f.Add("stream", "a; prev-id=1; filter=skip-self, b", "30", `:\n\n; format=cstring; timeout=20; mode=interval`,
		`user="alice"`, "202 Pending", "</next>; rel=next; timeout=10", "Content-Type", []byte(""), false, 200)
	f.Add("", "", "", "", "", "", "", "", []byte(`{"hold":{"mode":"stream","channels":[{"name":"a","filters":["x"]}],"keep-alive":{"content-bin":"OgoK"},"meta":{"k":"v"}},"response":{"code":201,"headers":[["A","b"]],"body":"x"}}`), true, 200)
	f.Add("response", "a,,b", "-1", "; x", ",", "x", "<%zz>; rel=next", "x", []byte(`{"response":"x"}`), true, 201)
	f.Fuzz(func(t *testing.T, hold, channel, timeout, keepAlive, setMeta, status, link, expose string, body []byte, instruct bool, code int) {
		h := []Header{{Name: "Server", Value: "origin"}}
		add := func(name, v string) {
			if v != "" {
				h = append(h, Header{Name: name, Value: v})
			}
		}
		add("Grip-Hold", hold)
		add("Grip-Channel", channel)
		add("grip-timeout", timeout)
		add("Grip-Keep-Alive", keepAlive)
		add("Grip-Set-Meta", setMeta)
		add("Grip-Status", status)
		add("Grip-Link", link)
		add("Grip-Expose-Headers", expose)
		if instruct {
			add("Content-Type", "application/grip-instruct")
		}
		in, err := Parse(Response{Code: code, Reason: "R", Headers: h, Body: body}, Options{SubscriptionMax: 3})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if in.Timeout < MinTimeout || len(in.Channels) > 3 || in.Response.Reason == "" {
			t.Fatalf("bad instruct %+v", in)
		}
		if in.KeepAlive != nil && in.KeepAlive.Timeout < MinKeepAliveTimeout {
			t.Fatalf("keep-alive timeout %d", in.KeepAlive.Timeout)
		}
		if in.NextLink != nil && (in.NextLink.URI == nil || in.NextLink.Timeout < 0) {
			t.Fatalf("bad next link %+v", in.NextLink)
		}
		if !instruct {
			for _, rh := range in.Response.Headers {
				if isGrip(rh.Name) {
					t.Fatalf("Grip header %q left in the response", rh.Name)
				}
			}
		}
	})
}

// FuzzInstructBody feeds raw bytes as an application/grip-instruct body.
func FuzzInstructBody(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"hold":{"channels":[]}}`,
		`{"hold":{"mode":"stream","channels":[{"name":"a","prev-id":"1","filters":["skip-self"]}],"timeout":3,"keep-alive":{"content":":\n\n","timeout":20},"meta":{"user":"alice"}},"response":{"code":200,"reason":"OK","headers":{"A":"b"},"body-bin":"aGk="}}`,
		`{"response":{"headers":[["a","b"],["c"]]}}`, `{"hold":{"timeout":1e99,"channels":[]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := Parse(Response{Code: 200, Headers: hdrs("Content-Type", InstructContentType), Body: body}, Options{})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if in.Timeout < MinTimeout || in.Response.Reason == "" || len(in.Channels) > DefaultSubscriptionMax {
			t.Fatalf("bad instruct %+v", in)
		}
		if in.Response.Code < 0 || in.Response.Code > 999 {
			t.Fatalf("code %d", in.Response.Code)
		}
	})
}
