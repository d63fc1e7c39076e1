package wsevents

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Sent by pushpin-proxy in one request (reference §5.8, verified).
const verified = "PING 2\r\npp\r\nCLOSE 6\r\n\x0f\xa0done\r\n"

func TestVerifiedExample(t *testing.T) {
	evs, err := Decode([]byte(verified))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{Type: Ping, Content: []byte("pp")}, {Type: Close, Content: []byte("\x0f\xa0done")}}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("Decode = %q", evs)
	}
	code, reason, ok := ParseClose(evs[1].Content)
	if !ok || code != 4000 || string(reason) != "done" {
		t.Fatalf("ParseClose = %d %q %v", code, reason, ok)
	}
	enc := AppendClose(AppendPing(nil, []byte("pp")), 4000, []byte("done"))
	if string(enc) != verified {
		t.Fatalf("encoded %q, want %q", enc, verified)
	}
	if string(Encode(want)) != verified {
		t.Fatalf("Encode = %q", Encode(want))
	}
}

func TestEncodeTable(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 300)
	tests := []struct {
		name string
		enc  []byte
		want string
	}{
		{"open", AppendOpen(nil), "OPEN\r\n"},
		{"disconnect", AppendDisconnect(nil), "DISCONNECT\r\n"},
		{"text", AppendText(nil, []byte("hello")), "TEXT 5\r\nhello\r\n"},
		{"empty text keeps length", AppendText(nil, nil), "TEXT 0\r\n\r\n"},
		{"binary hex length", AppendBinary(nil, big), "BINARY 12c\r\n" + string(big) + "\r\n"},
		{"binary with CRLF inside", AppendBinary(nil, []byte("\r\n\x00")), "BINARY 3\r\n\r\n\x00\r\n"},
		{"empty ping has no content", AppendPing(nil, []byte{}), "PING\r\n"},
		{"pong", AppendPong(nil, []byte("p")), "PONG 1\r\np\r\n"},
		{"empty pong", AppendPong(nil, nil), "PONG\r\n"},
		{"close without code", AppendClose(nil, -1, nil), "CLOSE\r\n"},
		{"close code only", AppendClose(nil, 1000, nil), "CLOSE 2\r\n\x03\xe8\r\n"},
		{"c: control text", AppendText(nil, []byte(`c:{"type": "subscribe", "channel": "test"}`)),
			"TEXT 2a\r\nc:{\"type\": \"subscribe\", \"channel\": \"test\"}\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.enc) != tt.want {
				t.Fatalf("got %q, want %q", tt.enc, tt.want)
			}
			evs, err := Decode(tt.enc)
			if err != nil || len(evs) != 1 {
				t.Fatalf("Decode = %q, %v", evs, err)
			}
			if got := AppendEvent(nil, evs[0]); !bytes.Equal(got, tt.enc) {
				t.Fatalf("re-encoded %q", got)
			}
		})
	}
}

func TestDecodeTable(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Event
	}{
		{"empty body", "", nil},
		{"open then text", "OPEN\r\nTEXT 2\r\nhi\r\n", []Event{{Type: Open}, {Type: Text, Content: []byte("hi")}}},
		{"uppercase hex", "BINARY A\r\n0123456789\r\n", []Event{{Type: Binary, Content: []byte("0123456789")}}},
		{"leading zeros", "TEXT 0001\r\nx\r\n", []Event{{Type: Text, Content: []byte("x")}}},
		{"content on open", "OPEN 1\r\nx\r\n", []Event{{Type: Open, Content: []byte("x")}}},
		{"zero-length content", "TEXT 0\r\n\r\n", []Event{{Type: Text, Content: []byte{}}}},
		{"all types", "OPEN\r\nTEXT\r\nBINARY\r\nPING\r\nPONG\r\nCLOSE\r\nDISCONNECT\r\n",
			[]Event{{Type: Open}, {Type: Text}, {Type: Binary}, {Type: Ping}, {Type: Pong}, {Type: Close}, {Type: Disconnect}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tt.want) {
				t.Fatalf("Decode = %q, want %q", evs, tt.want)
			}
			for i := range evs {
				if evs[i].Type != tt.want[i].Type || !bytes.Equal(evs[i].Content, tt.want[i].Content) ||
					(evs[i].Content == nil) != (tt.want[i].Content == nil) {
					t.Fatalf("event %d = %q, want %q", i, evs[i], tt.want[i])
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, in string
		err      error
		off      int
		detail   string
	}{
		{"unknown type", "OPEN\r\nCLOSEX\r\n", ErrUnknownType, 6, "CLOSEX"},
		{"lowercase type", "text 1\r\na\r\n", ErrUnknownType, 0, "text"},
		{"empty line", "\r\n", ErrUnknownType, 0, ""},
		{"bad hex", "TEXT zz\r\nab\r\n", ErrBadLength, 0, "zz"},
		{"negative length", "TEXT -1\r\n", ErrBadLength, 0, "-1"},
		{"0x prefix", "TEXT 0x2\r\nab\r\n", ErrBadLength, 0, "0x2"},
		{"empty length", "TEXT \r\n", ErrBadLength, 0, ""},
		{"double space", "TEXT  2\r\nab\r\n", ErrBadLength, 0, " 2"},
		{"length too big", "TEXT 80000000\r\n", ErrBadLength, 0, "80000000"},
		{"nine hex digits", "TEXT 000000001\r\n", ErrBadLength, 0, "000000001"},
		{"missing CRLF", "TEXT 2\r\nabcd", ErrMissingCRLF, 0, ""},
		{"LF only after content", "TEXT 2\r\nab\n\r", ErrMissingCRLF, 0, ""},
		{"truncated content", "TEXT 5\r\nab", ErrTruncated, 0, ""},
		{"truncated line", "OPEN\r\nTEX", ErrTruncated, 6, ""},
		{"missing final CRLF", "TEXT 2\r\nab", ErrTruncated, 0, ""},
		{"line too long", strings.Repeat("A", 40), ErrLineTooLong, 0, ""},
		{"LF line ending", "OPEN\nTEXT 1\nx\n" + strings.Repeat(" ", 30), ErrLineTooLong, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, tt.err) {
				t.Fatalf("Decode(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if se.Offset != tt.off || se.Detail != tt.detail {
				t.Fatalf("error %v: offset %d detail %q, want %d %q", err, se.Offset, se.Detail, tt.off, tt.detail)
			}
		})
	}
}

func TestUnknownTypeCanBeSkipped(t *testing.T) {
	in := []byte("FOO 3\r\nabc\r\nTEXT 1\r\nx\r\n")
	ev, n, err := Parse(in)
	if !errors.Is(err, ErrUnknownType) || n != 12 || string(ev.Content) != "abc" {
		t.Fatalf("Parse = %q, %d, %v", ev, n, err)
	}
	evs, used, err := ParseAll(nil, in[n:])
	if err != nil || used != len(in)-n || len(evs) != 1 || evs[0].Type != Text {
		t.Fatalf("after skip: %q, %d, %v", evs, used, err)
	}
}

// Feeding a body in pieces of every size yields the same events as decoding
// it whole, and ParseAll never consumes a partial event.
func TestStreaming(t *testing.T) {
	body := []byte("OPEN\r\n" + verified + "TEXT 0\r\n\r\nBINARY 10\r\n" + strings.Repeat("\x00\r\n\xff", 4) + "\r\nDISCONNECT\r\n")
	whole, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	for chunk := 1; chunk <= len(body); chunk++ {
		var (
			buf []byte
			got []Event
		)
		for off := 0; off < len(body); off += chunk {
			buf = append(buf, body[off:min(off+chunk, len(body))]...)
			var n int
			got, n, err = ParseAll(got, buf)
			if err != nil {
				t.Fatalf("chunk %d: %v", chunk, err)
			}
			// Keep the unparsed tail; copy content first since buf is reused.
			for i := range got {
				got[i].Content = bytes.Clone(got[i].Content)
			}
			buf = append(buf[:0], buf[n:]...)
		}
		if len(buf) != 0 || !reflect.DeepEqual(normalize(got), normalize(whole)) {
			t.Fatalf("chunk %d: got %q (left %q), want %q", chunk, got, buf, whole)
		}
	}
}

func normalize(evs []Event) []Event {
	out := make([]Event, len(evs))
	for i, ev := range evs {
		out[i] = Event{Type: ev.Type, Content: ev.Content}
		if ev.Content != nil {
			out[i].Content = append([]byte{}, ev.Content...)
		}
	}
	return out
}

func TestParseIncomplete(t *testing.T) {
	for _, in := range []string{"", "O", "OPEN\r", "TEXT 5\r\nab", "TEXT 2\r\nab\r", strings.Repeat("A", MaxLineLength+1)} {
		if ev, n, err := Parse([]byte(in)); n != 0 || err != nil || ev.Type != 0 {
			t.Errorf("Parse(%q) = %v, %d, %v; want incomplete", in, ev, n, err)
		}
	}
}

func TestParseClose(t *testing.T) {
	if _, _, ok := ParseClose(nil); ok {
		t.Fatal("empty close content has a code")
	}
	if _, _, ok := ParseClose([]byte{3}); ok {
		t.Fatal("1-byte close content has a code")
	}
	code, reason, ok := ParseClose([]byte{0x03, 0xe8})
	if !ok || code != 1000 || len(reason) != 0 {
		t.Fatalf("ParseClose = %d %q %v", code, reason, ok)
	}
}

func TestTypeNames(t *testing.T) {
	for typ := Open; typ <= Disconnect; typ++ {
		if parseType([]byte(typ.String())) != typ {
			t.Errorf("type %v does not round-trip", typ)
		}
	}
	if Type(0).String() != "type(0)" {
		t.Errorf("zero type named %q", Type(0).String())
	}
}

func FuzzParseAll(f *testing.F) {
	for _, s := range []string{verified, "OPEN\r\n", "TEXT 2a\r\nc:{\"type\": \"subscribe\", \"channel\": \"test\"}\r\n",
		"TEXT 5\r\nab", "FOO 1\r\nx\r\n", "TEXT zz\r\n", "BINARY 0\r\n\r\nDISCONNECT\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, n, err := ParseAll(nil, data)
		if n < 0 || n > len(data) {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
		}
		// What was consumed re-encodes to bytes that parse back to the
		// same events.
		enc := Encode(evs)
		evs2, n2, err := ParseAll(nil, enc)
		if err != nil || n2 != len(enc) || !reflect.DeepEqual(normalize(evs), normalize(evs2)) {
			t.Fatalf("events %q re-encode as %q -> %q, %v", evs, enc, evs2, err)
		}
	})
}

func BenchmarkParseText(b *testing.B) {
	body := AppendText(nil, bytes.Repeat([]byte("x"), 200))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		ev, n, err := Parse(body)
		if err != nil || n != len(body) || ev.Type != Text {
			b.Fatal("bad parse")
		}
	}
}

func BenchmarkParseAllBatch(b *testing.B) {
	var body []byte
	for range 50 {
		body = AppendText(body, []byte(`{"event":"tick","n":12345}`))
	}
	evs := make([]Event, 0, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var err error
		evs, _, err = ParseAll(evs[:0], body)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendText(b *testing.B) {
	msg := bytes.Repeat([]byte("x"), 200)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendText(buf[:0], msg)
	}
}

func BenchmarkAppendClose(b *testing.B) {
	buf := make([]byte, 0, 64)
	reason := []byte("going away")
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendClose(buf[:0], 1001, reason)
	}
}
