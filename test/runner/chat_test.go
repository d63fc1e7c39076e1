//go:build e2e

package runner

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/test/harness"
)

// buildExample builds examples/backend into the test's temp dir.
func buildExample(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "example-backend")
	cmd := exec.Command(goBin, "build", "-o", out, "github.com/pushpin-go/pushpin/examples/backend")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build examples/backend: %v\n%s", err, b)
	}
	return out
}

// TestChat runs the example backend's WebSocket-over-HTTP chat behind the
// stack, as `make run` does: two clients join the room and each message
// either sends reaches both (the backend publishes it to the room).
func TestChat(t *testing.T) {
	bin := buildExample(t)
	addr := "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))
	e := startOurs(t, func(*harness.Origin) []string {
		return []string{"*,proto=ws,path_beg=/chat " + addr + ",over_http", "* " + addr}
	}, nil)
	harness.StartProcess(t, harness.ProcessSpec{
		Name: "example-backend", Path: bin,
		Args:   []string{"--addr", addr, "--publish-url", e.ControlURL() + "/publish/"},
		Output: filepath.Join(e.LogDir, "example-backend.out"),
	})
	if err := harness.WaitTCP(wait, addr); err != nil {
		t.Fatal(err)
	}

	// The backend's plain pages go through the stack too.
	if r := get(t, e.HTTPURL()+"/"); r.Status != 200 || !strings.HasPrefix(string(r.Body), "Example backend") {
		t.Fatalf("GET /: %d %q", r.Status, r.Body)
	}

	a := harness.DialWS(t, e.WSURL()+"/chat")
	b := harness.DialWS(t, e.WSURL()+"/chat")
	e.waitSubscribers(t, "room", stats.ModeWS, 2)
	say := func(from *harness.WSConn, msg string) {
		t.Helper()
		if err := from.WriteText(msg); err != nil {
			t.Fatal(err)
		}
		for i, c := range []*harness.WSConn{a, b} {
			typ, got, err := c.Read(wait)
			if err != nil || typ != websocket.TextMessage || string(got) != msg {
				t.Fatalf("client %d: got %d %q %v, want %q", i, typ, got, err, msg)
			}
		}
	}
	say(a, "hello from a")
	say(b, "hi from b")
	say(a, "bye")
}
