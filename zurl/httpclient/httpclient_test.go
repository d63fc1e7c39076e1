package httpclient

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in                    string
		host, target, hostHdr string
		port                  int
		wantErr               bool
	}{
		{in: "http://example.com", host: "example.com", port: 80, target: "/", hostHdr: "example.com"},
		{in: "http://example.com:80/a", host: "example.com", port: 80, target: "/a", hostHdr: "example.com"},
		{in: "https://example.com:8443/a/../b?x=%2F#frag", host: "example.com", port: 8443, target: "/a/../b?x=%2F", hostHdr: "example.com:8443"},
		{in: "http://example.com?q", host: "example.com", port: 80, target: "/?q", hostHdr: "example.com"},
		{in: "http://[::1]:81/", host: "::1", port: 81, target: "/", hostHdr: "[::1]:81"},
		{in: "wss://h/", host: "h", port: 443, target: "/", hostHdr: "h"},
		{in: "ftp://h/", wantErr: true},
		{in: "http:///nohost", wantErr: true},
		{in: "http://h:99999/", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		u, err := ParseURI(tt.in, "http", "https", "ws", "wss")
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if u.Host != tt.host || u.Port != tt.port || u.Target != tt.target || u.HostHeader != tt.hostHdr {
			t.Errorf("%q: got %+v", tt.in, u)
		}
	}
}

func TestReadHead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		code    int
		reason  string
		hdrs    int
		wantErr bool
	}{
		{name: "simple", in: "HTTP/1.1 200 OK\r\nA: 1\r\n\r\n", code: 200, reason: "OK", hdrs: 1},
		{name: "reason with spaces", in: "HTTP/1.1 404 Not Found Here\r\n\r\n", code: 404, reason: "Not Found Here"},
		{name: "no reason", in: "HTTP/1.1 200\r\n\r\n", code: 200},
		{name: "skips 100", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nX: y\r\n\r\n", code: 201, reason: "Created", hdrs: 1},
		{name: "bare LF", in: "HTTP/1.0 200 OK\nA:1\n\n", code: 200, reason: "OK", hdrs: 1},
		{name: "folded", in: "HTTP/1.1 200 OK\r\nA: 1\r\n 2\r\n\r\n", code: 200, reason: "OK", hdrs: 1},
		{name: "garbage", in: "SSH-2.0-OpenSSH\r\n\r\n", wantErr: true},
		{name: "bad code", in: "HTTP/1.1 abc OK\r\n\r\n", wantErr: true},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", wantErr: true},
		{name: "truncated", in: "HTTP/1.1 200 OK\r\nA: 1\r\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "huge", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: "+strings.Repeat("y", 1000)+"\r\n", 200) + "\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, err := readHead(bufio.NewReader(strings.NewReader(tt.in)), false)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error: %+v", h)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.head.Code != tt.code || h.head.Reason != tt.reason || len(h.head.Header) != tt.hdrs {
				t.Fatalf("got %+v", h.head)
			}
		})
	}
}

func TestDecoders(t *testing.T) {
	plain := []byte(strings.Repeat("decode me ", 100))
	var gz, zl, fl, br bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw := zlib.NewWriter(&zl)
	zw.Write(plain)
	zw.Close()
	fw, _ := flate.NewWriter(&fl, 5)
	fw.Write(plain)
	fw.Close()
	bw := brotli.NewWriter(&br)
	bw.Write(plain)
	bw.Close()
	ze, _ := zstd.NewWriter(nil)
	zs := ze.EncodeAll(plain, nil)
	ze.Close()
	// gzip applied after zstd: "zstd, gzip"
	var stacked bytes.Buffer
	sw := gzip.NewWriter(&stacked)
	sw.Write(zs)
	sw.Close()
	tests := []struct {
		enc  string
		body []byte
		want []byte
	}{
		{"gzip", gz.Bytes(), plain},
		{"x-gzip", gz.Bytes(), plain},
		{"deflate", zl.Bytes(), plain},
		{"deflate", fl.Bytes(), plain},
		{"br", br.Bytes(), plain},
		{"zstd", zs, plain},
		{"zstd, gzip", stacked.Bytes(), plain},
		{"gzip", nil, nil},
		{"identity", plain, nil},
		{"compress", plain, nil}, // unknown: passed through
	}
	for _, tt := range tests {
		d, c, err := newDecoder(tt.enc, bytes.NewReader(tt.body))
		if err != nil {
			t.Errorf("%s: %v", tt.enc, err)
			continue
		}
		if tt.want == nil && len(tt.body) > 0 {
			if d != nil {
				t.Errorf("%s: should pass through", tt.enc)
			}
			continue
		}
		got, err := io.ReadAll(d)
		if c != nil {
			c.Close()
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: got %d bytes, err %v", tt.enc, len(got), err)
		}
	}
}

func TestBuildHead(t *testing.T) {
	tests := []struct {
		name   string
		method string
		hdr    []zhttp.Header
		will   bool
		want   string
	}{
		{"get", "GET", nil, false, "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nAccept-Encoding: deflate, gzip, br, zstd\r\n\r\n"},
		{"post empty", "POST", nil, false, "POST / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nAccept-Encoding: deflate, gzip, br, zstd\r\nContent-Length: 0\r\n\r\n"},
		{"streamed", "PATCH", []zhttp.Header{{Name: "X", Value: "1"}}, true, "PATCH / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nAccept-Encoding: deflate, gzip, br, zstd\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"length given", "PUT", []zhttp.Header{{Name: "content-length", Value: "5"}, {Name: "Accept", Value: "a/b"}}, true, "PUT / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: deflate, gzip, br, zstd\r\nAccept: a/b\r\nContent-Length: 5\r\n\r\n"},
		{"get ignores length", "GET", []zhttp.Header{{Name: "Content-Length", Value: "0"}}, false, "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nAccept-Encoding: deflate, gzip, br, zstd\r\n\r\n"},
		{"host override", "GET", []zhttp.Header{{Name: "HOST", Value: "other"}}, false, "GET / HTTP/1.1\r\nHost: other\r\nAccept: */*\r\nAccept-Encoding: deflate, gzip, br, zstd\r\n\r\n"},
	}
	for _, tt := range tests {
		x := &Exchange{req: Request{Method: tt.method, Header: tt.hdr}}
		head, _ := x.buildHead(&URI{Target: "/", HostHeader: "h"}, tt.will)
		if string(head) != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, head, tt.want)
		}
	}
}

// run drives an exchange to completion and returns the head and body.
func run(t *testing.T, c *Client, req Request) (*Head, []byte, *Error) {
	t.Helper()
	x := c.Start(req)
	defer x.Close()
	var body []byte
	deadline := time.After(5 * time.Second)
	for {
		select {
		case <-x.Notify():
		case <-deadline:
			t.Fatal("exchange did not finish")
		}
		if e := x.Err(); e != nil {
			return nil, nil, e
		}
		body = append(body, x.Read(-1)...)
		if buffered, done := x.Pending(); done && buffered == 0 {
			return x.Head(), body, nil
		}
	}
}

func TestConnectionReuseAndMaxAge(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := New(Options{})
	defer c.Close()
	for i := 0; i < 3; i++ {
		if _, body, err := run(t, c, Request{Method: "GET", URI: srv.URL, MaxRedirects: -1}); err != nil || string(body) != "ok" {
			t.Fatalf("%q %v", body, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 sequential requests, want 1", n)
	}
	if c.IdleConns() != 1 {
		t.Errorf("idle %d", c.IdleConns())
	}

	// With a tiny connection_max_time nothing is reused.
	conns.Store(0)
	c2 := New(Options{ConnectionMaxTime: time.Nanosecond})
	defer c2.Close()
	for i := 0; i < 2; i++ {
		run(t, c2, Request{Method: "GET", URI: srv.URL, MaxRedirects: -1})
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections with connection_max_time ~0, want 2", n)
	}
}

func TestStaleConnectionRetried(t *testing.T) {
	// The origin closes every connection after answering, without saying so.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if l == "\r\n" {
						break
					}
				}
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
			}()
		}
	}()
	c := New(Options{})
	defer c.Close()
	for i := 0; i < 3; i++ {
		if _, body, err := run(t, c, Request{Method: "GET", URI: "http://" + ln.Addr().String() + "/", MaxRedirects: -1}); err != nil || string(body) != "ok" {
			t.Fatalf("request %d: %q %v", i, body, err)
		}
		time.Sleep(10 * time.Millisecond) // let the close arrive
	}
}

func FuzzReadHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 302 Found\r\nLocation: /x\r\nConnection: keep-alive\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Encoding: br\r\n\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 999\n \n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		h, _, err := readHead(br, true)
		if err != nil {
			return
		}
		if h.head.Code < 100 || h.head.Code > 999 {
			t.Fatalf("code %d", h.head.Code)
		}
		body, _ := bodyReader(br, "GET", h)
		if d, c, err := newDecoder(h.contentEncoding, body); err == nil && d != nil {
			io.Copy(io.Discard, io.LimitReader(d, 1<<20))
			if c != nil {
				c.Close()
			}
		} else {
			io.Copy(io.Discard, io.LimitReader(body, 1<<20))
		}
	})
}
