package http1

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseRequestHead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		err     error
		method  string
		target  string
		minor   int
		headers int
		consume int // 0 = whole input
	}{
		{name: "simple", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", method: "GET", target: "/", minor: 1, headers: 1},
		{name: "http10 no headers", in: "GET /x?y HTTP/1.0\r\n\r\n", method: "GET", target: "/x?y", minor: 0},
		{name: "bare LF", in: "POST /p HTTP/1.1\nA: 1\nB:2\n\n", method: "POST", target: "/p", minor: 1, headers: 2},
		{name: "leading CRLF tolerated", in: "\r\nGET / HTTP/1.1\r\n\r\n", method: "GET", target: "/", minor: 1},
		{name: "body follows", in: "GET / HTTP/1.1\r\n\r\nBODY", method: "GET", target: "/", minor: 1, consume: 18},
		{name: "empty", in: "", err: ErrIncomplete},
		{name: "truncated line", in: "GET / HTTP/1.1\r\nHost: a", err: ErrIncomplete},
		{name: "truncated CR", in: "\r", err: ErrIncomplete},
		{name: "http2", in: "GET / HTTP/2.0\r\n\r\n", err: ErrVersion},
		{name: "http12", in: "GET / HTTP/1.2\r\n\r\n", err: ErrVersion},
		{name: "garbage version", in: "GET / HTTX/1.1\r\n\r\n", err: ErrBadRequest},
		{name: "missing target", in: "GET HTTP/1.1\r\n\r\n", err: ErrBadRequest},
		{name: "double space", in: "GET  / HTTP/1.1\r\n\r\n", err: ErrBadRequest},
		{name: "bad method char", in: "G(T / HTTP/1.1\r\n\r\n", err: ErrBadRequest},
		{name: "control in target", in: "GET /\x01 HTTP/1.1\r\n\r\n", err: ErrBadRequest},
		{name: "no colon", in: "GET / HTTP/1.1\r\nHost a\r\n\r\n", err: ErrBadRequest},
		{name: "empty name", in: "GET / HTTP/1.1\r\n: a\r\n\r\n", err: ErrBadRequest},
		{name: "space in name", in: "GET / HTTP/1.1\r\nHo st: a\r\n\r\n", err: ErrBadRequest},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nA: 1\r\n  2\r\n\r\n", err: ErrBadRequest},
		{name: "bare CR", in: "GET / HTTP/1.1\r\nA: 1\r2\r\n\r\n", err: ErrBadRequest},
		{name: "NUL in value", in: "GET / HTTP/1.1\r\nA: \x00\r\n\r\n", err: ErrBadRequest},
		{name: "too many headers", in: "GET / HTTP/1.1\r\n" + strings.Repeat("A: 1\r\n", 5) + "\r\n", err: ErrTooManyHeaders},
		{name: "duplicate headers kept", in: "GET / HTTP/1.1\r\nA: 1\r\nA: 2\r\n\r\n", method: "GET", target: "/", minor: 1, headers: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var req Request
			n, err := ParseRequestHead([]byte(tc.in), &req, 4)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.consume
			if want == 0 {
				want = len(tc.in)
			}
			if n != want || string(req.Method) != tc.method || string(req.Target) != tc.target ||
				req.Minor != tc.minor || len(req.Headers) != tc.headers {
				t.Fatalf("got n=%d %q %q 1.%d %d headers", n, req.Method, req.Target, req.Minor, len(req.Headers))
			}
		})
	}
}

func TestHeaderLookup(t *testing.T) {
	var req Request
	in := "GET / HTTP/1.1\r\nconnection: Keep-Alive, Upgrade\r\nUPGRADE:  websocket \r\n\r\n"
	if _, err := ParseRequestHead([]byte(in), &req, 10); err != nil {
		t.Fatal(err)
	}
	if v, ok := req.Header("Upgrade"); !ok || string(v) != "websocket" {
		t.Fatalf("Upgrade = %q %v", v, ok)
	}
	if !req.HasToken("Connection", "upgrade") || req.HasToken("Connection", "close") {
		t.Fatal("token lookup")
	}
}

func TestStatus(t *testing.T) {
	for err, want := range map[error]int{ErrBadRequest: 400, ErrTooManyHeaders: 431, ErrHeadTooLarge: 431,
		ErrVersion: 505, ErrBodyFraming: 400, ErrIncomplete: 0, errors.New("x"): 0} {
		if got := Status(err); got != want {
			t.Errorf("Status(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestParseContentLength(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "123": 123, "": -1, "-1": -1, "+1": -1, "1 ": -1,
		"99999999999999999999": -1, "0x10": -1} {
		n, ok := ParseContentLength([]byte(in))
		if (want < 0) == ok || (ok && n != want) {
			t.Errorf("%q: got %d %v", in, n, ok)
		}
	}
}

// decodeAll runs the decoder over in, fed in pieces of size step.
func decodeAll(in string, step, max int) (string, bool, error) {
	var d ChunkedDecoder
	var out, pending []byte
	src := []byte(in)
	for i := 0; i <= len(src); i += step {
		end := min(i+step, len(src))
		pending = append(pending, src[i:end]...)
		for {
			data, used, err := d.Next(pending, max)
			if err != nil {
				return string(out), false, err
			}
			out = append(out, data...)
			pending = pending[used:]
			if d.Done() || (used == 0 && len(data) == 0) {
				break
			}
		}
		if d.Done() {
			break
		}
	}
	return string(out), d.Done(), nil
}

func TestChunkedDecoder(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		done bool
		err  bool
	}{
		{"simple", "5\r\nhello\r\n0\r\n\r\n", "hello", true, false},
		{"two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde", true, false},
		{"extension", "3;x=y\r\nabc\r\n0\r\n\r\n", "abc", true, false},
		{"hex upper", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", true, false},
		{"trailers", "1\r\na\r\n0\r\nX: y\r\n\r\n", "a", true, false},
		{"bare LF", "1\na\n0\n\n", "a", true, false},
		{"empty body", "0\r\n\r\n", "", true, false},
		{"truncated", "5\r\nhel", "hel", false, false},
		{"bad size", "zz\r\n", "", false, true},
		{"no size", "\r\n", "", false, true},
		{"missing CRLF after data", "1\r\naX0\r\n\r\n", "a", false, true},
		{"huge size", "fffffffffffffffff\r\n", "", false, true},
		{"junk after size", "1 x\r\na\r\n", "", false, true},
		{"long size line", strings.Repeat("1", 5000), "", false, true},
	}
	for _, tc := range tests {
		for _, step := range []int{1, 3, 1000} {
			got, done, err := decodeAll(tc.in, step, 1<<20)
			if (err != nil) != tc.err || (!tc.err && (got != tc.want || done != tc.done)) {
				t.Errorf("%s/step %d: got %q done=%v err=%v", tc.name, step, got, done, err)
			}
		}
	}
	// Data is never handed out beyond max.
	got, done, err := decodeAll("a\r\n0123456789\r\n0\r\n\r\n", 100, 3)
	if err != nil || got != "0123456789" || !done {
		t.Fatalf("limited: %q %v %v", got, done, err)
	}
}

func TestPlanAndHead(t *testing.T) {
	hs := []ResponseHeader{{"Content-Type", "text/plain"}, {"Connection", "close"}, {"Transfer-Encoding", "chunked"}}
	tests := []struct {
		name       string
		minor      int
		head       bool
		code       int
		hs         []ResponseHeader
		body       int
		more       bool
		persistent bool
		want       string
	}{
		{"complete", 1, false, 200, hs[:1], 6, false, true, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n"},
		{"streamed 1.1", 1, false, 200, hs, 0, true, true, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"streamed 1.0", 0, false, 200, hs[:1], 0, true, false, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"},
		{"1.0 keep-alive", 0, false, 200, nil, 2, false, true, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n"},
		{"declared length", 1, false, 200, []ResponseHeader{{"Content-Length", "5"}}, 2, true, true, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
		{"204", 1, false, 204, nil, 3, false, true, "HTTP/1.1 204 No Content\r\n\r\n"},
		{"304", 1, false, 304, nil, 3, false, true, "HTTP/1.1 304 Not Modified\r\n\r\n"},
		{"HEAD", 1, true, 200, nil, 6, false, true, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"},
		{"client close", 1, false, 200, nil, 1, false, false, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n"},
		{"streamed 1.1 close", 1, false, 200, nil, 0, true, false, "HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"injection", 1, false, 200, []ResponseHeader{{"X", "a\r\nEvil: 1"}}, 0, false, true, "HTTP/1.1 200 OK\r\nX: a  Evil: 1\r\nContent-Length: 0\r\n\r\n"},
	}
	for _, tc := range tests {
		p := Plan(tc.minor, tc.head, tc.code, tc.hs, tc.body, tc.more, tc.persistent)
		got := string(AppendResponseHead(nil, tc.minor, tc.code, "", tc.hs, nil, nil, p))
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestAppendChunk(t *testing.T) {
	if got := string(AppendChunk(nil, bytes.Repeat([]byte("a"), 26))); got != "1a\r\n"+strings.Repeat("a", 26)+"\r\n" {
		t.Fatalf("%q", got)
	}
	if got := AppendChunk(nil, nil); len(got) != 0 {
		t.Fatalf("empty chunk %q", got)
	}
}

func FuzzParseRequestHead(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST /x HTTP/1.0\nA: b\n\nbody"))
	f.Add([]byte("\r\nGET * HTTP/1.1\r\nA:\r\n\r\n"))
	f.Add([]byte("GET / HTTP/9.9\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var req Request
		n, err := ParseRequestHead(in, &req, 50)
		if err != nil {
			if n != 0 {
				t.Fatal("consumed on error")
			}
			return
		}
		if n > len(in) || n < 4 || len(req.Headers) > 50 || (req.Minor != 0 && req.Minor != 1) {
			t.Fatalf("n=%d minor=%d", n, req.Minor)
		}
		for _, h := range req.Headers {
			if len(h.Name) == 0 || bytes.ContainsAny(h.Value, "\r\n") {
				t.Fatalf("bad header %q", h)
			}
		}
	})
}

func FuzzChunkedDecoder(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), 3)
	f.Add([]byte("1;a=b\na\n0\nT: x\n\n"), 1)
	f.Add([]byte("ffffffff\r\n"), 100)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max <= 0 || max > 1<<20 {
			max = 7
		}
		var d ChunkedDecoder
		pending := in
		for i := 0; i < len(in)+2; i++ {
			data, used, err := d.Next(pending, max)
			if err != nil {
				return
			}
			if used > len(pending) || len(data) > max || len(data) > used {
				t.Fatalf("used %d of %d, data %d", used, len(pending), len(data))
			}
			pending = pending[used:]
			if d.Done() || (used == 0 && len(data) == 0) {
				return
			}
		}
		t.Fatal("decoder made no progress bound")
	})
}

func BenchmarkParseRequestHead(b *testing.B) {
	in := []byte("GET /path/to/resource?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
	var req Request
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseRequestHead(in, &req, 100); err != nil {
			b.Fatal(err)
		}
	}
}
