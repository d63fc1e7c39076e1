package grip

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a, b", []string{"a", "b"}},
		{" a ,\tb ", []string{"a", "b"}},
		{"a,", []string{"a"}},
		{",a", []string{"", "a"}},
		{"a,,b", []string{"a", "", "b"}},
		{",", []string{""}},
		{`a; filter="x,y", b`, []string{`a; filter="x,y"`, "b"}},
		{`"a,b",c`, []string{`"a,b"`, "c"}},
		{`a="x\",y",b`, []string{`a="x\",y"`, "b"}},
		{`a="unterminated, b`, []string{`a="unterminated, b`}},
		{`x, a="bad\`, []string{"x", `a="bad\`}},
		{`a\,b`, []string{`a\`, "b"}}, // backslash only escapes inside quotes
	}
	for _, tt := range tests {
		if got := SplitList(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseParams(t *testing.T) {
	tests := []struct {
		in   string
		mode ParseMode
		want Params
		ok   bool
	}{
		{"", FirstIsValue, Params{{}}, true},
		{"", AllParams, nil, true},
		{"chan", FirstIsValue, Params{{Name: "chan"}}, true},
		{" chan ; prev-id=7 ", FirstIsValue, Params{{Name: "chan"}, {Name: "prev-id", Value: "7"}}, true},
		{`chan; filter=skip-self; filter="var-subst"`, FirstIsValue,
			Params{{Name: "chan"}, {Name: "filter", Value: "skip-self"}, {Name: "filter", Value: "var-subst"}}, true},
		{`a2E=; format=base64`, FirstIsValue, Params{{Name: "a2E="}, {Name: "format", Value: "base64"}}, true},
		{`"quoted; first"; x=1`, FirstIsValue, Params{{Name: `"quoted`}, {Name: `first"`}, {Name: "x", Value: "1"}}, true},
		{`user="alice"`, AllParams, Params{{Name: "user", Value: "alice"}}, true},
		{`user="a;b\"c\\d"`, AllParams, Params{{Name: "user", Value: `a;b"c\d`}}, true},
		{`user="x" junk ; y=2`, AllParams, Params{{Name: "user", Value: "x"}, {Name: "y", Value: "2"}}, true},
		{`user = spaced value ;`, AllParams, Params{{Name: "user", Value: "spaced value"}}, true},
		{`flag; other`, AllParams, Params{{Name: "flag"}, {Name: "other"}}, true},
		{`a;;b`, AllParams, Params{{Name: "a"}, {}, {Name: "b"}}, true},
		{`a; `, FirstIsValue, Params{{Name: "a"}, {}}, true},
		{`k=`, AllParams, Params{{Name: "k"}}, true},
		{`=v`, AllParams, Params{{Value: "v"}}, true},
		{`k=a=b`, AllParams, Params{{Name: "k", Value: "a=b"}}, true},
		{`k=""`, AllParams, Params{{Name: "k"}}, true},
		{`k="open`, AllParams, nil, false},
		{`k="ends in \`, AllParams, nil, false},
		{`c; k="open`, FirstIsValue, nil, false},
	}
	for _, tt := range tests {
		got, ok := ParseParams(tt.in, tt.mode)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseParams(%q, %d) = %q, %v; want %q, %v", tt.in, tt.mode, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParamsGet(t *testing.T) {
	ps := Params{{Name: "chan"}, {Name: "Prev-ID", Value: "1"}, {Name: "prev-id", Value: "2"}}
	if v, ok := ps.Get("PREV-id"); !ok || v != "1" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	if _, ok := ps.Get("filter"); ok {
		t.Fatal("Get of missing param succeeded")
	}
}

func TestFirstAndValues(t *testing.T) {
	h := []Header{
		{Name: "grip-channel", Value: "a, b"},
		{Name: "Grip-Timeout", Value: "10"},
		{Name: "GRIP-CHANNEL", Value: "c"},
		{Name: "Grip-Timeout", Value: "20"},
		{Name: "Grip-Channel", Value: ""},
	}
	if v, ok := First(h, "grip-timeout"); !ok || v != "10" {
		t.Fatalf("First = %q, %v", v, ok)
	}
	if _, ok := First(h, "Grip-Hold"); ok {
		t.Fatal("First of absent header succeeded")
	}
	if got := Values(h, "Grip-Channel"); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("Values = %q", got)
	}
}

func TestIsInstruct(t *testing.T) {
	tests := []struct {
		headers []Header
		ct      string
		want    bool
	}{
		{nil, "", false},
		{[]Header{{Name: "Content-Type", Value: "text/plain"}}, "text/plain", false},
		{nil, "application/grip-instruct", true},
		{nil, "application/grip-instruct; charset=utf-8", true},
		{nil, "application/grip-instruct ; charset=utf-8", false},
		{nil, " application/grip-instruct", false},
		{nil, "Application/Grip-Instruct", false},
		{nil, "application/grip-instructions", false},
		{[]Header{{Name: "Grip-Hold", Value: "response"}}, "", true},
		{[]Header{{Name: "grip-anything", Value: ""}}, "", true},
		{[]Header{{Name: "GRIP-X", Value: ""}}, "", true},
		{[]Header{{Name: "Grip", Value: "x"}}, "", false},
		{[]Header{{Name: "X-Grip-Hold", Value: "x"}}, "", false},
		{[]Header{{Name: "Gripe", Value: "x"}}, "", false},
	}
	for _, tt := range tests {
		if got := IsInstruct(tt.headers, tt.ct); got != tt.want {
			t.Errorf("IsInstruct(%v, %q) = %v, want %v", tt.headers, tt.ct, got, tt.want)
		}
	}
}

func TestClientHeaders(t *testing.T) {
	in := []Header{
		{Name: "Content-Type", Value: "text/plain"},
		{Name: "Grip-Hold", Value: "response"},
		{Name: "Connection", Value: "keep-alive"},
		{Name: "keep-alive", Value: "timeout=5"},
		{Name: "Content-Encoding", Value: "gzip"},
		{Name: "Transfer-Encoding", Value: "chunked"},
		{Name: "Content-Length", Value: "5"},
		{Name: "X-A", Value: "1"},
		{Name: "x-a", Value: "2"},
		{Name: "grip-expose-headers", Value: "x-a"},
	}
	want := []Header{{Name: "Content-Type", Value: "text/plain"}, {Name: "Content-Length", Value: "5"},
		{Name: "X-A", Value: "1"}, {Name: "x-a", Value: "2"}}
	if got := ClientHeaders(in, nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("ClientHeaders = %v", got)
	}
	want = []Header{{Name: "X-A", Value: "1"}, {Name: "x-a", Value: "2"}}
	if got := ClientHeaders(in, []string{"X-a", "Grip-Hold", "Connection"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("ClientHeaders with expose = %v", got)
	}
	if got := ClientHeaders(nil, nil); got == nil || len(got) != 0 {
		t.Fatalf("ClientHeaders(nil) = %#v", got)
	}
}

func TestUnescapeCString(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"plain", "plain", true},
		{`:\n\n`, ":\n\n", true},
		{`a\r\nb`, "a\r\nb", true},
		{`back\\slash`, `back\slash`, true},
		{`\x41\x7a\x00\xFF\xfe`, "Az\x00\xff\xfe", true},
		{`\x3b`, ";", true},
		{`\t`, "", true},     // unknown escapes produce nothing
		{`a\"b`, "ab", true}, // including a quote
		{`\0\a\b`, "", true}, // and digits or letters
		{`x\`, "", false},    // lone trailing backslash
		{`\x4`, "", false},   // one hex digit
		{`\x`, "", false},    // none
		{`\x4g`, "", false},  // not hex
		{`\xg4`, "", false},  // not hex
		{`\x41\`, "", false}, // trailing backslash after a good escape
		{"caf\xc3\xa9", "caf\xc3\xa9", true},
	}
	for _, tt := range tests {
		got, err := UnescapeCString(tt.in)
		if (err == nil) != tt.ok || (tt.ok && string(got) != tt.want) {
			t.Errorf("UnescapeCString(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSplitListHuge(t *testing.T) {
	// A long list of channels parses in one pass and keeps every element.
	var b strings.Builder
	for i := 0; i < 10000; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("ch")
	}
	if got := len(SplitList(b.String())); got != 10000 {
		t.Fatalf("got %d parts", got)
	}
}
