package responder

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/zurl/config"
	"github.com/pushpin-go/pushpin/zurl/policy"
)

// expectError sends p and expects (after an optional ack) an error packet
// with the condition.
func (e *testEnv) expectError(p *zhttp.Packet, cond string) *zhttp.Packet {
	e.t.Helper()
	e.send(p)
	for i := 0; i < 3; i++ {
		r := e.recv()
		if r.Type == zhttp.KeepAlive || r.Type == zhttp.Credit {
			continue
		}
		if r.Type != zhttp.Error || r.Condition != cond {
			e.t.Fatalf("want error %s, got %+v", cond, r)
		}
		if string(r.ID) != string(p.ID) {
			e.t.Fatalf("error for id %q", r.ID)
		}
		return r
	}
	e.t.Fatalf("no error %s", cond)
	return nil
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// blockingResolver never answers before the context ends.
type blockingResolver struct{}

func (blockingResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestErrorConditions(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer hang.Close()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 100)))
	}))
	defer big.Close()
	var loop *httptest.Server
	loop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loop.URL+"/again", http.StatusFound)
	}))
	defer loop.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tlsSrv.Close()
	// short states a longer body than it sends, then closes.
	short := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
		bw.Flush()
		c.Close()
	}))
	defer short.Close()

	e := startEnv(t, func(c *config.Config, o *Options) {
		o.Resolver = staticResolver{
			"evil.test":  {netip.MustParseAddr("10.1.2.3")},
			"mixed.test": {netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("127.0.0.1")},
		}
		c.Policy = policy.New(policy.Allow, []string{"127.0.0.1"}, []string{"10.*", "*.denied"})
	})

	tests := []struct {
		name string
		p    func() *zhttp.Packet
		cond string
	}{
		{"missing method", func() *zhttp.Packet { p := req("e1", "", big.URL); return p }, zhttp.CondBadRequest},
		{"missing uri", func() *zhttp.Packet { return req("e2", "GET", "") }, zhttp.CondBadRequest},
		{"bad scheme", func() *zhttp.Packet { return req("e3", "GET", "ftp://127.0.0.1/") }, zhttp.CondBadRequest},
		{"streamed input seq not 0", func() *zhttp.Packet {
			p := req("e4", "POST", big.URL)
			p.More = true
			p.SetSeq(3)
			return p
		}, zhttp.CondBadRequest},
		{"refused", func() *zhttp.Packet { return req("e5", "GET", "http://"+closedPort(t)+"/") }, zhttp.CondRemoteConnectionFailed},
		{"unresolvable", func() *zhttp.Packet { return req("e6", "GET", "http://nowhere.test/") }, zhttp.CondRemoteConnectionFailed},
		{"uri host denied", func() *zhttp.Packet { return req("e7", "GET", "http://host.denied/") }, zhttp.CondPolicyViolation},
		{"connect-host denied", func() *zhttp.Packet {
			p := req("e8", "GET", big.URL)
			p.ConnectHost = "10.0.0.1"
			return p
		}, zhttp.CondPolicyViolation},
		// The SSRF guard: an allowed name that resolves to a denied address.
		{"resolved address denied", func() *zhttp.Packet { return req("e9", "GET", "http://evil.test/") }, zhttp.CondPolicyViolation},
		{"max-size", func() *zhttp.Packet {
			p := req("e10", "GET", big.URL)
			p.SetMaxSize(10)
			return p
		}, zhttp.CondMaxSizeExceeded},
		{"max-size no stream", func() *zhttp.Packet {
			p := req("e11", "GET", big.URL)
			p.Stream = false
			p.SetMaxSize(99)
			return p
		}, zhttp.CondMaxSizeExceeded},
		{"session timeout", func() *zhttp.Packet {
			p := req("e12", "GET", hang.URL)
			p.SetTimeout(100)
			return p
		}, zhttp.CondSessionTimeout},
		{"too many redirects", func() *zhttp.Packet {
			p := req("e13", "GET", loop.URL)
			p.FollowRedirects = true
			return p
		}, zhttp.CondTooManyRedirects},
		{"untrusted certificate", func() *zhttp.Packet { return req("e14", "GET", tlsSrv.URL) }, zhttp.CondTLSError},
		{"body shorter than Content-Length", func() *zhttp.Packet {
			p := req("e16", "GET", short.URL)
			p.Stream = false
			return p
		}, zhttp.CondUndefined},
		{"connect-host without connect-port", func() *zhttp.Packet {
			p := req("e17", "GET", big.URL)
			p.ConnectHost = "127.0.0.1"
			return p
		}, zhttp.CondUndefined},
		{"HEAD with body", func() *zhttp.Packet {
			p := req("e15", "HEAD", big.URL)
			p.Body = []byte("x")
			return p
		}, zhttp.CondContentNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.expectError(tt.p(), tt.cond)
		})
	}

	t.Run("mixed addresses skip the denied one", func(t *testing.T) {
		e.t = t
		// mixed.test resolves to a denied and an allowed address; the
		// request goes to the allowed one. Port of the origin:
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(big.URL, "http://"))
		e.send(req("m1", "GET", "http://mixed.test:"+port+"/"))
		e.recv()
		if r := e.recv(); r.Code != 200 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("ignore-policies bypasses", func(t *testing.T) {
		e.t = t
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(big.URL, "http://"))
		p := req("m2", "GET", "http://host.denied:"+port+"/")
		p.ConnectHost = "127.0.0.1"
		p.SetConnectPort(atoi(t, port))
		p.IgnorePolicies = true
		e.send(p)
		e.recv()
		if r := e.recv(); r.Code != 200 {
			t.Fatalf("%+v", r)
		}
	})
}

func TestConnectionTimeout(t *testing.T) {
	e := startEnv(t, func(c *config.Config, o *Options) {
		o.Resolver = blockingResolver{}
		o.ConnectTimeout = 100 * time.Millisecond
	})
	e.expectError(req("t1", "GET", "http://slow.test/"), zhttp.CondConnectionTimeout)
}

func TestInactivityTimeout(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	e := startEnv(t, func(c *config.Config, o *Options) { c.Timeout = 150 * time.Millisecond })
	e.expectError(req("t2", "GET", hang.URL), zhttp.CondSessionTimeout)
}

func TestTLSTrustAndIgnore(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("secure"))
	}))
	defer srv.Close()
	e := startEnv(t, func(c *config.Config, o *Options) { o.RootCAs = poolOf(srv) })
	// httptest's certificate is for 127.0.0.1 and example.com.
	e.send(req("s1", "GET", srv.URL))
	e.recv()
	if r := e.recv(); string(r.Body) != "secure" {
		t.Fatalf("%+v", r)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "https://"))
	// A URI host the certificate does not cover fails...
	p := req("s2", "GET", "https://other.test:"+port+"/")
	p.ConnectHost = "127.0.0.1"
	p.SetConnectPort(atoi(t, port))
	e.expectError(p, zhttp.CondTLSError)
	// ...unless the connect-host is trusted...
	p = req("s3", "GET", "https://other.test:"+port+"/")
	p.ConnectHost, p.TrustConnectHost = "127.0.0.1", true
	p.SetConnectPort(atoi(t, port))
	e.send(p)
	e.recv()
	if r := e.recv(); string(r.Body) != "secure" {
		t.Fatalf("%+v", r)
	}
	// ...or TLS errors are ignored.
	p = req("s4", "GET", "https://other.test:"+port+"/")
	p.ConnectHost, p.IgnoreTLSErrors = "127.0.0.1", true
	p.SetConnectPort(atoi(t, port))
	e.send(p)
	e.recv()
	if r := e.recv(); string(r.Body) != "secure" {
		t.Fatalf("%+v", r)
	}
}

func TestFollowRedirects(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/final" {
			b, _ := io.ReadAll(r.Body)
			w.Write([]byte(r.Method + " " + string(b)))
			return
		}
		http.Redirect(w, r, "/final", http.StatusFound)
	}))
	defer srv.Close()
	e := startEnv(t)
	p := req("f1", "POST", srv.URL+"/start")
	p.Body = []byte("payload")
	p.FollowRedirects = true
	e.send(p)
	e.recv()
	if r := e.recv(); r.Code != 200 || string(r.Body) != "POST payload" {
		t.Fatalf("%+v", r)
	}
	// Without follow-redirects the 302 itself comes back.
	e.send(req("f2", "GET", srv.URL+"/start"))
	e.recv()
	if r := e.recv(); r.Code != 302 || header(r, "Location") != "/final" {
		t.Fatalf("%+v", r)
	}
}

func TestSeqGapCancels(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	e := startEnv(t)
	e.send(req("g1", "GET", hang.URL))
	e.recv()
	ka := later("g1", 5)
	ka.Type = zhttp.KeepAlive
	e.sendStream(ka)
	if r := e.recv(); r.Type != zhttp.Cancel || r.Seq != 1 {
		t.Fatalf("%+v", r)
	}
	waitFor(t, "session end", func() bool { return e.srv.OpenSessions() == 0 })
}

func TestCancelEndsSession(t *testing.T) {
	started, gone := make(chan struct{}), make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(gone)
	}))
	defer hang.Close()
	e := startEnv(t)
	e.send(req("x1", "GET", hang.URL))
	e.recv()
	<-started
	c := later("x1", 1)
	c.Type = zhttp.Cancel
	e.sendStream(c)
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("origin request not aborted")
	}
	e.expectNone(50 * time.Millisecond)
}

func TestKeepAliveAndExpiry(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	e := startEnv(t, func(c *config.Config, o *Options) {
		o.SessionExpire = 400 * time.Millisecond
		o.KeepAliveInterval = 100 * time.Millisecond
	})
	e.send(req("k1", "GET", hang.URL))
	if a := e.recv(); a.Seq != 0 {
		t.Fatalf("%+v", a)
	}
	if k := e.recv(); k.Type != zhttp.KeepAlive || k.Seq != 1 {
		t.Fatalf("%+v", k)
	}
	// Our keep-alive refreshes the session.
	ka := later("k1", 1)
	ka.Type = zhttp.KeepAlive
	e.sendStream(ka)
	waitFor(t, "expiry", func() bool { return e.srv.OpenSessions() == 0 })
}

func TestMaxOpenRequests(t *testing.T) {
	release := make(chan struct{})
	hits := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- r.URL.Path
		if r.URL.Path == "/first" {
			<-release
		}
	}))
	defer srv.Close()
	e := startEnv(t, func(c *config.Config, o *Options) { c.MaxOpenRequests = 1 })
	e.send(req("o1", "GET", srv.URL+"/first"))
	e.recv()
	if h := <-hits; h != "/first" {
		t.Fatal(h)
	}
	e.send(req("o2", "GET", srv.URL+"/second"))
	select {
	case h := <-hits:
		t.Fatalf("second request started at the cap: %s", h)
	case <-time.After(150 * time.Millisecond):
	}
	close(release)
	if h := <-hits; h != "/second" {
		t.Fatal(h)
	}
}

func TestMalformedPackets(t *testing.T) {
	e := startEnv(t)
	// a wrongly typed field with from and id → bad-request
	body := "4:from,6:tester,2:id,2:b1,3:seq,1:0#6:stream,1:x,"
	if err := e.in.SendRaw([]byte(fmt.Sprintf("T%d:%s}", len(body), body))); err != nil {
		t.Fatal(err)
	}
	if r := e.recv(); r.Type != zhttp.Error || r.Condition != zhttp.CondBadRequest || string(r.ID) != "b1" {
		t.Fatalf("%+v", r)
	}
	// garbage and unknown formats are dropped
	for _, m := range []string{"", "X{}", "T12:garbage", "J{not json"} {
		if err := e.in.SendRaw([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	e.expectNone(100 * time.Millisecond)
}

func TestShutdownRemovesIPCFiles(t *testing.T) {
	dir, err := os.MkdirTemp("", "zu")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.Defaults()
	cfg.InstanceID = "zurl-stop"
	cfg.InSpec, cfg.InStreamSpec, cfg.OutSpec = "ipc://"+dir+"/in", "ipc://"+dir+"/is", "ipc://"+dir+"/out"
	srv, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	waitFor(t, "ipc files", func() bool {
		_, err := os.Stat(dir + "/out")
		return err == nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"in", "is", "out"} {
		if _, err := os.Stat(dir + "/" + f); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", f, err)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
