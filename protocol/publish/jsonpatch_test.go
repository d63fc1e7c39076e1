package publish

import (
	"strings"
	"testing"
)

func TestApplyPatch(t *testing.T) {
	tests := []struct {
		name, doc, patch, want string
	}{
		// RFC 6902 appendix A.
		{"A.1 add object member", `{"foo":"bar"}`, `[{"op":"add","path":"/baz","value":"qux"}]`, `{"baz":"qux","foo":"bar"}`},
		{"A.2 add array element", `{"foo":["bar","baz"]}`, `[{"op":"add","path":"/foo/1","value":"qux"}]`, `{"foo":["bar","qux","baz"]}`},
		{"A.3 remove member", `{"baz":"qux","foo":"bar"}`, `[{"op":"remove","path":"/baz"}]`, `{"foo":"bar"}`},
		{"A.4 remove element", `{"foo":["bar","qux","baz"]}`, `[{"op":"remove","path":"/foo/1"}]`, `{"foo":["bar","baz"]}`},
		{"A.5 replace", `{"baz":"qux","foo":"bar"}`, `[{"op":"replace","path":"/baz","value":"boo"}]`, `{"baz":"boo","foo":"bar"}`},
		{"A.6 move member", `{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}`,
			`[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]`, `{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}`},
		{"A.7 move element", `{"foo":["all","grass","cows","eat"]}`, `[{"op":"move","from":"/foo/1","path":"/foo/3"}]`,
			`{"foo":["all","cows","eat","grass"]}`},
		{"A.8 test success", `{"baz":"qux","foo":["a",2,"c"]}`,
			`[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]`, `{"baz":"qux","foo":["a",2,"c"]}`},
		{"A.10 add nested member", `{"foo":"bar"}`, `[{"op":"add","path":"/child","value":{"grandchild":{}}}]`,
			`{"child":{"grandchild":{}},"foo":"bar"}`},
		{"A.11 ignore unknown members", `{"foo":"bar"}`, `[{"op":"add","path":"/baz","value":"qux","xyz":123}]`, `{"baz":"qux","foo":"bar"}`},
		{"A.14 escape ordering", `{"/":9,"~1":10}`, `[{"op":"test","path":"/~01","value":10}]`, `{"/":9,"~1":10}`},
		{"A.16 append to array", `{"foo":["bar"]}`, `[{"op":"add","path":"/foo/-","value":["abc","def"]}]`, `{"foo":["bar",["abc","def"]]}`},
		// Pushpin's own test sequence (src/handler/jsonpatchtest.cpp).
		{"pushpin sequence", `{"foo":"bar"}`, `[{"op":"test","path":"/foo","value":"bar"},{"op":"add","path":"/fruit","value":["apple"]},
			{"op":"copy","from":"/foo","path":"/fruit/-"},{"op":"replace","path":"/fruit/1","value":{"cherries":true,"grapes":5}},
			{"op":"move","from":"/fruit/1/grapes","path":"/grapes"},{"op":"remove","path":"/fruit/0"}]`,
			`{"foo":"bar","fruit":[{"cherries":true}],"grapes":5}`},
		{"empty patch reformats", `{ "b" : 1 , "a" : [ 1 , 2 ] }`, `[]`, `{"a":[1,2],"b":1}`},
		{"array document", `[1,2]`, `[{"op":"add","path":"/0","value":0}]`, `[0,1,2]`},
		{"add at end index", `[1]`, `[{"op":"add","path":"/1","value":2}]`, `[1,2]`},
		{"add replaces member", `{"a":1}`, `[{"op":"add","path":"/a","value":2}]`, `{"a":2}`},
		{"replace root", `{"a":1}`, `[{"op":"replace","path":"","value":[true]}]`, `[true]`},
		{"add root", `[1]`, `[{"op":"add","path":"","value":{"x":null}}]`, `{"x":null}`},
		{"empty key", `{"":1}`, `[{"op":"replace","path":"/","value":2}]`, `{"":2}`},
		{"copy is deep", `{"a":{"b":1}}`, `[{"op":"copy","from":"/a","path":"/c"},{"op":"replace","path":"/c/b","value":2}]`,
			`{"a":{"b":1},"c":{"b":2}}`},
		{"move to same place", `{"a":1}`, `[{"op":"move","from":"/a","path":"/a"}]`, `{"a":1}`},
		{"test numbers numerically", `{"a":1.0}`, `[{"op":"test","path":"/a","value":1}]`, `{"a":1.0}`},
		{"test objects unordered", `{"a":{"x":1,"y":[2]}}`, `[{"op":"test","path":"/a","value":{"y":[2],"x":1}}]`, `{"a":{"x":1,"y":[2]}}`},
		{"test null", `{"a":null}`, `[{"op":"test","path":"/a","value":null}]`, `{"a":null}`},
		{"numbers keep text", `{"big":12345678901234567890,"f":1e3}`, `[]`, `{"big":12345678901234567890,"f":1e3}`},
		{"no html escaping", `{"h":"<a&b>"}`, `[]`, `{"h":"<a&b>"}`},
		{"unicode", `{"s":"\u00e9\u2603"}`, `[]`, `{"s":"é☃"}`},
		{"trailing newline kept", "{\"a\":1}\n", `[{"op":"replace","path":"/a","value":2}]`, "{\"a\":2}\n"},
		{"trailing crlf kept", "{\"a\":1}\r\n", `[]`, "{\"a\":1}\r\n"},
		{"only one newline kept", "{\"a\":1}\n\n", `[]`, "{\"a\":1}\n"},
		{"leading space", "  {\"a\":1}", `[]`, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ApplyPatch([]byte(tt.doc), []byte(tt.patch))
			if err != nil {
				t.Fatalf("ApplyPatch: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestApplyPatchErrors(t *testing.T) {
	tests := []struct {
		name, doc, patch, want string
	}{
		{"doc not json", `nope`, `[]`, "body is not JSON"},
		{"doc empty", ``, `[]`, "body is not JSON"},
		{"doc scalar", `"s"`, `[]`, "not a JSON object or array"},
		{"doc trailing", `{} {}`, `[]`, "body is not JSON"},
		{"patch not array", `{}`, `{}`, "patch is not a JSON array"},
		{"patch not json", `{}`, `[`, "patch is not JSON"},
		{"op not object", `{}`, `[1]`, "patch op 0: invalid op"},
		{"missing op", `{}`, `[{"path":"/a"}]`, "op does not contain 'op'"},
		{"op wrong type", `{}`, `[{"op":1,"path":"/a"}]`, "op contains 'op' with wrong type"},
		{"missing path", `{}`, `[{"op":"add","value":1}]`, "op does not contain 'path'"},
		{"unknown op", `{}`, `[{"op":"merge","path":"/a"}]`, "unsupported op: merge"},
		{"add missing value", `{}`, `[{"op":"add","path":"/a"}]`, "op does not contain 'value'"},
		{"A.9 test failure", `{"baz":"qux","foo":["a",2,"c"]}`, `[{"op":"test","path":"/baz","value":"bar"}]`, "tested values are not equal"},
		{"A.12 add to nonexistent target", `{"foo":"bar"}`, `[{"op":"add","path":"/baz/bat","value":"qux"}]`, "location does not exist"},
		{"A.15 string vs number", `{"/":9,"~1":10}`, `[{"op":"test","path":"/~01","value":"10"}]`, "tested values are not equal"},
		{"remove missing", `{"a":1}`, `[{"op":"remove","path":"/b"}]`, "location does not exist"},
		{"replace missing", `{"a":1}`, `[{"op":"replace","path":"/b","value":1}]`, "location does not exist"},
		{"index out of range", `[1]`, `[{"op":"add","path":"/2","value":1}]`, "location does not exist"},
		{"leading zero index", `[1,2]`, `[{"op":"remove","path":"/01"}]`, "invalid array index"},
		{"dash outside add", `[1]`, `[{"op":"remove","path":"/-"}]`, "invalid array index"},
		{"bad pointer", `{}`, `[{"op":"add","path":"a","value":1}]`, "must be empty or start with '/'"},
		{"bad escape", `{}`, `[{"op":"add","path":"/~2","value":1}]`, "'~' must be followed by 0 or 1"},
		{"move into itself", `{"a":{"b":1}}`, `[{"op":"move","from":"/a","path":"/a/b/c"}]`, "cannot move location into itself"},
		{"move missing from", `{"a":1}`, `[{"op":"move","path":"/b"}]`, "op does not contain 'from'"},
		{"copy missing source", `{"a":1}`, `[{"op":"copy","from":"/x","path":"/b"}]`, "location does not exist"},
		{"remove root", `{"a":1}`, `[{"op":"remove","path":""}]`, "cannot remove the whole document"},
		{"child of scalar", `{"a":1}`, `[{"op":"add","path":"/a/b","value":1}]`, "location does not exist"},
		{"second op fails", `{}`, `[{"op":"add","path":"/a","value":1},{"op":"remove","path":"/b"}]`, "patch op 1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ApplyPatch([]byte(tt.doc), []byte(tt.patch))
			if err == nil {
				t.Fatalf("ApplyPatch succeeded: %q", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestApplyPatchFromPublishedItem(t *testing.T) {
	items, err := DecodeBody([]byte(body(`{"channel":"c","http-response":{"body-patch":[{"op":"replace","path":"/status","value":"done"}]}}`)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := ApplyPatch([]byte("{\"status\": \"pending\", \"id\": 7}\n"), items[0].HTTPResponse.BodyPatch)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "{\"id\":7,\"status\":\"done\"}\n" {
		t.Fatalf("got %q", out)
	}
}
