//go:build e2e

package handler

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/pushpin-go/pushpin/test/harness"
)

// TestContentFilterMismatch: a published item whose content-filters differ
// from the subscription's content filters is an error for the held
// session: a stream ends (debug: with the error text), a response hold
// answers with an error (reference §5.6, §5.5).
func TestContentFilterMismatch(t *testing.T) {
	for _, debug := range []string{"false", "true"} {
		t.Run("debug="+debug, func(t *testing.T) {
			res := results{}
			configure := func(c *harness.Config) {
				c.Extra = map[string]map[string]string{"proxy": {"debug": debug}}
			}
			both(t, configure, func(t *testing.T, e *env) {
				e.origin.Handle("/cf", harness.GripHold("stream", "cf", "text/plain", "start\n"))
				e.origin.Handle("/cfr", harness.GripHold("response", "cfr", "text/plain", "timeout\n"))
				s := openStream(t, e, "/cf")
				defer s.Close()
				e.Stats.WaitSubscribed(t, "cf", wait)
				harness.Publish(t, e.ControlURL(), map[string]any{"channel": "cf",
					"formats": map[string]any{"http-stream": map[string]any{"content": "x\n", "content-filters": []string{"build-id"}}}})
				stream, err := s.ReadAll(wait)

				done := make(chan *harness.Response, 1)
				go func() {
					r, _ := harness.DoErr(harness.NewRequest(t, http.MethodGet, e.HTTPURL()+"/cfr", nil), wait)
					done <- r
				}()
				e.Stats.WaitSubscribed(t, "cfr", wait)
				harness.Publish(t, e.ControlURL(), map[string]any{"channel": "cfr",
					"formats": map[string]any{"http-response": map[string]any{"body": "y\n", "content-filters": []string{"var-subst"}}}})
				r := <-done
				resp := "no response"
				if r != nil {
					resp = fmt.Sprintf("%d %q %q", r.Status, r.Header.Get("Content-Type"), r.Body)
				}
				res[implName(t)] = fmt.Sprintf("stream %q (err %v); response %s", stream, err != nil, resp)
				t.Logf("%s", res[implName(t)])
			})
			res.check(t)
		})
	}
}
