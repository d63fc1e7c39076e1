package engine

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
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

// TestFanOutListForm: stream sessions that can take an item at once share
// list-form packets (≤128 ids, each with the session's next seq); a lone
// session gets a plain packet; one short of credits is served from its
// queue when credits come.
func TestFanOutListForm(t *testing.T) {
	st, msgs := testState(t, nil)
	const n = 300
	for i := 0; i < n; i++ {
		addSession(st, fmt.Sprintf("s%d", i), StreamHold, 1<<20, "many")
	}
	slow := addSession(st, "slow", StreamHold, 0, "many")
	addSession(st, "lone", StreamHold, 1<<20, "one")
	*msgs = nil
	st.receive(&publish.Item{Channel: "many", HTTPStream: &publish.HTTPStreamFormat{Content: []byte("hello")}})
	st.receive(&publish.Item{Channel: "one", HTTPStream: &publish.HTTPStreamFormat{Content: []byte("solo")}})

	var lists []int
	for _, m := range *msgs {
		_, raw, _ := zhttp.SplitPubMessage(m)
		var p zhttp.Packet
		if _, err := zhttp.Decode(raw, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.IDs) > 0 {
			lists = append(lists, len(p.IDs))
			if string(p.Body) != "hello" || !p.More {
				t.Errorf("list packet body %q more %v", p.Body, p.More)
			}
		}
	}
	if fmt.Sprint(lists) != "[128 128 44]" {
		t.Errorf("list-form packets of %v ids, want [128 128 44]", lists)
	}
	for _, id := range []string{"s0", "s127", "s128", "s299"} {
		ps := packets(t, *msgs, id)
		// addSession sent keep-alive (seq 2) and the initial response (3).
		if len(ps) != 1 || string(ps[0].Body) != "hello" || ps[0].Seq != 4 {
			t.Errorf("%s: %+v", id, ps)
		}
	}
	if ps := packets(t, *msgs, "lone"); len(ps) != 1 || string(ps[0].Body) != "solo" || ps[0].Seq != 4 {
		t.Errorf("lone: %+v", ps)
	}
	if ps := packets(t, *msgs, "slow"); len(ps) != 0 {
		t.Errorf("slow session written without credits: %+v", ps)
	}
	*msgs = nil
	slow.handle(&zhttp.Packet{Type: zhttp.Credit, Credits: 100}, slow.inSeq, true)
	if got := bodies(packets(t, *msgs, "slow")); got != "initial\nhello" {
		t.Errorf("slow after credits: %q", got)
	}
}

// TestKeepAliveActivity: each stream keep-alive sent counts one activity.
func TestKeepAliveActivity(t *testing.T) {
	st, _ := testState(t, nil)
	hs := addSession(st, "k", StreamHold, 1<<20, "ka")
	hs.in.HasKeepAlive, hs.in.KeepAlive, hs.in.KeepAliveTimeout = true, []byte("k\n"), 1
	before := st.stats.activity
	hs.keepAlive()
	hs.keepAlive()
	if got := st.stats.activity - before; got != 2 {
		t.Errorf("activity after two keep-alives: +%d, want +2", got)
	}
}
