package connmgr

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Malformed requests get a status before the close (condure closes
// silently); nothing reaches the responder.
func TestMalformedRequests(t *testing.T) {
	e := start(t, func(c *Config) { c.BufferSize = 1024 })
	tests := []struct {
		name, req, status string
	}{
		{"garbage", "HELLO\r\n\r\n", "400"},
		{"bad header", "GET / HTTP/1.1\r\nNo colon\r\n\r\n", "400"},
		{"http2", "GET / HTTP/2.0\r\n\r\n", "505"},
		{"huge head", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", "431"},
		{"te and cl", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
		{"bad cl", "POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", "400"},
		{"bad ws handshake", "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", "400"},
	}
	for _, tc := range tests {
		c := e.dial()
		c.Write([]byte(tc.req))
		out := readAll(t, c)
		if !strings.HasPrefix(out, "HTTP/1.1 "+tc.status+" ") {
			t.Errorf("%s: got %q", tc.name, out)
		}
	}
	e.expectNone(100 * time.Millisecond)
	if got := e.srv.Stats().BadRequests; got != uint64(len(tests)) {
		t.Errorf("BadRequests = %d", got)
	}
}

// A client dribbling its head is cut off at HeadTimeout with 408.
func TestSlowloris(t *testing.T) {
	e := start(t, func(c *Config) { c.HeadTimeout = 300 * time.Millisecond })
	c := e.dial()
	c.Write([]byte("GET / HTTP/1.1\r\n"))
	go func() {
		for i := 0; i < 20; i++ {
			time.Sleep(50 * time.Millisecond)
			if _, err := c.Write([]byte("X: y\r\n")); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	out := readAll(t, c)
	if !strings.HasPrefix(out, "HTTP/1.1 408 ") || time.Since(start) > 3*time.Second {
		t.Fatalf("got %q after %v", out, time.Since(start))
	}
}

// At --stream-maxconn a further client is refused with 503 and counted;
// the held one is unaffected.
func TestStreamMaxConn(t *testing.T) {
	e := start(t, func(c *Config) { c.StreamMaxConn, c.Workers = 1, 1 })
	e.waitIdle() // the readiness probe's connection may still be closing
	c := e.dial()
	fmt.Fprintf(c, "GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	s, _ := e.request()
	deadline := time.Now().Add(wait)
	for e.srv.Stats().Refused == 0 && time.Now().Before(deadline) {
		c2 := e.dial()
		out := readAll(t, c2)
		if out != "" && !strings.HasPrefix(out, "HTTP/1.1 503 ") {
			t.Fatalf("got %q", out)
		}
	}
	if e.srv.Stats().Refused == 0 {
		t.Fatal("no refusal counted")
	}
	s.respond(200, "still here", false)
	_, body := readResponse(t, c, bufio.NewReader(c), "GET")
	if body != "still here" {
		t.Fatalf("held connection broken: %q", body)
	}
}

// Two instances with distinct ids share one port (SO_REUSEPORT).
func TestReusePort(t *testing.T) {
	e := start(t, func(c *Config) { c.ID = "c1" })
	srv2, err := New(Config{ID: "c2", Listen: []Listener{{Addr: e.addr}},
		ZClientStream: []string{"ipc://" + t.TempDir() + "/c2"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv2.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-srv2.Ready():
	case err := <-done:
		t.Fatalf("second instance could not share the port: %v", err)
	}
}

// req mode: whole request in one DEALER packet, one response packet;
// WebSockets are refused with condure's message.
func TestReqMode(t *testing.T) {
	dir := t.TempDir()
	e := start(t, func(c *Config) {
		c.Listen = []Listener{{Addr: "127.0.0.1:0", Mode: ModeReq}}
		c.ZClientReq = []string{"ipc://" + dir + "/req"}
	})
	zc, err := zmqx.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	got := make(chan [][]byte, 4)
	router, err := zmqx.NewActor(context.Background(), zc, zmqx.Config{
		Type: zmq4.ROUTER, Endpoint: zmqx.Endpoint{Specs: []string{"ipc://" + dir + "/req"}},
		Handler: func(_ *zmqx.Actor, msg [][]byte) {
			cp := make([][]byte, len(msg))
			copy(cp, msg)
			got <- cp
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial()
	fmt.Fprintf(c, "POST /x?y HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
	var msg [][]byte
	select {
	case msg = <-got:
	case <-time.After(wait):
		t.Fatal("no req packet")
	}
	var p zhttp.Packet
	if len(msg) != 3 || len(msg[1]) != 0 {
		t.Fatalf("frames %q", msg)
	}
	if _, err := zhttp.Decode(msg[2], &p); err != nil {
		t.Fatal(err)
	}
	if p.From != nil || p.Has&zhttp.HasSeq != 0 || string(p.Body) != "abc" || p.URI != "http://h/x?y" || p.Method != "POST" {
		t.Fatalf("req packet %+v", p)
	}
	resp := zhttp.Packet{ID: p.ID, Reason: "OK", Body: []byte("req ok\n")}
	resp.SetCode(200)
	router.Send(context.Background(), [][]byte{msg[0], nil, zhttp.AppendT(nil, &resp)})
	r, body := readResponse(t, c, bufio.NewReader(c), "POST")
	if r.StatusCode != 200 || body != "req ok\n" {
		t.Fatalf("%v %q", r, body)
	}
	c2 := e.dial()
	fmt.Fprintf(c2, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	if out := readAll(t, c2); !strings.HasPrefix(out, "HTTP/1.1 400 ") || !strings.HasSuffix(out, wsReqModeBody) {
		t.Fatalf("got %q", out)
	}
}

// writeIdentity writes a self-signed certificate as <dir>/<name>.crt/.key.
func writeIdentity(t *testing.T, dir, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{name}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// TLS: SNI picks <name>.crt, else default-cert; the uri scheme is https.
func TestTLS(t *testing.T) {
	certs := t.TempDir()
	writeIdentity(t, certs, "default_test")
	writeIdentity(t, certs, "sni.example")
	e := start(t, func(c *Config) {
		c.Listen = append(c.Listen, Listener{Addr: "127.0.0.1:0", TLS: true, DefaultCert: "default_test"})
		c.TLSIdentitiesDir = certs
	})
	addr := e.srv.Addrs()[1].String()
	for _, sni := range []string{"", "sni.example"} {
		conf := &tls.Config{InsecureSkipVerify: true, ServerName: sni}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		want := "default_test"
		if sni != "" {
			want = sni
		}
		if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != want {
			t.Fatalf("certificate %q, want %q", cn, want)
		}
		fmt.Fprintf(c, "GET /tls HTTP/1.1\r\nHost: secure\r\n\r\n")
		s, m := e.request()
		if m.Packet.URI != "https://secure/tls" {
			t.Fatalf("uri %q", m.Packet.URI)
		}
		s.respond(200, "tls ok", false)
		_, body := readResponse(t, c, bufio.NewReader(c), "GET")
		c.Close()
		if body != "tls ok" {
			t.Fatalf("body %q", body)
		}
	}
}

// A local (unix socket) listener serves like a TCP one.
func TestUnixListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	e := start(t, func(c *Config) { c.Listen = []Listener{{Addr: path, Local: true}} })
	c := e.dial()
	fmt.Fprintf(c, "GET /u HTTP/1.1\r\nHost: h\r\n\r\n")
	s, m := e.request()
	if m.Packet.PeerAddress != "" {
		t.Fatalf("peer-address on a unix socket: %v", m)
	}
	s.respond(200, "unix", false)
	if _, body := readResponse(t, c, bufio.NewReader(c), "GET"); body != "unix" {
		t.Fatalf("%q", body)
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		in   string
		want Listener
		err  bool
	}{
		{"8000", Listener{Addr: "0.0.0.0:8000"}, false},
		{"127.0.0.1:27999,stream", Listener{Addr: "127.0.0.1:27999"}, false},
		{"127.0.0.1:27443,stream,tls,default-cert=default_27443", Listener{Addr: "127.0.0.1:27443", TLS: true, DefaultCert: "default_27443"}, false},
		{"/run/x/pushpin-server,local,stream", Listener{Addr: "/run/x/pushpin-server", Local: true}, false},
		{"[::1]:80,req", Listener{Addr: "[::1]:80", Mode: ModeReq}, false},
		{"", Listener{}, true},
		{"1:2:3", Listener{}, true},
		{"80,bogus", Listener{}, true},
		{"host:99999", Listener{}, true},
	}
	for _, tc := range tests {
		got, err := ParseListen(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"id with space":  {ID: "a b"},
		"tiny buffer":    {BufferSize: 10},
		"bad spec":       {ZClientStream: []string{"nope"}},
		"too many works": {Workers: 5000},
		// condure: "stream maxconn must be >= workers" (and req).
		"stream maxconn below workers": {Workers: 4, StreamMaxConn: 3},
		"req maxconn below workers":    {Workers: 4, ReqMaxConn: 3},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Config{}); err != nil {
		t.Fatal(err)
	}
	ep, err := streamSpecs("tcp://127.0.0.1:5000")
	if err != nil || ep.out != "tcp://127.0.0.1:5000" || ep.outStream != "tcp://127.0.0.1:5001" || ep.in != "tcp://127.0.0.1:5002" {
		t.Fatalf("%+v %v", ep, err)
	}
}
