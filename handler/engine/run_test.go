package engine

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
)

// TestRunServesAndStops starts the whole engine on ephemeral ports and a
// temp ipc dir, uses the control API and the command socket, and stops it.
func TestRunServesAndStops(t *testing.T) {
	dir := t.TempDir()
	ipc := func(n string) string { return "ipc://" + filepath.Join(dir, n) }
	cfg := Config{
		InstanceID:           "h-test",
		CondureInStreamSpecs: []string{ipc("condure-out-stream")},
		CondureOutSpecs:      []string{ipc("condure-in")},
		AcceptSpec:           ipc("accept"), InspectSpec: ipc("inspect"), RetryOutSpec: ipc("retry"),
		WSControlInSpec: ipc("wsci"), WSControlOutSpec: ipc("wsco"),
		PushInSpec: "tcp://127.0.0.1:*", PushInSubSpecs: []string{"tcp://127.0.0.1:*"},
		CommandSpec: "tcp://127.0.0.1:*", StatsSpec: ipc("stats"),
		HTTPAddr: "127.0.0.1", HTTPPort: 0,
		MessageRate: -1, MessageHWM: -1, MessageWait: time.Second,
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.HTTPPort = 0
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Endpoints, 1)
	done := make(chan error, 1)
	go func() { done <- e.RunReady(ctx, ready) }()
	var ep Endpoints
	select {
	case ep = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}

	dealer, err := zmq4.NewSocket(zmq4.DEALER)
	if err != nil {
		t.Fatal(err)
	}
	defer dealer.Close()
	_ = dealer.SetLinger(0)
	_ = dealer.SetRcvtimeo(5 * time.Second)
	if err := dealer.Connect(ep.Command); err != nil {
		t.Fatal(err)
	}
	req := zrpc.Request{ID: "1", Method: "get-zmq-uris"}
	if _, err := dealer.SendMessage("", req.Encode()); err != nil {
		t.Fatal(err)
	}
	frames, err := dealer.RecvMessageBytes(0)
	if err != nil {
		t.Fatalf("command: %v", err)
	}
	resp, err := zrpc.DecodeResponse(frames[len(frames)-1])
	if err != nil || !resp.Success {
		t.Fatalf("get-zmq-uris: %v %+v", err, resp)
	}
	if v, _ := resp.Value.Get("publish-pull"); v.Kind != tnetstring.String {
		t.Errorf("no publish-pull in %v", resp.Value)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
	_ = ep
}

func TestControlAPIInProcess(t *testing.T) {
	e, err := New(Config{
		InstanceID: "h", CondureInStreamSpecs: []string{"x"}, CondureOutSpecs: []string{"x"},
		AcceptSpec: "x", InspectSpec: "x", RetryOutSpec: "x", HTTPMaxBodySize: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.ctx = context.Background()
	tests := []struct {
		method, path, body, accept string
		code                       int
		want                       string
	}{
		{"GET", "/", "", "", 200, "Pushpin API\n"},
		{"POST", "/publish/", `{"items":[{"channel":"a","formats":{"http-stream":{"content":"x"}}},{"channel":"b"}]}`, "", 400, "Invalid format: no formats specified (item 1)\n"},
		{"POST", "/publish/", strings.Repeat("x", 200), "", 413, "Request entity too large.\n"},
		{"POST", "/publish/", `{"items":[]}`, "application/json", 200, "{\"message\":\"Published\"}\n"},
		{"PUT", "/publish/", ``, "", 405, "Method not allowed: PUT.\n"},
		{"POST", "/x", ``, "", 404, "Not Found\n"},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(tt.method, "http://h"+tt.path, strings.NewReader(tt.body))
		r.Header.Set("Content-Length", "1")
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		w := &recorder{h: http.Header{}}
		e.serveControl(w, r)
		if w.code != tt.code || w.body.String() != tt.want {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, w.code, w.body.String(), tt.code, tt.want)
		}
	}
	// Drain what was posted for the loop.
	for len(e.calls) > 0 {
		<-e.calls
	}
}

type recorder struct {
	h    http.Header
	code int
	body strings.Builder
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) WriteHeader(c int)           { r.code = c }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

var _ io.Writer = (*recorder)(nil)
