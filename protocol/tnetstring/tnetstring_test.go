package tnetstring

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestDecodeTable(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Value
	}{
		{"empty string", "0:,", S("")},
		{"string", "5:hello,", S("hello")},
		{"binary string", "3:\x00\xff\n,", B([]byte{0, 0xff, '\n'})},
		{"int", "4:8192#", I(8192)},
		{"negative int", "2:-5#", I(-5)},
		{"max int64", "19:9223372036854775807#", I(9223372036854775807)},
		{"min int64", "20:-9223372036854775808#", I(-9223372036854775808)},
		{"float", "3:1.5^", F(1.5)},
		{"float exp", "10:1.2345e+06^", F(1234500)},
		{"true", "4:true!", T(true)},
		{"false", "5:false!", T(false)},
		{"null", "0:~", N()},
		{"empty list", "0:]", L()},
		{"empty dict", "0:}", Value{Kind: Dict}},
		{"list", "8:1:a,1:1#]", L(S("a"), I(1))},
		{"ext multi", "15:5:multi,4:true!}", D("multi", T(true))},
		{"nested", "19:1:a,11:1:b,4:1:c,]]}", D("a", L(S("b"), L(S("c"))))},
		{"headers", "82:26:4:Host,15:127.0.0.1:27100,]29:10:User-Agent,11:curl/7.88.1,]15:6:Accept,3:*/*,]]",
			L(L(S("Host"), S("127.0.0.1:27100")), L(S("User-Agent"), S("curl/7.88.1")), L(S("Accept"), S("*/*")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("Decode(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if enc := Encode(got); string(enc) != tt.in {
				t.Fatalf("Encode = %q, want %q", enc, tt.in)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, in, msg string
		off           int
	}{
		{"empty", "", "unexpected end", 0},
		{"no colon", "12", "missing ':'", 0},
		{"empty prefix", ":a,", "empty length prefix", 0},
		{"bad prefix char", "1a:x,", "invalid character 'a'", 1},
		{"negative length", "-1:x,", "invalid character '-'", 0},
		{"leading zero", "01:a,", "leading zero", 0},
		{"prefix too long", "12345678901:a,", "too long", 0},
		{"truncated payload", "5:abc,", "exceeds", 0},
		{"huge length", "999999999:a,", "exceeds", 0},
		{"missing type", "3:abc", "exceeds", 0},
		{"unknown type", "1:a@", "unknown type byte '@'", 3},
		{"bad int", "2:1x#", "invalid integer", 2},
		{"empty int", "0:#", "empty integer", 2},
		{"int overflow", "19:9223372036854775808#", "overflows", 3},
		{"int underflow", "20:-9223372036854775809#", "overflows", 3},
		{"plus int", "2:+1#", "invalid integer", 2},
		{"bad bool", "3:yes!", "invalid boolean", 2},
		{"bad float", "3:abc^", "invalid float", 2},
		{"null payload", "1:x~", "null must have an empty payload", 2},
		{"dict non-string key", "8:1:1#1:a,}", "dict key must be a string", 2},
		{"dict key without value", "4:1:a,}", "has no value", 6},
		{"trailing", "1:a,x", "trailing bytes", 4},
		{"inner truncated", "4:3:ab]", "exceeds", 2},
		{"deep nesting", deep(MaxDepth + 2), "nesting deeper", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode(%q) succeeded", tt.in)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if !strings.Contains(se.Msg, tt.msg) {
				t.Fatalf("error %q does not mention %q", se.Msg, tt.msg)
			}
			if tt.off >= 0 && se.Offset != tt.off {
				t.Fatalf("offset = %d, want %d (%v)", se.Offset, tt.off, err)
			}
		})
	}
}

// deep returns n nested empty lists.
func deep(n int) string {
	s := "0:]"
	for i := 1; i < n; i++ {
		s = strconv.Itoa(len(s)) + ":" + s + "]"
	}
	return s
}

func mustDecode(s string) Value {
	v, err := Decode([]byte(s))
	if err != nil {
		panic(err)
	}
	return v
}

func TestDepthLimitAccepted(t *testing.T) {
	if _, err := Decode([]byte(deep(MaxDepth))); err != nil {
		t.Fatalf("depth %d rejected: %v", MaxDepth, err)
	}
}

func TestDuplicateKeysLastWins(t *testing.T) {
	v := mustDecode("16:1:a,1:1#1:a,1:2#}")
	got, ok := v.Get("a")
	if !ok || got.Int != 2 {
		t.Fatalf("Get(a) = %v, %v; want 2", got, ok)
	}
	if !v.Equal(D("a", I(2))) {
		t.Fatalf("Equal should treat dicts as last-wins maps")
	}
}

func TestDictOrderInsignificant(t *testing.T) {
	a := mustDecode("16:1:a,1:1#1:b,1:2#}")
	b := mustDecode("16:1:b,1:2#1:a,1:1#}")
	if !a.Equal(b) {
		t.Fatal("dicts with the same pairs in another order should be equal")
	}
}

func TestEncoderNested(t *testing.T) {
	var e Encoder
	for range 2 { // second round checks Reset reuse
		e.Reset(e.buf[:0])
		e.BeginDict()
		e.Str("id")
		e.Str("0-0-0")
		e.Str("headers")
		e.BeginList()
		e.BeginList()
		e.Str("Host")
		e.Str("example.com")
		e.End()
		e.End()
		e.Str("big")
		e.Blob(bytes.Repeat([]byte("x"), 12345))
		e.Str("n")
		e.Null()
		e.End()
		got := mustDecode(string(e.Bytes()))
		want := D("id", S("0-0-0"), "headers", L(L(S("Host"), S("example.com"))),
			"big", B(bytes.Repeat([]byte("x"), 12345)), "n", N())
		if !got.Equal(want) {
			t.Fatalf("got %v", got)
		}
	}
}

func TestIterOffsets(t *testing.T) {
	in := []byte("12:1:a,1:b,1:c,}")
	_, p, _, err := Next(in)
	if err != nil {
		t.Fatal(err)
	}
	it := NewDictIter(p).WithOffset(3)
	var keys []string
	for it.Next() {
		keys = append(keys, string(it.Key()))
	}
	if it.Err() == nil || !strings.Contains(it.Err().Error(), "offset 15") {
		t.Fatalf("want error at offset 15 for dangling key, got %v (keys %v)", it.Err(), keys)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := `{"a":"x\u00e9\n","n":-3,"f":1.5,"b":true,"z":null,"l":[1,"2",[]],"d":{}}`
	v, err := FromJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := D("a", S("xé\n"), "n", I(-3), "f", F(1.5), "b", T(true), "z", N(), "l", L(I(1), S("2"), L()), "d", Value{Kind: Dict})
	if !v.Equal(want) {
		t.Fatalf("FromJSON = %v", v)
	}
	if out := AppendJSON(nil, v); string(out) != `{"a":"xé\n","n":-3,"f":1.5,"b":true,"z":null,"l":[1,"2",[]],"d":{}}` {
		t.Fatalf("AppendJSON = %s", out)
	}
	for _, bad := range []string{``, `{`, `{"a":1}x`, `[1,]`, `1e999`} {
		if _, err := FromJSON([]byte(bad)); err == nil {
			t.Errorf("FromJSON(%q) succeeded", bad)
		}
	}
	if out := AppendJSON(nil, B([]byte{'a', 0xff, 0x01})); string(out) != "\"a\ufffd\\u0001\"" {
		t.Fatalf("invalid UTF-8 rendering = %q", out)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"0:,", "5:hello,", "2:-5#", "3:1.5^", "4:true!", "0:~", "8:1:a,1:1#]",
		"15:5:multi,4:true!}", "16:1:a,1:1#1:a,1:2#}", "4:3:ab]", "1:a@"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			return
		}
		enc := Encode(v)
		v2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of %q failed: %v", enc, err)
		}
		if !v.Equal(v2) {
			t.Fatalf("round trip changed value: %v -> %v", v, v2)
		}
		// JSON conversion must never panic either.
		_ = AppendJSON(nil, v)
	})
}

func BenchmarkEncoderPacket(b *testing.B) {
	var e Encoder
	body := bytes.Repeat([]byte("x"), 1000)
	b.ReportAllocs()
	for b.Loop() {
		e.Reset(e.buf[:0])
		e.BeginDict()
		e.Str("from")
		e.Str("condure")
		e.Str("id")
		e.Str("0-0-0")
		e.Str("seq")
		e.Int(12)
		e.Str("body")
		e.Blob(body)
		e.End()
	}
}

func BenchmarkIterPacket(b *testing.B) {
	msg := Append(nil, D("from", S("condure"), "id", S("0-0-0"), "seq", I(12), "body", B(bytes.Repeat([]byte("x"), 1000))))
	b.ReportAllocs()
	for b.Loop() {
		_, p, _, _ := Next(msg)
		it := NewDictIter(p)
		for it.Next() {
		}
	}
}
