package responder

import (
	"bufio"
	"context"
	"crypto/x509"
	"io"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/test/zurl/zclient"
	"github.com/pushpin-go/pushpin/zurl/config"
	"github.com/pushpin-go/pushpin/zurl/policy"
	"github.com/pushpin-go/pushpin/zurl/zlog"
)

const testZurlID = "zurl-test"

type testEnv struct {
	t    testing.TB
	srv  *Server
	cfg  config.Config
	dir  string
	in   *zclient.Initiator
	done chan error
}

type envOpt func(*config.Config, *Options)

// startEnv runs a responder on ipc sockets in a short temp dir (ipc paths
// are limited to ~100 bytes) and connects an initiator.
func startEnv(t *testing.T, opts ...envOpt) *testEnv { return startEnvTB(t, true, opts...) }

// startEnvB is startEnv for benchmarks (no per-line logging).
func startEnvB(b *testing.B, opts ...envOpt) *testEnv { return startEnvTB(b, false, opts...) }

func startEnvTB(t testing.TB, logs bool, opts ...envOpt) *testEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "zu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := config.Defaults()
	cfg.InstanceID = testZurlID
	cfg.InSpec = "ipc://" + filepath.Join(dir, "in")
	cfg.InStreamSpec = "ipc://" + filepath.Join(dir, "is")
	cfg.OutSpec = "ipc://" + filepath.Join(dir, "out")
	cfg.InReqSpec = "ipc://" + filepath.Join(dir, "req")
	cfg.Policy = policy.New(policy.Allow, nil, nil)
	o := Options{}
	if logs {
		o.Log = zlog.New(testWriter{t}, zlog.Debug)
	}
	for _, f := range opts {
		f(&cfg, &o)
	}
	o.Config = cfg
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &testEnv{t: t, srv: srv, cfg: cfg, dir: dir, done: make(chan error, 1)}
	go func() { e.done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("server did not stop")
		}
	})
	in, err := zclient.Dial("tester", testZurlID, cfg.InSpec, cfg.InStreamSpec, cfg.OutSpec, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	e.in = in
	return e
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func (e *testEnv) send(p *zhttp.Packet) {
	e.t.Helper()
	if err := e.in.Send(p); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) sendStream(p *zhttp.Packet) {
	e.t.Helper()
	if err := e.in.SendStream(p); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) recv() *zhttp.Packet {
	e.t.Helper()
	p, err := e.in.Recv(5 * time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// expectNone checks that nothing arrives within d.
func (e *testEnv) expectNone(d time.Duration) {
	e.t.Helper()
	if p, err := e.in.Recv(d); err == nil {
		e.t.Fatalf("unexpected packet %+v", p)
	}
}

// req builds a first packet.
func req(id, method, uri string) *zhttp.Packet {
	p := &zhttp.Packet{ID: []byte(id), Method: method, URI: uri, Stream: true}
	p.SetSeq(0)
	p.SetCredits(100000)
	return p
}

// later builds a later packet.
func later(id string, seq int) *zhttp.Packet {
	p := &zhttp.Packet{ID: []byte(id)}
	p.SetSeq(seq)
	return p
}

// collect reads response packets of a streamed HTTP response until one
// without more, granting credits as it goes; it returns the head packet and
// the body.
func (e *testEnv) collect(id string, credit bool, seq *int) (*zhttp.Packet, []byte) {
	e.t.Helper()
	var head *zhttp.Packet
	var body []byte
	for i := 0; i < 10000; i++ {
		p := e.recv()
		if p.Type == zhttp.KeepAlive || p.Type == zhttp.Credit {
			continue
		}
		if p.Type != zhttp.Data {
			e.t.Fatalf("got %s %s", p.Type, p.Condition)
		}
		if head == nil {
			head = p
		}
		body = append(body, p.Body...)
		if !p.More {
			return head, body
		}
		if credit && len(p.Body) > 0 {
			c := later(id, *seq)
			*seq++
			c.Type = zhttp.Credit
			c.SetCredits(len(p.Body))
			e.sendStream(c)
		}
	}
	e.t.Fatal("response never ended")
	return nil, nil
}

func header(p *zhttp.Packet, name string) string {
	v, _ := p.Header(name)
	return v
}

// rawOrigin is a TCP origin that records each request head and answers
// with a canned response.
type rawOrigin struct {
	ln    net.Listener
	conns []net.Conn
	mu    sync.Mutex
	reqs  []string
	resp  func(req string) string
	wg    sync.WaitGroup
}

func newRawOrigin(t *testing.T, resp func(req string) string) *rawOrigin {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{ln: ln, resp: resp}
	o.wg.Add(1)
	go func() { // owner: o; stopped by closing ln in Cleanup
		defer o.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.mu.Lock()
			o.conns = append(o.conns, c)
			o.mu.Unlock()
			o.wg.Add(1)
			go func() {
				defer o.wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					var b strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						b.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					r := b.String()
					if strings.Contains(strings.ToLower(r), "content-length: ") {
						// read the fixed-length body
						for _, l := range strings.Split(r, "\r\n") {
							if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, "Content-Length") {
								n := 0
								for _, ch := range v {
									n = n*10 + int(ch-'0')
								}
								buf := make([]byte, n)
								if _, err := io.ReadFull(br, buf); err != nil {
									return
								}
								r += string(buf)
							}
						}
					}
					o.mu.Lock()
					o.reqs = append(o.reqs, r)
					o.mu.Unlock()
					if _, err := c.Write([]byte(o.resp(r))); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		o.mu.Lock()
		for _, c := range o.conns {
			c.Close()
		}
		o.mu.Unlock()
		o.wg.Wait()
	})
	return o
}

func (o *rawOrigin) url(path string) string { return "http://" + o.ln.Addr().String() + path }

func (o *rawOrigin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.reqs...)
}

// staticResolver maps names to fixed addresses.
type staticResolver map[string][]netip.Addr

func (r staticResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func poolOf(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

func policyDeny(exps ...string) *policy.Policy { return policy.New(policy.Allow, nil, exps) }
