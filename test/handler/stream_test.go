//go:build e2e

package handler

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/test/harness"
)

func openStream(t *testing.T, e *env, path string) *harness.Stream {
	t.Helper()
	return harness.OpenStream(t, harness.NewRequest(t, http.MethodGet, e.HTTPURL()+path, nil))
}

// settle waits until the handler has subscribed the stream's channels
// (its "sub" stats packets), so a publish cannot arrive before the
// subscription. Stream holds without a next link are not affected by the
// 1 s subscription refresh.
func settle(t *testing.T, e *env, channels ...string) {
	t.Helper()
	e.origin.NextRequest(t, wait)
	waitSubscribedAll(t, e, channels...)
}

func TestStreamPublishClose(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/s", harness.GripHold("stream", "s1, s2", "text/plain", "start\n"))
		s := openStream(t, e, "/s")
		settle(t, e, "s1", "s2")
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("s1", "one\n"))
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("s2", "two\n"))
		harness.Publish(t, e.ControlURL(), map[string]any{"channel": "s1", "formats": map[string]any{"http-stream": map[string]any{"action": "close"}}})
		body, err := s.ReadAll(wait)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		res[implName(t)] = fmt.Sprintf("%d %q %q %v", s.Resp.StatusCode, body, s.Resp.Header.Get("Content-Type"), s.Resp.TransferEncoding)
	})
	res.check(t)
}

func TestStreamKeepAliveSSE(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/sse", harness.GripHold("stream", "sse", "text/event-stream", "",
			"Grip-Keep-Alive", `:\n\n; format=cstring; timeout=2`))
		s := openStream(t, e, "/sse")
		settle(t, e, "sse")
		got, err := s.ReadUntil(":\n\n", 5*time.Second)
		if err != nil {
			t.Fatalf("keep-alive: %v", err)
		}
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("sse", "event: x\ndata: hi\n\n"))
		ev, err := s.NextEvent(wait)
		if err != nil {
			t.Fatalf("event: %v", err)
		}
		res[implName(t)] = fmt.Sprintf("%q %q %q", got, ev.Event, ev.Data)
	})
	res.check(t)
}

func TestStreamIntervalKeepAlive(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/ka", harness.GripHold("stream", "ka", "text/plain", "",
			"Grip-Keep-Alive", "a2E=; format=base64; timeout=1; mode=interval"))
		s := openStream(t, e, "/ka")
		settle(t, e, "ka")
		got, err := s.ReadUntil("kaka", 5*time.Second)
		if err != nil {
			t.Fatalf("keep-alive: %v", err)
		}
		res[implName(t)] = fmt.Sprintf("%q", got[len(got)-4:])
	})
	res.check(t)
}

func TestStreamManySubscribersInOrder(t *testing.T) {
	const subs, msgs = 200, 20
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/m", harness.GripHold("stream", "many", "text/plain", ""))
		streams := make([]*harness.Stream, subs)
		var wg sync.WaitGroup
		for i := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := harness.OpenStreamErr(harness.NewRequest(t, http.MethodGet, e.HTTPURL()+"/m", nil), wait)
				if err != nil {
					t.Errorf("open: %v", err)
					return
				}
				streams[i] = s
			}()
		}
		wg.Wait()
		for _, s := range streams {
			if s != nil {
				t.Cleanup(s.Close)
			}
		}
		if t.Failed() {
			return
		}
		time.Sleep(1500 * time.Millisecond)
		var want strings.Builder
		for i := 0; i < msgs; i++ {
			line := fmt.Sprintf("msg %02d\n", i)
			want.WriteString(line)
			harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("many", line))
		}
		// A stream cut short is not an ordering fault: under this burst
		// Debian's condure now and then loses a credit packet on its way
		// to the handler (both handlers then log a bad seq and cancel), so
		// cut streams are only logged. What every stream did receive must
		// be the published lines in order.
		bad, cut := 0, 0
		failed := 0
		for _, s := range streams {
			if s.Resp.StatusCode != http.StatusOK {
				failed++ // pushpin-proxy answers part of a burst of ~200 with 502 (its queue holds ~100)
				continue
			}
			got, err := s.ReadUntil("msg 19\n", wait)
			if !strings.HasPrefix(want.String(), got) {
				if bad == 0 {
					t.Logf("first out-of-order stream: %q", got)
				}
				bad++
			} else if err != nil {
				cut++
			}
		}
		if cut+failed > 0 {
			t.Logf("of %d streams, %d failed to open and %d ended early (see above)", subs, failed, cut)
		}
		res[implName(t)] = fmt.Sprintf("bad=%d", bad)
	})
	res.check(t)
}
