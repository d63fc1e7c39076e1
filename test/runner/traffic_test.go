//go:build e2e

package runner

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/test/harness"
)

// waitSubscribers waits for the handler's stats to report at least n
// subscribers of channel in mode (stats.ModeStream, …), i.e. until a
// publish reaches every one of them.
func (e *env) waitSubscribers(t *testing.T, channel, mode string, n int) {
	t.Helper()
	_, err := e.Stats.WaitFor(wait, fmt.Sprintf("%d %s subscriber(s) of %q", n, mode, channel), func(p stats.Packet) bool {
		s, ok := p.(*stats.Sub)
		return ok && s.Channel == channel && s.Mode == mode && !s.Unavailable && s.Subscribers >= n
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
}

// TestTraffic drives one all-ours stack, started by our runner, with the
// client scenarios of issue 7: plain proxying, long-poll, HTTP streaming,
// SSE, next links and WebSocket passthrough.
func TestTraffic(t *testing.T) {
	e := startOurs(t, func(o *harness.Origin) []string {
		return []string{"*,proto=ws " + o.Target(), "* " + o.Target()}
	}, nil)

	t.Run("plain", func(t *testing.T) {
		e.origin.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Origin", "yes")
			fmt.Fprintf(w, "%s %s %q sig=%v", r.Method, r.URL.RequestURI(), body, r.Header.Get("Grip-Sig") != "")
		})
		r := get(t, e.HTTPURL()+"/plain?x=1")
		if r.Status != 200 || string(r.Body) != `GET /plain?x=1 "" sig=true` || r.Header.Get("X-Origin") != "yes" {
			t.Fatalf("GET: %d %q %v", r.Status, r.Body, r.Header)
		}
		r = harness.Post(t, e.HTTPURL()+"/plain", "text/plain", []byte("hello"))
		if r.Status != 200 || string(r.Body) != `POST /plain "hello" sig=true` {
			t.Fatalf("POST: %d %q", r.Status, r.Body)
		}
	})

	t.Run("plain large body", func(t *testing.T) {
		knownBug(t, "fails about 1 run in 5: our proxy keeps sending credits to zurl after zurl's last response packet, zurl answers cancel for the finished session, and the proxy then aborts the client response mid-body (e.g. 868352 of 1000000 bytes)")
		big := strings.Repeat("0123456789", 100_000)
		e.origin.Handle("/big", harness.Text(200, big))
		r := get(t, e.HTTPURL()+"/big")
		if r.Status != 200 || string(r.Body) != big {
			t.Fatalf("GET /big: %d, %d bytes", r.Status, len(r.Body))
		}
	})

	t.Run("long-poll publish", func(t *testing.T) {
		e.origin.Handle("/lp", harness.GripHold("response", "lp", "text/plain", "timeout\n"))
		got := make(chan *harness.Response, 1)
		errc := make(chan error, 1)
		req := harness.NewRequest(t, http.MethodGet, e.HTTPURL()+"/lp", nil)
		// Owner: this subtest, which receives from got or errc before
		// returning (the request is bounded by its client timeout).
		go func() {
			r, err := harness.DoErr(req, 2*wait)
			if err != nil {
				errc <- err
				return
			}
			got <- r
		}()
		e.waitSubscribers(t, "lp", stats.ModeResponse, 1)
		// The handler re-requests a response hold from the origin once,
		// 1 s after a channel's first subscription (Pushpin does the same);
		// a publish landing in that gap has no session to reach, so publish
		// until the held request answers — which is what a publisher that
		// cares about delivery does with long-polling.
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			harness.Publish(t, e.ControlURL(), harness.HTTPResponseItem("lp", "news\n"))
			select {
			case r := <-got:
				if r.Status != 200 || string(r.Body) != "news\n" {
					t.Fatalf("long-poll: %d %q", r.Status, r.Body)
				}
				return
			case err := <-errc:
				t.Fatalf("long-poll: %v", err)
			case <-tick.C:
			}
			if i > int(wait/(200*time.Millisecond)) {
				t.Fatalf("long-poll: no response to publishes within %v", wait)
			}
		}
	})

	t.Run("long-poll timeout", func(t *testing.T) {
		e.origin.Handle("/lpt", harness.GripHold("response", "lpt", "text/plain", "timed out\n", "Grip-Timeout", "1"))
		r := get(t, e.HTTPURL()+"/lpt")
		if r.Status != 200 || string(r.Body) != "timed out\n" || r.Header.Get("Grip-Hold") != "" {
			t.Fatalf("long-poll timeout: %d %q %v", r.Status, r.Body, r.Header)
		}
	})

	t.Run("stream", func(t *testing.T) {
		e.origin.Handle("/stream", harness.GripHold("stream", "st", "text/plain", "start\n"))
		s := openStream(t, e.HTTPURL()+"/stream")
		if _, err := s.ReadUntil("start\n", wait); err != nil {
			t.Fatal(err)
		}
		e.waitSubscribers(t, "st", stats.ModeStream, 1)
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("st", "one\n"))
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("st", "two\n"))
		if got, err := s.ReadUntil("two\n", wait); err != nil || got != "one\ntwo\n" {
			t.Fatalf("stream: %q %v", got, err)
		}
		harness.Publish(t, e.ControlURL(), map[string]any{"channel": "st", "formats": map[string]any{"http-stream": map[string]any{"action": "close"}}})
		if rest, err := s.ReadAll(wait); err != nil || rest != "" {
			t.Fatalf("stream close: %q %v", rest, err)
		}
		if te := s.Resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
			t.Errorf("stream framing: %v", te)
		}
	})

	t.Run("sse keep-alive", func(t *testing.T) {
		e.origin.Handle("/sse", harness.GripHold("stream", "sse", "text/event-stream", ": open\n\n",
			"Grip-Keep-Alive", `: keep-alive\n\n; format=cstring; timeout=1`))
		s := openStream(t, e.HTTPURL()+"/sse")
		if ct := s.Resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %q", ct)
		}
		if _, err := s.ReadUntil(": open\n\n", wait); err != nil {
			t.Fatal(err)
		}
		// Idle for the keep-alive timeout: the keep-alive is sent.
		if _, err := s.ReadUntil(": keep-alive\n\n", wait); err != nil {
			t.Fatalf("keep-alive: %v", err)
		}
		e.waitSubscribers(t, "sse", stats.ModeStream, 1)
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("sse", "event: msg\ndata: hello\n\n"))
		ev, err := s.NextEvent(wait)
		if err != nil || ev.Event != "msg" || ev.Data != "hello" {
			t.Fatalf("event: %+v %v", ev, err)
		}
		if _, err := s.ReadUntil(": keep-alive\n\n", wait); err != nil {
			t.Fatalf("keep-alive after event: %v", err)
		}
	})

	t.Run("next links", func(t *testing.T) {
		// /nl1 has no hold: its body goes to the client and the handler
		// follows its Grip-Link to /nl2 (a chunked body of unknown length),
		// then to /nl3, which holds the stream on a channel.
		e.origin.Handle("/nl1", harness.Text(200, "page1\n", "Grip-Link", "</nl2>; rel=next"))
		e.origin.HandleFunc("/nl2", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Grip-Link", "</nl3>; rel=next")
			w.WriteHeader(http.StatusOK)
			for i := range 3 {
				fmt.Fprintf(w, "page2 part %d\n", i)
				w.(http.Flusher).Flush()
			}
		})
		e.origin.Handle("/nl3", harness.GripHold("stream", "nl", "text/plain", "page3\n"))
		s := openStream(t, e.HTTPURL()+"/nl1")
		want := "page1\npage2 part 0\npage2 part 1\npage2 part 2\npage3\n"
		if got, err := s.ReadUntil("page3\n", wait); err != nil || got != want {
			t.Fatalf("next links: %q %v", got, err)
		}
		e.waitSubscribers(t, "nl", stats.ModeStream, 1)
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("nl", "pushed\n"))
		if got, err := s.ReadUntil("pushed\n", wait); err != nil || got != "pushed\n" {
			t.Fatalf("publish after next links: %q %v", got, err)
		}
	})

	t.Run("next link unlimited body", func(t *testing.T) {
		knownBug(t, "our handler buffers a next link's response until it is complete (handler/engine/nextlink.go handleIntreq), so an unlimited body never reaches the client; Pushpin streams each part")
		// The linked body has no end until the test says so: each part
		// must reach the client before the next one is written.
		part := make(chan string)
		e.origin.Handle("/ul1", harness.Text(200, "first\n", "Grip-Link", "</ul2>; rel=next"))
		e.origin.HandleFunc("/ul2", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			for {
				select {
				case p, ok := <-part:
					if !ok {
						return
					}
					io.WriteString(w, p)
					w.(http.Flusher).Flush()
				case <-r.Context().Done():
					return
				}
			}
		})
		s := openStream(t, e.HTTPURL()+"/ul1")
		defer close(part)
		if _, err := s.ReadUntil("first\n", wait); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			p := fmt.Sprintf("part %d\n", i)
			select {
			case part <- p:
			case <-time.After(wait):
				t.Fatalf("the handler did not fetch /ul2")
			}
			if got, err := s.ReadUntil(p, wait); err != nil || got != p {
				t.Fatalf("streamed next link: %q %v", got, err)
			}
		}
	})

	t.Run("websocket passthrough", func(t *testing.T) {
		e.origin.Handle("/echo", harness.WSEcho("echo:"))
		c := harness.DialWS(t, e.WSURL()+"/echo")
		// Up to client_buffer_size (8192) bytes per message: see
		// "websocket large message".
		for _, m := range []string{"hello", strings.Repeat("x", 8000)} {
			if err := c.WriteText(m); err != nil {
				t.Fatal(err)
			}
			typ, got, err := c.Read(wait)
			if err != nil || typ != websocket.TextMessage || string(got) != "echo:"+m {
				t.Fatalf("text: %d %q %v", typ, short(got), err)
			}
		}
		if err := c.WriteBinary([]byte{0, 1, 2}); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(wait)
		if err != nil || typ != websocket.BinaryMessage || string(got) != "echo:\x00\x01\x02" {
			t.Fatalf("binary: %d %q %v", typ, got, err)
		}
		msg := websocket.FormatCloseMessage(4001, "bye")
		if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Read(wait)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4001 {
			t.Fatalf("close: %v", err)
		}
	})
	t.Run("websocket large message", func(t *testing.T) {
		knownBug(t, "our proxy never forwards an origin WebSocket message larger than condure's credits (client_buffer_size 8192: 8193 bytes stalls; 8192 passes) — Pushpin's proxy splits it into frames")
		e.origin.Handle("/echo", harness.WSEcho("echo:"))
		c := harness.DialWS(t, e.WSURL()+"/echo")
		m := strings.Repeat("y", 100_000)
		if err := c.WriteText(m); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.Read(wait); err != nil || string(got) != "echo:"+m {
			t.Fatalf("100000-byte message: %q %v", short(got), err)
		}
	})
}
