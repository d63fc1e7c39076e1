package responder

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/test/zurl/zclient"
	"github.com/pushpin-go/pushpin/zurl/config"
)

func TestPlainGET(t *testing.T) {
	e := startEnv(t)
	o := newRawOrigin(t, func(string) string {
		return "HTTP/1.1 200 Fine Thanks\r\nX-Mixed-case: a\r\nContent-Length: 6\r\n\r\nhello\n"
	})
	p := req("r1", "GET", o.url("/plain?a=b"))
	p.Headers = []zhttp.Header{{Name: "X-Test", Value: "1"}, {Name: "user-agent", Value: "foo"},
		{Name: "Connection", Value: "keep-alive"}, {Name: "Accept-Encoding", Value: "gzip"}, {Name: "X-Empty", Value: ""}}
	p.UserData = tnetstring.D("k", tnetstring.S("v"))
	p.Multi = true
	e.send(p)

	ack := e.recv()
	if ack.Type != zhttp.KeepAlive || string(ack.From) != testZurlID || string(ack.ID) != "r1" || ack.Seq != 0 || !ack.Multi {
		t.Fatalf("ack = %+v", ack)
	}
	if !ack.UserData.Equal(p.UserData) {
		t.Errorf("ack user-data %v", ack.UserData)
	}
	r := e.recv()
	if r.Seq != 1 || r.Code != 200 || r.Reason != "Fine Thanks" || string(r.Body) != "hello\n" || r.More || r.Multi {
		t.Fatalf("response = %+v", r)
	}
	if !r.UserData.Equal(p.UserData) {
		t.Errorf("response user-data %v", r.UserData)
	}
	if len(r.Headers) != 2 || r.Headers[0].Name != "X-Mixed-case" || r.Headers[1].Name != "Content-Length" {
		t.Errorf("headers %+v", r.Headers)
	}
	got := o.requests()[0]
	host := strings.TrimPrefix(o.url(""), "http://")
	want := "GET /plain?a=b HTTP/1.1\r\nHost: " + host + "\r\nAccept: */*\r\nAccept-Encoding: deflate, gzip, br, zstd\r\nX-Test: 1\r\nuser-agent: foo\r\n\r\n"
	if got != want {
		t.Errorf("origin saw\n%q\nwant\n%q", got, want)
	}
}

func TestJSONFormat(t *testing.T) {
	e := startEnv(t)
	o := newRawOrigin(t, func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" })
	msg := fmt.Sprintf(`J{"from":"tester","id":"j1","seq":0,"method":"GET","uri":%q,"stream":true,"credits":1000,"user-data":{"a":[1,"x"]}}`, o.url("/j"))
	if err := e.in.SendRaw([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		raw, p, err := e.in.RecvRaw(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if raw[0] != 'J' {
			t.Fatalf("reply not in J format: %q", raw)
		}
		if !bytes.Contains(raw, []byte(`"user-data":{"a":[1,"x"]}`)) {
			t.Errorf("user-data not echoed: %s", raw)
		}
		if i == 1 && (p.Code != 200 || string(p.Body) != "hi") {
			t.Errorf("response %s", raw)
		}
	}
}

func TestHostAndConnectHost(t *testing.T) {
	e := startEnv(t)
	o := newRawOrigin(t, func(string) string { return "HTTP/1.1 204 No Content\r\n\r\n" })
	_, port, _ := strings.Cut(strings.TrimPrefix(o.url(""), "http://"), ":")
	p := req("c1", "GET", "http://origin.example:8080/x")
	p.Headers = []zhttp.Header{{Name: "Host", Value: "client.example"}}
	p.ConnectHost = "127.0.0.1"
	var n int
	fmt.Sscan(port, &n)
	p.SetConnectPort(n)
	e.send(p)
	e.recv() // ack
	r := e.recv()
	if r.Code != 204 || r.Body != nil || len(r.Headers) != 0 {
		t.Fatalf("response %+v", r)
	}
	if got := o.requests()[0]; !strings.HasPrefix(got, "GET /x HTTP/1.1\r\nHost: origin.example:8080\r\n") {
		t.Errorf("origin saw %q", got)
	}
}

func TestPOSTBodyAndContentLength(t *testing.T) {
	e := startEnv(t)
	o := newRawOrigin(t, func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" })
	p := req("p1", "POST", o.url("/post"))
	p.Headers = []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}}
	p.Body = []byte("abc")
	e.send(p)
	e.recv()
	if r := e.recv(); r.Code != 200 {
		t.Fatalf("%+v", r)
	}
	p = req("p2", "PUT", o.url("/empty"))
	e.send(p)
	e.recv()
	e.recv()
	reqs := o.requests()
	if !strings.HasSuffix(reqs[0], "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc") {
		t.Errorf("POST sent %q", reqs[0])
	}
	if !strings.HasSuffix(reqs[1], "Accept-Encoding: deflate, gzip, br, zstd\r\nContent-Length: 0\r\n\r\n") {
		t.Errorf("empty PUT sent %q", reqs[1])
	}
}

func TestCreditPacing(t *testing.T) {
	e := startEnv(t)
	body := bytes.Repeat([]byte("0123456789"), 30000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}))
	defer srv.Close()
	p := req("c1", "GET", srv.URL+"/big")
	p.SetCredits(50000)
	e.send(p)
	if a := e.recv(); a.Type != zhttp.KeepAlive {
		t.Fatalf("ack %+v", a)
	}
	first := e.recv()
	if first.Code != 200 || len(first.Body) != 50000 || !first.More {
		t.Fatalf("first packet: code %d body %d more %v", first.Code, len(first.Body), first.More)
	}
	// No more data may come before we grant credits.
	e.expectNone(100 * time.Millisecond)
	seq := 1
	c := later("c1", seq)
	seq++
	c.Type = zhttp.Credit
	c.SetCredits(50000)
	e.sendStream(c)
	_, rest := e.collect("c1", true, &seq)
	got := append(first.Body, rest...)
	if !bytes.Equal(got, body) {
		t.Fatalf("body mismatch: got %d bytes", len(got))
	}
}

func TestZeroCreditsHoldHeaders(t *testing.T) {
	e := startEnv(t)
	o := newRawOrigin(t, func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" })
	p := req("z1", "GET", o.url("/"))
	p.Has &^= zhttp.HasCredits
	e.send(p)
	e.recv() // ack
	e.expectNone(150 * time.Millisecond)
	c := later("z1", 1)
	c.Type = zhttp.Credit
	c.SetCredits(2)
	e.sendStream(c)
	r := e.recv()
	if r.Code != 200 || string(r.Body) != "ab" || !r.More {
		t.Fatalf("%+v", r)
	}
	c = later("z1", 2)
	c.Type = zhttp.Credit
	c.SetCredits(10)
	e.sendStream(c)
	r = e.recv()
	if string(r.Body) != "c" || r.More || r.Has&zhttp.HasCode != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestGzipDecoded(t *testing.T) {
	e := startEnv(t)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte("hello gzip world\n"))
	zw.Close()
	o := newRawOrigin(t, func(string) string {
		return fmt.Sprintf("HTTP/1.1 201 Created\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\nX-A: 1\r\n\r\n%s", zb.Len(), zb.String())
	})
	e.send(req("g1", "GET", o.url("/gz")))
	e.recv()
	r := e.recv()
	if string(r.Body) != "hello gzip world\n" || header(r, "Content-Encoding") != "gzip" || header(r, "Content-Length") != "" {
		t.Fatalf("%+v", r)
	}
}

func TestChunkedResponseAndNoStream(t *testing.T) {
	e := startEnv(t)
	o := newRawOrigin(t, func(string) string {
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
	})
	p := req("n1", "GET", o.url("/"))
	p.Stream = false
	e.send(p)
	if a := e.recv(); a.Type != zhttp.KeepAlive {
		t.Fatalf("ack %+v", a)
	}
	r := e.recv()
	if string(r.Body) != "hello world" || r.More || header(r, "Transfer-Encoding") != "chunked" {
		t.Fatalf("%+v", r)
	}
	e.expectNone(50 * time.Millisecond)
}

func TestStreamedRequestBody(t *testing.T) {
	e := startEnv(t, func(c *config.Config, _ *Options) { c.BufferSize = 1000 })
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- fmt.Sprintf("%s %v %s", r.Method, r.TransferEncoding, b)
		w.Write([]byte("done"))
	}))
	defer srv.Close()
	p := req("s1", "PUT", srv.URL+"/up")
	p.More = true
	e.send(p)
	a := e.recv()
	if a.Type != zhttp.Credit || a.Credits != 1000 {
		t.Fatalf("ack %+v", a)
	}
	b1 := later("s1", 1)
	b1.Body, b1.More = []byte("part1-"), true
	e.sendStream(b1)
	credited := 0
	for credited < 6 {
		c := e.recv()
		if c.Type != zhttp.Credit {
			t.Fatalf("want credit, got %+v", c)
		}
		credited += c.Credits
	}
	b2 := later("s1", 2)
	b2.Body = []byte("part2")
	e.sendStream(b2)
	seq := 3
	_, body := e.collect("s1", false, &seq)
	if string(body) != "done" {
		t.Fatalf("body %q", body)
	}
	if s := <-got; s != "PUT [chunked] part1-part2" {
		t.Fatalf("origin got %q", s)
	}
}

func TestReqInterface(t *testing.T) {
	e := startEnv(t)
	o := newRawOrigin(t, func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" })
	p := &zhttp.Packet{ID: []byte("q1"), Method: "GET", URI: o.url("/req"), UserData: tnetstring.S("u")}
	raw, err := zclientReq(e, p)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Code != 200 || string(raw.Body) != "hello" || raw.Seq != 0 || raw.From != nil || !raw.UserData.Equal(tnetstring.S("u")) {
		t.Fatalf("%+v", raw)
	}
	// streamed input is refused on the req interface
	p = &zhttp.Packet{ID: []byte("q2"), Method: "POST", URI: o.url("/req"), More: true}
	r, err := zclientReq(e, p)
	if err != nil || r.Type != zhttp.Error || r.Condition != zhttp.CondBadRequest {
		t.Fatalf("%+v %v", r, err)
	}
	// WebSocket needs the stream interface
	p = &zhttp.Packet{ID: []byte("q3"), URI: "ws://127.0.0.1:1/"}
	r, err = zclientReq(e, p)
	if err != nil || r.Condition != zhttp.CondBadRequest {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestFireAndForget(t *testing.T) {
	e := startEnv(t)
	o := newRawOrigin(t, func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" })
	p := &zhttp.Packet{From: []byte{}, Method: "POST", URI: o.url("/ff"), Body: []byte("x")}
	if err := e.in.SendRaw(zhttp.AppendT(nil, p)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "origin request", func() bool { return len(o.requests()) == 1 })
	e.expectNone(100 * time.Millisecond)
}

// zclientReq runs one request over the req interface.
func zclientReq(e *testEnv, p *zhttp.Packet) (*zhttp.Packet, error) {
	b, err := zclient.Req(e.cfg.InReqSpec, zhttp.AppendT(nil, p), 5*time.Second)
	if err != nil {
		return nil, err
	}
	r := new(zhttp.Packet)
	if _, err := zhttp.Decode(b, r); err != nil {
		return nil, err
	}
	return r, nil
}
