package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseINIValue(t *testing.T) {
	tests := []struct {
		raw   string
		str   string
		items []string
	}{
		{"", "", nil},
		{"abc", "abc", nil},
		{"  abc  ", "abc", nil},
		{"\tabc\t", "abc", nil},
		{"a b", "a b", nil},
		{"a,b", "", []string{"a", "b"}},
		{"a , b ,c", "", []string{"a", "b", "c"}},
		{"a,", "", []string{"a", ""}},
		{",", "", []string{"", ""}},
		{`"a,b"`, "a,b", nil},
		{`"  padded  "`, "  padded  ", nil},
		{`"a" b`, "ab", nil},
		{`x"y"z`, "xyz", nil},
		{`"a",b`, "", []string{"a", "b"}},
		{`"a, b",c`, "", []string{"a, b", "c"}},
		{`"unterminated`, "unterminated", nil},
		{`a\,b`, "ab", nil}, // QSettings drops unknown escapes
		{`\"q\"`, `"q"`, nil},
		{`a\nb\tc`, "a\nb\tc", nil},
		{`a\\b`, `a\b`, nil},
		{`\x41\x42`, "AB", nil},
		{`\101`, "A", nil},
		{`\x263a`, "☺", nil},
		{`a\qb`, "ab", nil},
		{`trail\ `, "trail", nil},
		{`trail\`, "trail", nil},
		{`x # not a comment`, "x # not a comment", nil},
		{`tcp://127.0.0.1:5560`, "tcp://127.0.0.1:5560", nil},
		{"truncate:0,append", "", []string{"truncate:0", "append"}},
	}
	for _, tc := range tests {
		str, items, isList := parseINIValue([]byte(tc.raw))
		if str != tc.str || !reflect.DeepEqual(items, tc.items) || isList != (tc.items != nil) {
			t.Errorf("parseINIValue(%q) = %q %q %v, want %q %q", tc.raw, str, items, isList, tc.str, tc.items)
		}
	}
}

func TestParseINI(t *testing.T) {
	src := "\xef\xbb\xbf; leading comment\r\n" + // 1
		"root=1\r\n" + // 2
		"[global]\r\n" + // 3
		"a = x ; inline comment\r\n" + // 4
		"# hash comment with = sign\n" + // 5
		"  b=\"semi;colon\"\n" + // 6
		"c=one \\\n  two\n" + // 7-8
		"d=\"multi\nline\"\n" + // 9-10
		"noequals\n" + // 11
		"a=again\n" + // 12
		"[ General ]\n" + // 13
		"g=root\n" + // 14
		"[broken\n" + // 15
		"h=in broken\n" + // 16
		"[global]\n" + // 17
		"e=merged\n" + // 18
		"=novalue\n" + // 19
		"empty=\n" + // 20
		"inv=@Invalid()\n" + // 21
		"at=@@x\n" + // 22
		"ba=@ByteArray(raw)\n" + // 23
		"# \"unbalanced quote in a comment\n" + // 24
		"f=after\n" // 25
	f, warns := parseINI("test.conf", []byte(src))
	want := map[string]struct {
		line int
		str  string
	}{
		"root":         {2, "1"},
		"global/a":     {12, "again"},
		"global/b":     {6, "semi;colon"},
		"global/c":     {7, "one   two"},
		"global/d":     {9, "multi\nline"},
		"g":            {14, "root"},
		"broken/h":     {16, "in broken"},
		"global/e":     {18, "merged"},
		"global/empty": {20, ""},
		"global/inv":   {21, ""},
		"global/at":    {22, "@x"},
		"global/ba":    {23, "raw"},
		"global/f":     {25, "after"},
	}
	for k, w := range want {
		e := f.entries[k]
		if e == nil {
			t.Errorf("missing %s", k)
			continue
		}
		if e.line != w.line || e.str != w.str {
			t.Errorf("%s = line %d %q, want line %d %q", k, e.line, e.str, w.line, w.str)
		}
	}
	if !f.entries["global/inv"].invalid {
		t.Error("@Invalid() not marked")
	}
	if len(f.entries) != len(want) {
		t.Errorf("entries: %d, want %d", len(f.entries), len(want))
	}
	var lines []int
	for _, w := range warns {
		lines = append(lines, w.Line)
	}
	if !reflect.DeepEqual(lines, []int{11, 12, 15, 19}) {
		t.Errorf("warning lines = %v: %v", lines, warns)
	}
}

func TestParseINIEdge(t *testing.T) {
	for _, src := range []string{"", "\n\n\n", "[", "[]", "=", "\\", "\"", "a=\\", ";", "[a]b=c", strings.Repeat("x", 1<<20) + "=1"} {
		f, _ := parseINI("x", []byte(src))
		if f == nil {
			t.Fatalf("nil file for %q", src)
		}
	}
	// A huge value survives intact.
	big := strings.Repeat("v", 1<<20)
	f, _ := parseINI("x", []byte("[s]\nk="+big+"\n"))
	if f.entries["s/k"].str != big {
		t.Error("huge value changed")
	}
}
