package harness

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const wait = 5 * time.Second

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		p := FreePort(t)
		if reservedPorts[p] {
			t.Fatalf("got Pushpin default port %d", p)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

func TestPushpinConf(t *testing.T) {
	c := NewConfig(t)
	c.Extra = map[string]map[string]string{
		"proxy":  {"debug": "true", "log_from": "true"},
		"custom": {"k": "v"},
	}
	conf := c.PushpinConf()
	for _, want := range []string{
		"include={libdir}/internal.conf\n",
		"rundir=" + c.RunDir + "\n",
		"services=condure,zurl,pushpin-proxy,pushpin-handler\n",
		"http_port=127.0.0.1:",
		"zurl_out_specs=ipc://{rundir}/{ipc_prefix}zurl-in\n",
		"zurl_out_stream_specs=ipc://{rundir}/{ipc_prefix}zurl-in-stream\n",
		"zurl_in_specs=ipc://{rundir}/{ipc_prefix}zurl-out\n",
		"debug=true\n",
		"log_from=true\n",
		"[custom]\nk=v\n",
		"push_in_http_port=",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("pushpin.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "debug=false") {
		t.Errorf("Extra did not replace debug=false:\n%s", conf)
	}
	for _, bad := range []string{":5560", ":5561\n", ":5562", ":5563", ":7999", "=5561\n", "/var/run", "/var/log"} {
		if strings.Contains(conf, bad) {
			t.Errorf("pushpin.conf contains %q:\n%s", bad, conf)
		}
	}
	z := c.ZurlConf()
	for _, want := range []string{"in_spec=" + c.IPC("zurl-in") + "\n", "deny=\n", "out_spec=" + c.IPC("zurl-out") + "\n"} {
		if !strings.Contains(z, want) {
			t.Errorf("zurl.conf lacks %q:\n%s", want, z)
		}
	}
}

func TestParseSSE(t *testing.T) {
	tests := []struct {
		in   string
		want SSEEvent
		ok   bool
	}{
		{"data: a\n\n", SSEEvent{Data: "a"}, true},
		{"event: e\nid: 7\ndata: a\ndata: b\n\n", SSEEvent{Event: "e", ID: "7", Data: "a\nb"}, true},
		{": keep-alive\n\n", SSEEvent{}, false},
		{"data:x\r\n\r\n", SSEEvent{Data: "x"}, true},
		{"\n", SSEEvent{}, false},
	}
	for _, tt := range tests {
		got, ok := parseSSE(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSSE(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// fakeTB records Fatal/Skip without stopping the real test.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	fatal   string
	skipped string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = format
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skipped = format
	f.mu.Unlock()
	runtime.Goexit()
}

func runFake(t *testing.T, fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestOursMissingFails(t *testing.T) {
	t.Setenv("PUSHPIN_GO_BIN", t.TempDir())
	f := runFake(t, func(tb testing.TB) { Binary(tb, Condure, Ours) })
	if !strings.Contains(f.fatal, "make build") {
		t.Errorf("missing binary of ours: fatal %q, want a hint to run make build", f.fatal)
	}
}

func TestDebianMissingSkips(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	f := runFake(t, func(tb testing.TB) { Binary(tb, Condure, Debian) })
	if f.skipped == "" || f.fatal != "" {
		t.Errorf("missing Debian binary: skipped %q fatal %q, want a skip", f.skipped, f.fatal)
	}
}

// exercise drives an instance through the paths every e2e test relies on:
// a plain request to an origin, a GRIP stream with a publish (and SSE), a
// long-poll, and a WebSocket through to an origin.
func exercise(t *testing.T, in *Instance, o *Origin) {
	t.Helper()
	o.Handle("/plain", Text(http.StatusOK, "plain\n"))
	resp := Get(t, in.HTTPURL()+"/plain")
	if resp.Status != http.StatusOK || string(resp.Body) != "plain\n" {
		t.Fatalf("plain: %d %q", resp.Status, resp.Body)
	}

	o.Handle("/sse", GripHold("stream", "news", "text/event-stream", "event: hello\ndata: start\n\n"))
	s := OpenStream(t, NewRequest(t, "GET", in.HTTPURL()+"/sse", nil))
	ev, err := s.NextEvent(wait)
	if err != nil || ev.Event != "hello" || ev.Data != "start" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	// The hold is set up asynchronously (proxy → handler accept): publish
	// once the handler reports the subscription.
	in.Stats.WaitSubscribed(t, "news", wait)
	Publish(t, in.ControlURL(), HTTPStreamItem("news", "event: news\ndata: extra\n\n"))
	if ev, err := s.NextEvent(wait); err != nil || ev.Event != "news" || ev.Data != "extra" {
		t.Fatalf("published event %+v, %v", ev, err)
	}
	// The same through the ZeroMQ PULL publish socket.
	PublishZMQ(t, in.PushInSpec(), HTTPStreamItem("news", "event: zmq\ndata: pushed\n\n"))
	if ev, err := s.NextEvent(wait); err != nil || ev.Event != "zmq" || ev.Data != "pushed" {
		t.Fatalf("event published over ZeroMQ %+v, %v", ev, err)
	}
	s.Close()

	o.Handle("/ws", WSEcho("echo:"))
	ws := DialWS(t, in.WSURL()+"/ws")
	if err := ws.WriteText("hi"); err != nil {
		t.Fatal(err)
	}
	typ, msg, err := ws.Read(wait)
	if err != nil || typ != websocket.TextMessage || string(msg) != "echo:hi" {
		t.Fatalf("ws echo: %d %q %v", typ, msg, err)
	}
	ws.Close()
}

func allDebian() Stack {
	return Stack{Condure: Debian, Zurl: Debian, Proxy: Debian, Handler: Debian}
}

func TestStackDirectDebian(t *testing.T) {
	RequireDebian(t, Condure, Zurl, Proxy, Handler)
	o := NewOrigin(t)
	st := allDebian()
	st.Routes = []string{"* " + o.Target()}
	in := st.Start(t)
	for _, c := range components {
		if p := in.Process(c); p == nil || !Alive(p.Pid(), "") {
			t.Fatalf("%s not running", c)
		}
	}
	exercise(t, in, o)
	in.Stop()
	for _, c := range components {
		if Alive(in.Pids[c], "") {
			t.Errorf("%s (pid %d) still running after Stop", c, in.Pids[c])
		}
	}
}

// TestStackRunnerSwapsBinaries runs "our" binaries under Debian's runner,
// with PUSHPIN_GO_BIN pointing at symlinks to Debian's binaries under our
// names: it proves the runner starts exactly the binaries the stack asked
// for (condure_bin, zurl_bin, and pushpin-proxy/pushpin-handler on PATH).
func TestStackRunnerSwapsBinaries(t *testing.T) {
	RequireDebian(t, Condure, Zurl, Proxy, Handler, Runner)
	bin := t.TempDir()
	for _, c := range components {
		if err := os.Symlink(Binary(t, c, Debian), filepath.Join(bin, c.String())); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PUSHPIN_GO_BIN", bin)
	o := NewOrigin(t)
	st := Stack{Condure: Ours, Zurl: Ours, Proxy: Ours, Handler: Ours, Runner: Debian, Verbose: true}
	st.Routes = []string{"* " + o.Target()}
	in := st.Start(t)
	for _, c := range components {
		pid := in.Pids[c]
		cmdline, err := os.ReadFile("/proc/" + itoa(pid) + "/cmdline")
		if err != nil {
			t.Fatalf("%s pid %d: %v", c, pid, err)
		}
		argv0 := strings.SplitN(string(cmdline), "\x00", 2)[0]
		if !strings.HasPrefix(argv0, bin) && !strings.HasPrefix(argv0, in.Dir) {
			t.Errorf("%s runs %q, want the binary from %s (or its PATH symlink in %s)", c, argv0, bin, in.Dir)
		}
	}
	exercise(t, in, o)
	in.Stop()
	for _, c := range components {
		if Alive(in.Pids[c], "") {
			t.Errorf("%s (pid %d) still running after Stop", c, in.Pids[c])
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
