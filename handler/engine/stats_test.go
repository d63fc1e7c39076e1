package engine

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// TestMessageStatsEncoding: the fan-out path's direct encoding of "message"
// packets is byte for byte what stats.Append makes of the same packet.
func TestMessageStatsEncoding(t *testing.T) {
	tests := []struct {
		from, channel, id string
		n                 int
		transport         string
	}{
		{"pushpin-handler_1", "test", "", 1, stats.TransportHTTPStream},
		{"h", "c", "id-7", 10000, stats.TransportWSMessage},
		{"", "", "", 0, stats.TransportHTTPResponse},
		{"h", "weird:chan,}]", "x", -3, stats.TransportHTTPStream},
		{"h", strings.Repeat("c", 70000), strings.Repeat("i", 300), 2, stats.TransportHTTPStream},
	}
	var enc tnetstring.Encoder
	for _, tt := range tests {
		got := appendMessageT(&enc, tt.from, tt.channel, tt.id, tt.n, tt.transport)
		want := stats.Append(nil, stats.FormatT, &stats.Message{Common: stats.Common{From: tt.from},
			Channel: tt.channel, ItemID: tt.id, Count: tt.n, Transport: tt.transport})
		if !bytes.Equal(got, want) {
			t.Errorf("%q/%q: got %.80q, want %.80q", tt.channel, tt.id, got, want)
		}
	}
}

// TestActivityBatching: activity counts are flushed 100 ms after the first
// one, as one packet with the sum (Pushpin's StatsManager), not per count
// and not once a second.
func TestActivityBatching(t *testing.T) {
	st, _ := testState(t, nil)
	var sent []stats.Packet
	st.stats.sink = func(msg []byte) {
		p, err := stats.Decode(msg)
		if err != nil {
			t.Fatalf("decode %q: %v", msg, err)
		}
		sent = append(sent, p)
	}
	activities := func() []int {
		var out []int
		for _, p := range sent {
			if a, ok := p.(*stats.Activity); ok {
				out = append(out, a.Count)
			}
		}
		return out
	}
	t0 := st.now
	addSession(st, "s1", StreamHold, 1<<20, "a")
	addSession(st, "s2", StreamHold, 1<<20, "a")
	st.receive(&publish.Item{Channel: "a", HTTPStream: &publish.HTTPStreamFormat{Content: []byte("x")}})
	if got := activities(); len(got) != 0 {
		t.Fatalf("activity sent before the batch delay: %v", got)
	}
	st.stats.addActivity(0) // no-op
	st.timers.fireDue(t0.Add(99*time.Millisecond), 100)
	if got := activities(); len(got) != 0 {
		t.Fatalf("activity sent at 99 ms: %v", got)
	}
	st.now = t0.Add(100 * time.Millisecond)
	st.timers.fireDue(st.now, 100)
	// Two connections and two deliveries.
	if got := activities(); len(got) != 1 || got[0] != 4 {
		t.Fatalf("activity after 100 ms = %v, want [4]", got)
	}
	// The next count starts a new batch.
	st.stats.addActivity(3)
	st.timers.fireDue(st.now.Add(100*time.Millisecond), 100)
	if got := activities(); len(got) != 2 || got[1] != 3 {
		t.Fatalf("second batch = %v, want [4 3]", got)
	}
	// The message packet went out for the delivery.
	var msgs int
	for _, p := range sent {
		if m, ok := p.(*stats.Message); ok && m.Channel == "a" && m.Count == 2 && m.Transport == stats.TransportHTTPStream {
			msgs++
		}
	}
	if msgs != 1 {
		t.Errorf("message packets = %d, want 1 (sent: %v)", msgs, sent)
	}
}

// TestConnStatsOnRetry: a session handed back to the proxy for a retry is
// not reported disconnected (pushpin-handler keeps the connection); one
// that ends is.
func TestConnStatsOnRetry(t *testing.T) {
	for _, retried := range []bool{false, true} {
		st, _ := testState(t, nil)
		var gone []string
		st.stats.sink = func(msg []byte) {
			if p, err := stats.Decode(msg); err == nil {
				if c, ok := p.(*stats.Conn); ok && c.Unavailable {
					gone = append(gone, c.ID)
				}
			}
		}
		hs := addSession(st, "r1", ResponseHold, 8192, "ch")
		hs.retried = retried
		hs.destroy()
		if want := !retried; (len(gone) == 1) != want || (want && gone[0] != "condure:r1") {
			t.Errorf("retried=%v: unavailable packets %v", retried, gone)
		}
		if n := st.e.metrics.connections.Load(); n != 0 {
			t.Errorf("retried=%v: %d connections counted", retried, n)
		}
	}
}
