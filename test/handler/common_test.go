//go:build e2e

// Package handler holds the end-to-end interop tests of our handler: every
// scenario runs twice, once with Debian's pushpin-handler and once with ours,
// behind Debian's condure, pushpin-proxy and zurl, and the client-visible
// results must be the same.
package handler

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/test/harness"
)

// wait bounds single expectations.
const wait = 10 * time.Second

// impls are the handler implementations compared.
var impls = []struct {
	name string
	impl harness.Impl
}{
	{"debian", harness.Debian},
	{"ours", harness.Ours},
}

// env is one running stack plus its origin.
type env struct {
	*harness.Instance
	origin *harness.Origin
}

// both runs fn against a stack with Debian's handler and one with ours.
func both(t *testing.T, configure func(*harness.Config), fn func(t *testing.T, e *env)) {
	bothRoutes(t, nil, configure, fn)
}

// bothRoutes is both with a routes file built from the origin (nil: every
// request goes to the origin).
func bothRoutes(t *testing.T, routes func(o *harness.Origin) []string, configure func(*harness.Config), fn func(t *testing.T, e *env)) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			harness.RequireDebian(t, harness.Condure, harness.Proxy, harness.Zurl)
			o := harness.NewOrigin(t)
			r := []string{"* " + o.Target()}
			if routes != nil {
				r = routes(o)
			}
			st := harness.Stack{
				Condure: harness.Debian, Zurl: harness.Debian, Proxy: harness.Debian, Handler: im.impl,
				Routes:    r,
				Configure: configure,
			}
			in := st.Start(t)
			e := &env{Instance: in, origin: o}
			warmUp(t, e)
			fn(t, e)
		})
	}
}

// results collects what each implementation produced, to compare at the end.
type results map[string]string

func (r results) check(t *testing.T) {
	t.Helper()
	if len(r) != 2 {
		return
	}
	if r["debian"] != r["ours"] {
		t.Errorf("results differ:\ndebian: %q\nours:   %q", r["debian"], r["ours"])
	}
}

func implName(t *testing.T) string {
	n := t.Name()
	return n[strings.LastIndex(n, "/")+1:]
}

func get(t *testing.T, url string, headers ...string) *harness.Response {
	t.Helper()
	return harness.Do(t, harness.NewRequest(t, http.MethodGet, url, nil, headers...))
}

// timed wraps h to report when each request started being answered
// (before h writes anything), on a buffered channel (later entries are
// dropped when it is full).
func timed(h http.Handler) (http.Handler, <-chan time.Time) {
	ch := make(chan time.Time, 16)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case ch <- time.Now():
		default:
		}
		h.ServeHTTP(w, r)
	}), ch
}

// nth waits for the n-th value on ch (1-based) and returns it.
func nth(t *testing.T, ch <-chan time.Time, n int) time.Time {
	t.Helper()
	var at time.Time
	for i := 0; i < n; i++ {
		select {
		case at = <-ch:
		case <-time.After(wait):
			t.Fatalf("origin: request %d of %d not seen within %v", i+1, n, wait)
		}
	}
	return at
}

// waitSubscribedAfter waits for a "sub" stats packet for channel received
// after since: the handler (re)subscribed a hold accepted after that time.
func waitSubscribedAfter(t *testing.T, e *env, channel string, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		ev, err := e.Stats.Next(time.Until(deadline))
		if err != nil {
			break
		}
		if s, ok := ev.Packet.(*stats.Sub); ok && s.Channel == channel && !s.Unavailable && ev.At.After(since) {
			return
		}
	}
	t.Fatalf("no subscription to %q after %s within %v", channel, since.Format(time.StampMicro), wait)
}

// waitSubscribedAll waits for "sub" stats packets for every channel (in any
// order).
func waitSubscribedAll(t *testing.T, e *env, channels ...string) {
	t.Helper()
	left := map[string]bool{}
	for _, c := range channels {
		left[c] = true
	}
	deadline := time.Now().Add(wait)
	for len(left) > 0 && time.Now().Before(deadline) {
		ev, err := e.Stats.Next(time.Until(deadline))
		if err != nil {
			break
		}
		if s, ok := ev.Packet.(*stats.Sub); ok && !s.Unavailable {
			delete(left, s.Channel)
		}
	}
	if len(left) > 0 {
		t.Fatalf("no subscription within %v for %v", wait, left)
	}
}

// warmUp makes sure condure can reach the handler before a scenario runs.
// Right after start-up, Debian's condure may address the handler's ROUTER
// before the handler's connection to it is up ("stream zmq send to: Host
// unreachable"); the packet is lost and the handler later cancels that
// session as out of sequence — a start-up race of the stack, not of the
// scenario. A held stream whose client hangs up proves the path: condure's
// cancel reaches the handler, which reports the connection gone in its
// stats. Tried a bounded number of times.
func warmUp(t *testing.T, e *env) {
	t.Helper()
	const path, channel = "/harness-warmup", "harness-warmup"
	var served atomic.Int32 // warm-up requests the origin answered
	hold := harness.GripHold("stream", channel, "text/plain", "warm\n")
	e.origin.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		hold.ServeHTTP(w, r)
	})
	// The scenario must not see the warm-up's requests in the origin's log.
	defer func() {
		for i := int32(0); i < served.Load(); i++ {
			e.origin.NextRequest(t, wait)
		}
	}()
	for attempt := 1; attempt <= 3; attempt++ {
		s, err := harness.OpenStreamErr(harness.NewRequest(t, http.MethodGet, e.HTTPURL()+path, nil), wait)
		if err != nil {
			t.Logf("warm-up %d: %v; retrying", attempt, err)
			continue
		}
		if _, err := s.ReadUntil("warm\n", wait); err != nil {
			t.Logf("warm-up %d: %v; retrying", attempt, err)
			s.Close()
			continue
		}
		waitSubscribedAll(t, e, channel)
		s.Close()
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			ev, err := e.Stats.Next(time.Until(deadline))
			if err != nil {
				break
			}
			if c, ok := ev.Packet.(*stats.Conn); ok && c.Unavailable && strings.Contains(c.ID, ":") {
				return
			}
		}
		t.Logf("warm-up %d: the handler did not see the client leave; retrying", attempt)
	}
	t.Fatalf("warm-up: condure's packets do not reach the handler")
}
