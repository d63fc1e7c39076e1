package harness

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/stats"
)

// StatsEvent is one message from a stats PUB socket.
type StatsEvent struct {
	// Raw is the message as received ("<type> T…").
	Raw []byte
	// Packet is Raw decoded (nil when Err is set).
	Packet stats.Packet
	Err    error
	At     time.Time
}

// statsQueue bounds the events a StatsWatcher keeps for the test; when it
// is full newer events are dropped and counted (Dropped), so a test that
// never reads cannot stall the watcher.
const statsQueue = 4096

// StatsWatcher subscribes to a stats PUB socket (the handler's stats_spec,
// reference §8.1) and queues what it publishes. Tests use it to wait for
// the moment the handler has a subscription instead of sleeping.
type StatsWatcher struct {
	zc      *zmqx.Context
	events  chan StatsEvent
	dropped atomic.Int64
}

// WatchStats connects a SUB (all topics) to spec; tb's cleanup closes it.
// Like any SUB it only sees messages published after its connection is up
// (a few milliseconds on ipc).
func WatchStats(tb testing.TB, spec string) *StatsWatcher {
	tb.Helper()
	zc, err := zmqx.NewContext()
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	w := &StatsWatcher{zc: zc, events: make(chan StatsEvent, statsQueue)}
	tb.Cleanup(func() {
		if err := zc.Close(); err != nil {
			tb.Errorf("harness: close stats watcher: %v", err)
		}
	})
	_, err = zmqx.NewActor(context.Background(), zc, zmqx.Config{
		Name: "stats-watch", Type: zmq4.SUB,
		Endpoint: zmqx.Endpoint{Specs: []string{spec}},
		Options:  []zmqx.SocketOption{zmqx.Subscribe("")},
		Handler: func(_ *zmqx.Actor, msg [][]byte) {
			ev := StatsEvent{At: time.Now()}
			if len(msg) != 1 {
				ev.Err = fmt.Errorf("stats message has %d frames, want 1", len(msg))
			} else {
				ev.Raw = msg[0]
				ev.Packet, ev.Err = stats.Decode(msg[0])
			}
			select {
			case w.events <- ev:
			default:
				w.dropped.Add(1)
			}
		},
	})
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	return w
}

// Next returns the next event, or an error after timeout.
func (w *StatsWatcher) Next(timeout time.Duration) (StatsEvent, error) {
	select {
	case ev := <-w.events:
		return ev, nil
	case <-time.After(timeout):
		return StatsEvent{}, fmt.Errorf("no stats message within %v", timeout)
	}
}

// Dropped counts events discarded because the queue was full.
func (w *StatsWatcher) Dropped() int64 { return w.dropped.Load() }

// WaitFor returns the first event whose packet match accepts, discarding
// the others, or an error after timeout.
func (w *StatsWatcher) WaitFor(timeout time.Duration, what string, match func(stats.Packet) bool) (stats.Packet, error) {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("no %s stats within %v", what, timeout)
		}
		ev, err := w.Next(left)
		if err != nil {
			return nil, fmt.Errorf("no %s stats within %v", what, timeout)
		}
		if ev.Err == nil && match(ev.Packet) {
			return ev.Packet, nil
		}
	}
}

// WaitSubscribed waits for the handler's "sub" stats saying channel has a
// subscriber (reference §8.1: emitted when a subscription is added).
func (w *StatsWatcher) WaitSubscribed(tb testing.TB, channel string, timeout time.Duration) *stats.Sub {
	tb.Helper()
	p, err := w.WaitFor(timeout, "sub "+channel, func(p stats.Packet) bool {
		s, ok := p.(*stats.Sub)
		return ok && s.Channel == channel && !s.Unavailable
	})
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	return p.(*stats.Sub)
}
