package wsproto

import (
	"bytes"
	"compress/flate"
	"errors"
	"strings"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	// RFC 6455 §1.3 example.
	if got := AcceptKey([]byte("dGhlIHNhbXBsZSBub25jZQ==")); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("got %q", got)
	}
	if !ValidKey([]byte("dGhlIHNhbXBsZSBub25jZQ==")) || ValidKey([]byte("short")) || ValidKey([]byte("dGhlIHNhbXBsZSBub25jZQ=!")) {
		t.Fatal("ValidKey")
	}
}

func maskedFrame(fin bool, op Opcode, payload []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	b := AppendFrameHeader(nil, fin, false, op, len(payload))
	b[1] |= 0x80
	b = append(b, key[:]...)
	p := append([]byte(nil), payload...)
	MaskBytes(key, 0, p)
	return append(b, p...)
}

func TestParseFrameHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		code int // 0 = ok, -1 = incomplete
		len  int64
	}{
		{"text", maskedFrame(true, OpText, []byte("hi")), 0, 2},
		{"16-bit length", maskedFrame(true, OpBinary, make([]byte, 300)), 0, 300},
		{"64-bit length", maskedFrame(false, OpBinary, make([]byte, 70000)), 0, 70000},
		{"empty", nil, -1, 0},
		{"one byte", []byte{0x81}, -1, 0},
		{"truncated mask", []byte{0x81, 0x82, 1}, -1, 0},
		{"truncated ext len", []byte{0x81, 0xfe, 1}, -1, 0},
		{"unmasked", AppendFrameHeader(nil, true, false, OpText, 1), CloseProtocolError, 0},
		{"rsv2", []byte{0xa1, 0x80, 0, 0, 0, 0}, CloseProtocolError, 0},
		{"rsv1 not negotiated", []byte{0xc1, 0x80, 0, 0, 0, 0}, CloseProtocolError, 0},
		{"unknown opcode", []byte{0x83, 0x80, 0, 0, 0, 0}, CloseProtocolError, 0},
		{"fragmented ping", []byte{0x09, 0x80, 0, 0, 0, 0}, CloseProtocolError, 0},
		{"oversized ping", maskedFrame(true, OpPing, make([]byte, 126)), CloseProtocolError, 0},
		{"top bit length", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, CloseProtocolError, 0},
		{"too big", maskedFrame(true, OpBinary, make([]byte, 200000)), CloseTooBig, 0},
	}
	for _, tc := range tests {
		h, n, err := ParseFrameHeader(tc.in, true, false, 100000)
		switch {
		case tc.code == -1:
			if !errors.Is(err, ErrIncomplete) {
				t.Errorf("%s: err %v, want incomplete", tc.name, err)
			}
		case tc.code > 0:
			if err == nil || CloseCode(err) != tc.code {
				t.Errorf("%s: err %v, want code %d", tc.name, err, tc.code)
			}
		default:
			if err != nil || h.Length != tc.len || n+int(h.Length) != len(tc.in) {
				t.Errorf("%s: h=%+v n=%d err=%v", tc.name, h, n, err)
			}
		}
	}
}

func TestMaskBytesInPieces(t *testing.T) {
	key := [4]byte{0xde, 0xad, 0xbe, 0xef}
	src := []byte(strings.Repeat("The quick brown fox. ", 10))
	whole := append([]byte(nil), src...)
	MaskBytes(key, 0, whole)
	pieces := append([]byte(nil), src...)
	pos := 0
	for i := 0; i < len(pieces); i += 7 {
		pos = MaskBytes(key, pos, pieces[i:min(i+7, len(pieces))])
	}
	if !bytes.Equal(whole, pieces) {
		t.Fatal("piecewise masking differs")
	}
	MaskBytes(key, 0, whole)
	if !bytes.Equal(whole, src) {
		t.Fatal("masking twice does not restore")
	}
}

func TestClosePayload(t *testing.T) {
	tests := []struct {
		in   []byte
		code int
		err  int
	}{
		{nil, CloseNoStatus, 0},
		{[]byte{0x03, 0xe8}, 1000, 0},
		{append([]byte{0x0f, 0xa1}, "bye"...), 4001, 0},
		{[]byte{0x03}, 0, CloseProtocolError},
		{[]byte{0x03, 0xed}, 0, CloseProtocolError}, // 1005 on the wire
		{[]byte{0x00, 0x00}, 0, CloseProtocolError},
		{[]byte{0x03, 0xe8, 0xff}, 0, CloseInvalidPayload},
	}
	for _, tc := range tests {
		code, _, err := ParseClosePayload(tc.in)
		if tc.err != 0 {
			if CloseCode(err) != tc.err {
				t.Errorf("%x: err %v", tc.in, err)
			}
			continue
		}
		if err != nil || code != tc.code {
			t.Errorf("%x: %d %v", tc.in, code, err)
		}
	}
	if got := AppendClosePayload(nil, 1000, []byte(strings.Repeat("x", 200))); len(got) != 125 {
		t.Fatalf("close payload not capped: %d", len(got))
	}
}

func TestUTF8Validator(t *testing.T) {
	valid := []string{"", "hello", "héllo", "日本語", "😀x", "\u00ff\u0800\U00010000"}
	invalid := []string{"\xff", "\xc0\xaf", "\xed\xa0\x80", "a\xf8b", "\xf4\x90\x80\x80", "\xe0\x80\x80"}
	for _, s := range valid {
		for step := 1; step <= 4; step++ {
			var v UTF8Validator
			ok := true
			for i := 0; i < len(s); i += step {
				ok = ok && v.Write([]byte(s[i:min(i+step, len(s))]))
			}
			if !ok || !v.Final() {
				t.Errorf("%q step %d rejected", s, step)
			}
		}
	}
	for _, s := range invalid {
		for step := 1; step <= 4; step++ {
			var v UTF8Validator
			ok := true
			for i := 0; i < len(s); i += step {
				ok = ok && v.Write([]byte(s[i:min(i+step, len(s))]))
			}
			if ok && v.Final() {
				t.Errorf("%q step %d accepted", s, step)
			}
		}
	}
	var v UTF8Validator
	if !v.Write([]byte("\xe6\x97")) || v.Final() {
		t.Fatal("incomplete sequence must not be final")
	}
}

func TestNegotiateDeflate(t *testing.T) {
	for offer, want := range map[string]bool{
		"permessage-deflate":                                                         true,
		"permessage-deflate; client_max_window_bits":                                 true,
		"permessage-deflate; server_max_window_bits=10":                              false,
		"permessage-deflate; server_max_window_bits=10, permessage-deflate":          true,
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover": true,
		"x-webkit-deflate-frame":                                                     false,
		"permessage-deflate; foo=1":                                                  false,
		"":                                                                           false,
		"permessage-deflate; server_max_window_bits=\"15\"; client_max_window_bits=15": true,
	} {
		if got := NegotiateDeflate(offer); got != want {
			t.Errorf("%q: %v", offer, got)
		}
	}
}

func TestDeflateRoundTrip(t *testing.T) {
	msg := []byte(strings.Repeat("compress me please ", 200))
	var c Compressor
	// In three fragments, as a responder's "more" packets arrive.
	var wire []byte
	for i, part := range [][]byte{msg[:100], msg[100:2000], msg[2000:]} {
		out, err := c.Write(part, i == 2)
		if err != nil {
			t.Fatal(err)
		}
		wire = append(wire, out...)
	}
	if len(wire) >= len(msg) {
		t.Fatalf("no compression: %d >= %d", len(wire), len(msg))
	}
	got, err := Decompress(nil, wire, 1<<20)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("round trip: %v %d", err, len(got))
	}
	// Independent messages (no context takeover): a second one decodes alone.
	out, _ := c.Write([]byte("second"), true)
	got, err = Decompress(nil, out, 100)
	if err != nil || string(got) != "second" {
		t.Fatalf("second: %q %v", got, err)
	}
	empty, _ := c.Write(nil, true)
	if got, err := Decompress(nil, empty, 100); err != nil || len(got) != 0 {
		t.Fatalf("empty: %q %v", got, err)
	}
	c.Close()
}

func TestDecompressLimits(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(make([]byte, 1<<20))
	w.Flush()
	bomb := bytes.TrimSuffix(buf.Bytes(), deflateTail)
	if _, err := Decompress(nil, bomb, 1000); CloseCode(err) != CloseTooBig {
		t.Fatalf("bomb: %v", err)
	}
	if _, err := Decompress(nil, []byte{0xff, 0xff, 0xff}, 1000); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzParseFrameHeader(f *testing.F) {
	f.Add(maskedFrame(true, OpText, []byte("hello")), true)
	f.Add(maskedFrame(false, OpContinuation, make([]byte, 200)), false)
	f.Add([]byte{0x88, 0x82, 0, 0, 0, 0, 3, 0xe8}, false)
	f.Add([]byte{0xc1, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}, true)
	f.Fuzz(func(t *testing.T, in []byte, rsv1 bool) {
		h, n, err := ParseFrameHeader(in, true, rsv1, 1<<20)
		if err != nil {
			return
		}
		if n < 6 || n > 14 || n > len(in) || h.Length < 0 || h.Length > 1<<20 || !h.Masked {
			t.Fatalf("h=%+v n=%d", h, n)
		}
		if h.Opcode.IsControl() && (h.Length > MaxControlPayload || !h.Fin) {
			t.Fatalf("bad control frame accepted: %+v", h)
		}
		re := AppendFrameHeader(nil, h.Fin, h.RSV1, h.Opcode, int(h.Length))
		h2, _, err := ParseFrameHeader(re, false, true, 0)
		if err != nil || h2.Length != h.Length || h2.Opcode != h.Opcode || h2.Fin != h.Fin {
			t.Fatalf("re-encode: %+v %v", h2, err)
		}
	})
}

func FuzzClosePayload(f *testing.F) {
	f.Add([]byte{0x03, 0xe8, 'o', 'k'})
	f.Add([]byte{0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		code, reason, err := ParseClosePayload(in)
		if err != nil {
			return
		}
		if code != CloseNoStatus && !ValidCloseCode(code) {
			t.Fatalf("code %d", code)
		}
		var v UTF8Validator
		if !v.Write(reason) || !v.Final() {
			t.Fatal("non-UTF-8 reason accepted")
		}
	})
}

func FuzzDecompress(f *testing.F) {
	var c Compressor
	out, _ := c.Write([]byte("hello hello hello"), true)
	f.Add(append([]byte(nil), out...))
	f.Add([]byte{0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Decompress(nil, in, 4096)
		if err == nil && len(got) > 4096 {
			t.Fatalf("limit exceeded: %d", len(got))
		}
	})
}

func BenchmarkMaskBytes(b *testing.B) {
	buf := make([]byte, 8192)
	key := [4]byte{1, 2, 3, 4}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		MaskBytes(key, 1, buf)
	}
}
