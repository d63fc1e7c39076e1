//go:build e2e

package zurl

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/test/harness"
)

// TestPushpinWithOurZurl runs Debian's Pushpin (runner, condure, proxy,
// handler) once with Debian's zurl and once with ours as zurl_bin, and
// checks that clients see the same results for plain proxying, large
// bodies both ways, streamed responses, GRIP holds and WebSocket proxying.
func TestPushpinWithOurZurl(t *testing.T) {
	harness.RequireDebian(t, harness.Runner, harness.Condure, harness.Proxy, harness.Handler, harness.Zurl)
	var results [2][]string
	for i, impl := range []harness.Impl{harness.Debian, harness.Ours} {
		t.Run(impl.String(), func(t *testing.T) {
			results[i] = pushpinScenarios(t, impl)
		})
	}
	if len(results[0]) != len(results[1]) {
		t.Fatalf("different number of results: %d vs %d", len(results[0]), len(results[1]))
	}
	for j := range results[0] {
		if results[0][j] != results[1][j] {
			t.Errorf("result %d differs:\n debian: %s\n ours:   %s", j, results[0][j], results[1][j])
		}
	}
}

const bigSize = 5 << 20

func pushpinScenarios(t *testing.T, zurl harness.Impl) []string {
	o := harness.NewOrigin(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), bigSize/16)
	o.Handle("/plain", harness.Text(200, "hello\n", "X-Origin", "1"))
	o.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	o.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %x", len(b), sha256.Sum256(b))
	})
	chunks := make(chan string, 3)
	o.Handle("/stream", harness.StreamFrom("text/plain", chunks))
	o.Handle("/hold", harness.GripHold("response", "zurltest", "text/plain", "timeout\n"))
	o.Handle("/ws", harness.WSEcho("echo:"))

	in := harness.Stack{
		Runner: harness.Debian, Condure: harness.Debian, Proxy: harness.Debian, Handler: harness.Debian,
		Zurl: zurl, Routes: []string{"* " + o.Target()},
	}.Start(t)
	var out []string
	note := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	base := in.HTTPURL()

	r := harness.Get(t, base+"/plain?x=1")
	note("plain: %d %q X-Origin=%q", r.Status, r.Body, r.Header.Get("X-Origin"))

	r = harness.Get(t, base+"/big")
	note("big: %d %d %x", r.Status, len(r.Body), sha256.Sum256(r.Body))

	up := bytes.Repeat([]byte("u"), 3<<20)
	r = harness.Post(t, base+"/upload", "application/octet-stream", up)
	note("upload: %d %s", r.Status, r.Body)

	s := harness.OpenStream(t, harness.NewRequest(t, "GET", base+"/stream", nil))
	for _, c := range []string{"one\n", "two\n", "three\n"} {
		chunks <- c
		got, err := s.ReadUntil(c, 10*time.Second)
		note("stream chunk %q: %v", strings.TrimSpace(got), err)
	}
	close(chunks)
	rest, err := s.ReadAll(10 * time.Second)
	note("stream end %q %v", rest, err)

	held := make(chan string, 1)
	holdReq := harness.NewRequest(t, "GET", base+"/hold", nil)
	go func() { // owner: this test; ends with the request (bounded by the client timeout)
		r, err := harness.DoErr(holdReq, 20*time.Second)
		if err != nil {
			held <- err.Error()
			return
		}
		held <- fmt.Sprintf("%d %q", r.Status, r.Body)
	}()
	in.Stats.WaitSubscribed(t, "zurltest", 10*time.Second)
	harness.Publish(t, in.ControlURL(), harness.HTTPResponseItem("zurltest", "published\n"))
	select {
	case h := <-held:
		note("hold: %s", h)
	case <-time.After(20 * time.Second):
		note("hold: no response")
	}

	ws := harness.DialWS(t, in.WSURL()+"/ws")
	for _, m := range []string{"hi", strings.Repeat("w", 100000)} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			note("ws write: %v", err)
			break
		}
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		typ, msg, err := ws.ReadMessage()
		note("ws echo: %d %d %q %v", typ, len(msg), msg[:min(len(msg), 12)], err)
	}
	ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	typ, msg, err := ws.ReadMessage()
	note("ws binary: %d %q %v", typ, msg, err)
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"), time.Now().Add(time.Second))
	_, _, err = ws.ReadMessage()
	note("ws close: %v", err)
	return out
}
