//go:build e2e

// Package condure holds the end-to-end interop tests of our condure: every
// scenario runs under Debian's pushpin runner twice, once with Debian's
// condure and once with ours as condure_bin, with Debian's proxy, handler
// and zurl behind it, and what the client sees must be the same.
package condure

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushpin-go/pushpin/test/harness"
)

// wait bounds single expectations.
const wait = 10 * time.Second

var impls = []struct {
	name string
	impl harness.Impl
}{
	{"debian", harness.Debian},
	{"ours", harness.Ours},
}

type env struct {
	*harness.Instance
	origin *harness.Origin
}

// both runs fn with Debian's condure, then ours, under Debian's runner.
func both(t *testing.T, routes func(o *harness.Origin) []string, fn func(t *testing.T, e *env)) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			harness.RequireDebian(t, harness.Runner, harness.Condure, harness.Proxy, harness.Handler, harness.Zurl)
			o := harness.NewOrigin(t)
			r := []string{"* " + o.Target()}
			if routes != nil {
				r = routes(o)
			}
			st := harness.Stack{
				Condure: im.impl, Zurl: harness.Debian, Proxy: harness.Debian, Handler: harness.Debian,
				Runner: harness.Debian, Routes: r,
			}
			fn(t, &env{Instance: st.Start(t), origin: o})
		})
	}
}

type results map[string]string

func (r results) check(t *testing.T) {
	t.Helper()
	if len(r) == 2 && r["debian"] != r["ours"] {
		t.Errorf("results differ:\ndebian: %s\nours:   %s", r["debian"], r["ours"])
	}
}

func implName(t *testing.T) string {
	n := t.Name()
	return n[strings.LastIndex(n, "/")+1:]
}

// headerSummary renders the headers a client can compare across
// implementations (Date and other per-run values left out).
func headerSummary(h http.Header, names ...string) string {
	var parts []string
	for _, n := range names {
		if v, ok := h[http.CanonicalHeaderKey(n)]; ok {
			parts = append(parts, n+"="+strings.Join(v, "|"))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// settle waits until the handler holds the request: the origin saw it,
// then the subscription refresh has passed.
func settle(t *testing.T, e *env) {
	t.Helper()
	e.origin.NextRequest(t, wait)
	time.Sleep(1300 * time.Millisecond)
}

func TestPlainProxy(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/plain", harness.Text(200, "hello\n", "X-Origin", "1"))
		r := harness.Get(t, e.HTTPURL()+"/plain?a=b")
		req := e.origin.NextRequest(t, wait)
		r2 := harness.Post(t, e.HTTPURL()+"/plain", "application/octet-stream", bytes.Repeat([]byte("x"), 100000))
		req2 := e.origin.NextRequest(t, wait)
		res[implName(t)] = fmt.Sprintf("%d %q [%s] %s | %d %d", r.Status, r.Body,
			headerSummary(r.Header, "Content-Type", "Content-Length", "X-Origin", "Transfer-Encoding"),
			req.RequestURI, r2.Status, len(req2.Body))
	})
	res.check(t)
}

func TestLongPoll(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/lp", harness.GripHold("response", "lp", "text/plain", "timeout\n"))
		done := make(chan *harness.Response, 1)
		go func() { done <- harness.Get(t, e.HTTPURL()+"/lp") }()
		settle(t, e)
		harness.Publish(t, e.ControlURL(), harness.HTTPResponseItem("lp", "published\n"))
		select {
		case r := <-done:
			res[implName(t)] = fmt.Sprintf("%d %q", r.Status, r.Body)
		case <-time.After(wait):
			t.Fatal("long-poll response did not arrive")
		}
	})
	res.check(t)
}

func TestHTTPStreaming(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/s", harness.GripHold("stream", "s1", "text/plain", "start\n"))
		s := harness.OpenStream(t, harness.NewRequest(t, http.MethodGet, e.HTTPURL()+"/s", nil))
		settle(t, e)
		big := strings.Repeat("y", 20000) + "\n" // beyond one credit window
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("s1", "one\n"))
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("s1", big))
		harness.Publish(t, e.ControlURL(), map[string]any{"channel": "s1", "formats": map[string]any{"http-stream": map[string]any{"action": "close"}}})
		body, err := s.ReadAll(wait)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		res[implName(t)] = fmt.Sprintf("%d %d %q %v", s.Resp.StatusCode, len(body), body[:10], s.Resp.TransferEncoding)
	})
	res.check(t)
}

func TestSSE(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/sse", harness.GripHold("stream", "sse", "text/event-stream", ""))
		s := harness.OpenStream(t, harness.NewRequest(t, http.MethodGet, e.HTTPURL()+"/sse", nil))
		settle(t, e)
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("sse", "event: x\ndata: hi\n\n"))
		ev, err := s.NextEvent(wait)
		if err != nil {
			t.Fatalf("event: %v", err)
		}
		s.Close()
		res[implName(t)] = fmt.Sprintf("%q %q %q", s.Resp.Header.Get("Content-Type"), ev.Event, ev.Data)
	})
	res.check(t)
}

func TestWebSocketPassthrough(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/ws", harness.WSEcho("echo:"))
		c := harness.DialWS(t, e.WSURL()+"/ws")
		var got []string
		for _, m := range []string{"hello", strings.Repeat("z", 30000)} {
			if err := c.WriteText(m); err != nil {
				t.Fatal(err)
			}
			_, msg, err := c.Read(wait)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got = append(got, fmt.Sprintf("%d:%.10s", len(msg), msg))
		}
		if err := c.WriteBinary([]byte{0, 1, 2}); err != nil {
			t.Fatal(err)
		}
		typ, msg, err := c.Read(wait)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, fmt.Sprintf("%d %q", typ, msg))
		res[implName(t)] = strings.Join(got, " ")
	})
	res.check(t)
}

func wsEvent(typ, content string) string {
	if content == "" {
		return typ + "\r\n"
	}
	return fmt.Sprintf("%s %x\r\n%s\r\n", typ, len(content), content)
}

func TestWebSocketOverHTTP(t *testing.T) {
	res := results{}
	routes := func(o *harness.Origin) []string {
		return []string{"*,proto=ws " + o.Target() + ",over_http", "* " + o.Target()}
	}
	both(t, routes, func(t *testing.T, e *env) {
		e.origin.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/websocket-events")
			w.Header().Set("Sec-WebSocket-Extensions", "grip")
			switch {
			case strings.HasPrefix(string(body), "OPEN"):
				io.WriteString(w, wsEvent("OPEN", "")+wsEvent("TEXT", `c:{"type": "subscribe", "channel": "wsc"}`))
			case strings.Contains(string(body), "CLOSE"):
				io.WriteString(w, wsEvent("CLOSE", ""))
			}
		})
		c := harness.DialWS(t, e.WSURL()+"/ws")
		time.Sleep(1500 * time.Millisecond)
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

// Expect: 100-continue through the whole stack: condure answers with
// "100 Continue" once the proxy grants credits for the body, and the body
// then reaches the origin (condure 1.9.1 behaviour, matched by ours).
func TestExpectContinue(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/up", harness.Text(200, "got it\n"))
		c, err := net.DialTimeout("tcp", e.HTTPAddr(), wait)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(wait))
		fmt.Fprint(c, "POST /up HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		br := bufio.NewReader(c)
		interim, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("no interim response: %v", err)
		}
		if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
			t.Fatalf("interim response head: %q %v", blank, err)
		}
		fmt.Fprint(c, "abcde")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		req := e.origin.NextRequest(t, wait)
		res[implName(t)] = fmt.Sprintf("%q | %d %q close=%v | origin got %q", strings.TrimSpace(interim),
			resp.StatusCode, body, resp.Close, req.Body)
		t.Log(res[implName(t)])
	})
	res.check(t)
}
