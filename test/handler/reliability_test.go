//go:build e2e

package handler

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/test/harness"
)

// TestLongPollPrevIDRetry: a poll whose prev-id is behind the last published
// id is sent back to the origin at once with Grip-Last.
func TestLongPollPrevIDRetry(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		lastSeen := make(chan string, 16)
		e.origin.HandleFunc("/pv", func(w http.ResponseWriter, r *http.Request) {
			if gl := r.Header.Get("Grip-Last"); gl != "" {
				lastSeen <- gl
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "caught up\n")
				return
			}
			w.Header().Set("Grip-Hold", "response")
			w.Header().Set("Grip-Channel", "pv; prev-id=1")
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "timeout\n")
		})
		done := make(chan *harness.Response, 1)
		go func() {
			r, _ := harness.DoErr(harness.NewRequest(t, http.MethodGet, e.HTTPURL()+"/pv", nil), wait)
			done <- r
		}()
		e.origin.NextRequest(t, wait)
		// The 1 s subscription refresh asks the origin again, with
		// Grip-Last from the session's prev-id: the origin answers "caught
		// up" and the first poll ends. Publishing only after that (rather
		// than after a fixed pause) keeps the publish from racing the
		// refresh: it finds no subscriber either way, and the handler only
		// records id 2 as the channel's last id.
		e.origin.NextRequest(t, wait)
		var r1 *harness.Response
		select {
		case r1 = <-done:
		case <-time.After(2 * wait):
			t.Fatalf("first poll not answered within %v", 2*wait)
		}
		harness.Publish(t, e.ControlURL(), map[string]any{"channel": "pv", "id": "2", "prev-id": "1",
			"formats": map[string]any{"http-response": map[string]any{"body": "two\n"}}})
		// The next poll still says prev-id=1: the handler knows 2.
		r2 := get(t, e.HTTPURL()+"/pv")
		var gl []string
		for len(lastSeen) > 0 {
			gl = append(gl, <-lastSeen)
		}
		b1 := ""
		if r1 != nil {
			b1 = string(r1.Body)
		}
		res[implName(t)] = fmt.Sprintf("%q %q %q", b1, r2.Body, gl)
		t.Logf("%s", res[implName(t)])
	})
	res.check(t)
}

// TestNextLink: a no-hold response with Grip-Link; the linked response
// holds a stream.
func TestNextLink(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/start", harness.Text(200, "start\n", "Grip-Link", "</link2?x=1>; rel=next"))
		e.origin.Handle("/link2", harness.GripHold("stream", "lk", "text/plain", "from link2\n"))
		s := openStream(t, e, "/start")
		got1, err := s.ReadUntil("from link2\n", wait)
		if err != nil {
			all, _ := s.ReadAll(time.Second)
			t.Fatalf("link: %v %q %v", err, all, s.Resp.Header)
		}
		waitSubscribedAll(t, e, "lk")
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("lk", "pub\n"))
		got2, err := s.ReadUntil("pub\n", wait)
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		res[implName(t)] = fmt.Sprintf("%q %q", got1, got2)
	})
	res.check(t)
}

func wsEvents(events ...string) string { return strings.Join(events, "") }

func wsEvent(typ, content string) string {
	if content == "" {
		return typ + "\r\n"
	}
	return fmt.Sprintf("%s %x\r\n%s\r\n", typ, len(content), content)
}

// TestWebSocketOverHTTP: subscribe through a c: control message, receive a
// publish, then a publish that closes the connection.
func TestWebSocketOverHTTP(t *testing.T) {
	res := results{}
	var reqs atomic.Int32
	routes := func(o *harness.Origin) []string {
		return []string{"*,proto=ws " + o.Target() + ",over_http", "* " + o.Target()}
	}
	bothRoutes(t, routes, nil, func(t *testing.T, e *env) {
		e.origin.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
			reqs.Add(1)
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/websocket-events")
			w.Header().Set("Sec-WebSocket-Extensions", "grip")
			switch {
			case strings.HasPrefix(string(body), "OPEN"):
				io.WriteString(w, wsEvents(wsEvent("OPEN", ""), wsEvent("TEXT", `c:{"type": "subscribe", "channel": "wsc"}`)))
			case strings.Contains(string(body), "CLOSE"):
				io.WriteString(w, wsEvent("CLOSE", ""))
			}
		})
		c := harness.DialWS(t, e.WSURL()+"/ws")
		waitSubscribedAll(t, e, "wsc")
		harness.Publish(t, e.ControlURL(), harness.WSMessageItem("wsc", "hello ws"))
		_, msg, err := c.Read(wait)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		harness.Publish(t, e.ControlURL(), map[string]any{"channel": "wsc", "formats": map[string]any{
			"ws-message": map[string]any{"action": "close", "code": 4005, "reason": "bye now"}}})
		_, _, err = c.Read(wait)
		code, reason := 0, ""
		if ce, ok := err.(*websocket.CloseError); ok {
			code, reason = ce.Code, ce.Text
		}
		res[implName(t)] = fmt.Sprintf("%q %d %q", msg, code, reason)
	})
	res.check(t)
}

// TestNextLinkStreamed: a next-link response's body reaches the client as
// the origin sends it, before the response is complete; then its own link
// is followed.
func TestNextLinkStreamed(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		release := make(chan struct{})
		e.origin.Handle("/nls", harness.Text(200, "start\n", "Grip-Link", "</nls-slow>; rel=next"))
		e.origin.HandleFunc("/nls-slow", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Grip-Link", "</nls-end>; rel=next")
			io.WriteString(w, "a\n")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(2 * wait):
			}
			io.WriteString(w, "b\n")
		})
		e.origin.Handle("/nls-end", harness.Text(200, "end\n"))
		s := openStream(t, e, "/nls")
		defer s.Close()
		before, err := s.ReadUntil("a\n", wait)
		if err != nil {
			before += " (" + err.Error() + ")"
		}
		close(release)
		after, err := s.ReadAll(wait)
		res[implName(t)] = fmt.Sprintf("%q then %q %v", before, after, err)
		t.Logf("%s", res[implName(t)])
	})
	res.check(t)
}
