//go:build e2e

package handler

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/test/harness"
)

func TestLongPollPublish(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		lp, holds := timed(harness.GripHold("response", "lp", "text/plain", "timeout\n", "Grip-Timeout", "20"))
		e.origin.Handle("/lp", lp)
		done := make(chan *harness.Response, 1)
		go func() {
			r, err := harness.DoErr(harness.NewRequest(t, http.MethodGet, e.HTTPURL()+"/lp", nil), wait)
			if err != nil {
				t.Errorf("long-poll: %v", err)
			}
			done <- r
		}()
		e.origin.NextRequest(t, wait)
		// The handler re-requests the origin 1 s after the first
		// subscription of a channel (reference §5.5).
		e.origin.NextRequest(t, wait)
		// Publish once the re-requested hold is subscribed again.
		waitSubscribedAfter(t, e, "lp", nth(t, holds, 2))
		harness.Publish(t, e.ControlURL(), map[string]any{"channel": "lp", "formats": map[string]any{
			"http-response": map[string]any{"code": 201, "body": "hello\n", "headers": map[string]string{"X-A": "b"}}}})
		r := <-done
		if r == nil {
			return
		}
		res[implName(t)] = fmt.Sprintf("%d %q %q %q", r.Status, r.Body, r.Header.Get("X-A"), r.Header.Get("Content-Type"))
	})
	res.check(t)
}

func TestLongPollTimeout(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/lp", harness.GripHold("response", "lpt", "text/plain", "timed out\n", "Grip-Timeout", "3", "Grip-Status", "202 Pending Thing"))
		start := time.Now()
		r := get(t, e.HTTPURL()+"/lp")
		el := time.Since(start)
		if el < 4*time.Second {
			t.Errorf("timeout after %v, want >= 5s (minimum)", el)
		}
		res[implName(t)] = fmt.Sprintf("%d %q %q", r.Status, r.Body, r.Header.Get("Content-Type"))
	})
	res.check(t)
}
