package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/handoff"
	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// testState builds an engine whose condure output goes to a slice instead of
// a socket, for driving the loop-owned state directly.
func testState(tb testing.TB, mod func(*Config)) (*state, *[][]byte) {
	tb.Helper()
	cfg := Config{
		InstanceID:           "h1",
		CondureInStreamSpecs: []string{"ipc://unused-in"},
		CondureOutSpecs:      []string{"ipc://unused-out"},
		AcceptSpec:           "ipc://a", InspectSpec: "ipc://i", RetryOutSpec: "ipc://r",
		MessageRate: -1, MessageHWM: -1, MessageWait: 5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	msgs := &[][]byte{}
	e.out.from = []byte(cfg.InstanceID)
	e.out.log = e.log
	e.out.sink = func(m []byte) { *msgs = append(*msgs, append([]byte(nil), m...)) }
	e.st.now = time.Now()
	return e.st, msgs
}

func addSession(st *state, id string, mode HoldMode, credits int, channels ...string) *httpSession {
	acc := &handoff.AcceptArgs{Route: "r", OrigRequestData: handoff.RequestData{Method: "GET", URI: "http://example/x"}}
	in := Instruct{Hold: mode, Timeout: 55, Response: handoff.ResponseData{Code: 200, Reason: "OK",
		Headers: []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("initial\n")}}
	for _, c := range channels {
		name, prev, ok := strings.Cut(c, "#")
		in.Channels = append(in.Channels, Channel{Name: name, PrevID: prev, HasPrev: ok})
	}
	hs := st.newHTTPSession(acc, handoff.RequestState{RID: handoff.RID{Sender: "condure", ID: id}, InSeq: 2, OutSeq: 2, OutCredits: credits}, in)
	hs.takeOver()
	hs.hold()
	return hs
}

// packets decodes captured messages, keeping those for session id.
func packets(tb testing.TB, msgs [][]byte, id string) []zhttp.Packet {
	tb.Helper()
	var out []zhttp.Packet
	for _, m := range msgs {
		addr, raw, err := zhttp.SplitPubMessage(m)
		if err != nil || string(addr) != "condure" {
			tb.Fatalf("bad pub message %q: %v", m, err)
		}
		var p zhttp.Packet
		if _, err := zhttp.Decode(raw, &p); err != nil {
			tb.Fatalf("decode %q: %v", raw, err)
		}
		if string(p.ID) == id {
			out = append(out, p)
		}
		// A list-form packet counts for each listed session, with its seq.
		for _, m := range p.IDs {
			if string(m.ID) == id {
				q := p
				q.IDs, q.ID = nil, m.ID
				q.SetSeq(m.Seq)
				out = append(out, q)
			}
		}
	}
	return out
}

func bodies(ps []zhttp.Packet) string {
	var b strings.Builder
	for _, p := range ps {
		b.Write(p.Body)
	}
	return b.String()
}

func streamItem(channel, id, prev, content string) *publish.Item {
	return &publish.Item{Channel: channel, ID: id, PrevID: prev, HTTPStream: &publish.HTTPStreamFormat{Content: []byte(content)}}
}

func TestStreamTakeOverAndSeq(t *testing.T) {
	st, msgs := testState(t, nil)
	addSession(st, "s1", StreamHold, 1000, "a")
	st.receive(streamItem("a", "", "", "x\n"))
	ps := packets(t, *msgs, "s1")
	if len(ps) != 3 {
		t.Fatalf("got %d packets, want keep-alive, start, data", len(ps))
	}
	if ps[0].Type != zhttp.KeepAlive || !ps[0].Multi || ps[0].Seq != 2 {
		t.Errorf("take-over packet %+v, want keep-alive ext.multi seq 2", ps[0])
	}
	if ps[1].Code != 200 || !ps[1].More || string(ps[1].Body) != "initial\n" || ps[1].Seq != 3 {
		t.Errorf("start packet %+v", ps[1])
	}
	if string(ps[2].Body) != "x\n" || !ps[2].More || ps[2].Seq != 4 || string(ps[2].From) != "h1" {
		t.Errorf("data packet %+v", ps[2])
	}
}

func TestSequencer(t *testing.T) {
	tests := []struct {
		name    string
		items   [][3]string // id, prev-id, content
		advance time.Duration
		want    string
	}{
		{"in order", [][3]string{{"1", "", "a"}, {"2", "1", "b"}, {"3", "2", "c"}}, 0, "abc"},
		{"reordered", [][3]string{{"1", "", "a"}, {"3", "2", "c"}, {"2", "1", "b"}}, 0, "abc"},
		{"gap released after wait", [][3]string{{"1", "", "a"}, {"3", "2", "c"}}, 6 * time.Second, "ac"},
		{"gap held before wait", [][3]string{{"1", "", "a"}, {"3", "2", "c"}}, time.Second, "a"},
		{"first item any prev", [][3]string{{"5", "4", "a"}, {"6", "5", "b"}}, 0, "ab"},
		{"no id clears", [][3]string{{"1", "", "a"}, {"", "", "b"}, {"3", "2", "c"}}, 0, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, msgs := testState(t, nil)
			addSession(st, "s1", StreamHold, 1<<20, "ch")
			*msgs = nil
			for _, it := range tt.items {
				st.receive(streamItem("ch", it[0], it[1], it[2]))
			}
			st.now = st.now.Add(tt.advance)
			st.timers.fireDue(st.now, 100)
			if got := bodies(packets(t, *msgs, "s1")); got != tt.want {
				t.Errorf("delivered %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNoSeqBypassesSequencer(t *testing.T) {
	st, msgs := testState(t, nil)
	addSession(st, "s1", StreamHold, 1<<20, "ch")
	*msgs = nil
	st.receive(streamItem("ch", "1", "", "a"))
	it := streamItem("ch", "3", "2", "c")
	it.NoSeq = true
	st.receive(it)
	if got := bodies(packets(t, *msgs, "s1")); got != "ac" {
		t.Errorf("got %q", got)
	}
}

func TestIDCache(t *testing.T) {
	st, msgs := testState(t, func(c *Config) { c.IDCacheTTL = time.Minute })
	addSession(st, "s1", StreamHold, 1<<20, "ch")
	*msgs = nil
	st.receive(streamItem("ch", "1", "", "a"))
	st.receive(streamItem("ch", "1", "", "a"))
	st.now = st.now.Add(2 * time.Minute)
	st.expireIDs()
	st.receive(streamItem("ch", "1", "", "a"))
	if got := bodies(packets(t, *msgs, "s1")); got != "aa" {
		t.Errorf("got %q, want the duplicate dropped once", got)
	}
}

func TestCreditsAndQueue(t *testing.T) {
	st, msgs := testState(t, nil)
	hs := addSession(st, "s1", StreamHold, 8+5, "ch") // initial body is 8 bytes
	*msgs = nil
	st.receive(streamItem("ch", "", "", "0123456789"))
	ps := packets(t, *msgs, "s1")
	if got := bodies(ps); got != "01234" {
		t.Fatalf("sent %q before credits, want 01234", got)
	}
	hs.handle(&zhttp.Packet{Type: zhttp.Credit, Credits: 100, Has: zhttp.HasCredits}, 2, true)
	if got := bodies(packets(t, *msgs, "s1")); got != "0123456789" {
		t.Errorf("after credits %q", got)
	}
}

func TestSlowClientClosed(t *testing.T) {
	st, msgs := testState(t, func(c *Config) { c.SessionQueueMax = 16 })
	addSession(st, "s1", StreamHold, 8, "ch")
	*msgs = nil
	st.receive(streamItem("ch", "", "", "0123456789"))
	st.receive(streamItem("ch", "", "", "0123456789"))
	ps := packets(t, *msgs, "s1")
	if len(ps) == 0 || ps[len(ps)-1].Type != zhttp.Cancel {
		t.Fatalf("want a cancel, got %+v", ps)
	}
	if n := st.e.metrics.slowClosed.Load(); n != 1 {
		t.Errorf("slowClosed = %d", n)
	}
	if len(st.sessions) != 0 || len(st.channels) != 0 {
		t.Errorf("session or channel left: %d %d", len(st.sessions), len(st.channels))
	}
}

func TestBadSeqCancels(t *testing.T) {
	st, msgs := testState(t, nil)
	hs := addSession(st, "s1", StreamHold, 100, "ch")
	*msgs = nil
	hs.handle(&zhttp.Packet{Type: zhttp.Credit, Credits: 1, Has: zhttp.HasCredits}, 7, true)
	ps := packets(t, *msgs, "s1")
	if len(ps) != 1 || ps[0].Type != zhttp.Cancel {
		t.Fatalf("got %+v, want cancel", ps)
	}
}

func TestResponseHoldDelivery(t *testing.T) {
	st, msgs := testState(t, nil)
	addSession(st, "r1", ResponseHold, 8192, "ch")
	*msgs = nil
	st.receive(&publish.Item{Channel: "ch", HTTPResponse: &publish.HTTPResponseFormat{Code: 201, Reason: "Created",
		Headers: []zhttp.Header{{Name: "X-A", Value: "b"}, {Name: "Content-Type", Value: "text/x"}, {Name: "Grip-Foo", Value: "1"}},
		Body:    []byte("hello\n")}})
	ps := packets(t, *msgs, "r1")
	if len(ps) != 1 {
		t.Fatalf("got %d packets", len(ps))
	}
	p := ps[0]
	got := fmt.Sprint(p.Code, p.Reason, p.Headers, string(p.Body), p.More)
	want := fmt.Sprint(201, "Created", []zhttp.Header{{Name: "X-A", Value: "b"}, {Name: "Content-Type", Value: "text/x"}, {Name: "Content-Length", Value: "6"}}, "hello\n", false)
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if len(st.sessions) != 0 {
		t.Error("session not finished")
	}
}

func TestResponseHoldTimeout(t *testing.T) {
	st, msgs := testState(t, nil)
	addSession(st, "r1", ResponseHold, 8192, "ch")
	*msgs = nil
	// Skip the 1 s subscription refresh (it would retry the hold).
	st.timers.stop(st.channels["ch"].subscribed)
	st.now = st.now.Add(56 * time.Second)
	st.timers.fireDue(st.now, 10)
	ps := packets(t, *msgs, "r1")
	if len(ps) != 1 || ps[0].Code != 200 || string(ps[0].Body) != "initial\n" {
		t.Fatalf("timeout response %+v", ps)
	}
}

func TestSubscribedRefreshRetriesResponseHold(t *testing.T) {
	st, msgs := testState(t, nil)
	addSession(st, "r1", ResponseHold, 8192, "ch")
	*msgs = nil
	st.now = st.now.Add(subscribedDelay)
	st.timers.fireDue(st.now, 10)
	ps := packets(t, *msgs, "r1")
	if len(ps) != 1 || ps[0].Type != zhttp.HandoffStart {
		t.Fatalf("want handoff-start, got %+v", ps)
	}
}

func TestResponseHoldPrevIDGapRetries(t *testing.T) {
	st, msgs := testState(t, nil)
	addSession(st, "r1", ResponseHold, 8192, "ch#5")
	*msgs = nil
	st.receive(&publish.Item{Channel: "ch", ID: "7", PrevID: "6", HTTPResponse: &publish.HTTPResponseFormat{Code: 200, Body: []byte("x")}})
	ps := packets(t, *msgs, "r1")
	if len(ps) != 1 || ps[0].Type != zhttp.HandoffStart {
		t.Fatalf("want handoff-start before retry, got %+v", ps)
	}
}

func TestMergeHeaders(t *testing.T) {
	base := []zhttp.Header{{Name: "Server", Value: "s"}, {Name: "Content-Type", Value: "a"}}
	tests := []struct {
		pub  []zhttp.Header
		want string
	}{
		{nil, "[{Server s} {Content-Type a}]"},
		{[]zhttp.Header{{Name: "content-type", Value: "b"}}, "[{Server s} {content-type b}]"},
		{[]zhttp.Header{{Name: "Grip-Channel", Value: "x"}, {Name: "X", Value: "1"}}, "[{Server s} {Content-Type a} {X 1}]"},
		{[]zhttp.Header{{Name: "Grip-Expose-Headers", Value: "Server"}}, "[{Content-Type a}]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(mergeHeaders(base, tt.pub)); got != tt.want {
			t.Errorf("mergeHeaders(%v) = %s, want %s", tt.pub, got, tt.want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	st, msgs := testState(t, func(c *Config) { c.MessageRate = 2; c.MessageHWM = 1 })
	for i := 0; i < 4; i++ {
		addSession(st, fmt.Sprint("s", i), StreamHold, 1<<20, "ch")
	}
	*msgs = nil
	st.receive(streamItem("ch", "", "", "m"))
	// Count deliveries per session (a list-form packet carries several).
	delivered := func() int {
		n := 0
		for i := 0; i < 4; i++ {
			if strings.Contains(bodies(packets(t, *msgs, fmt.Sprint("s", i))), "m") {
				n++
			}
		}
		return n
	}
	n := delivered()
	if n != 2 {
		t.Errorf("delivered %d at once, want 2 (message_rate)", n)
	}
	if d := st.e.metrics.hwmDropped.Load(); d != 1 {
		t.Errorf("hwm dropped %d, want 1", d)
	}
	st.now = st.now.Add(time.Second)
	st.timers.fireDue(st.now, 10)
	if n := delivered(); n != 3 {
		t.Errorf("delivered %d after a second, want 3", n)
	}
}

func TestChannelLifecycle(t *testing.T) {
	st, _ := testState(t, func(c *Config) { c.SubscriptionLinger = time.Minute })
	hs := addSession(st, "r1", ResponseHold, 8192, "ch")
	hs.destroy()
	if st.channels["ch"] == nil {
		t.Fatal("response-mode channel should linger")
	}
	st.now = st.now.Add(61 * time.Second)
	st.timers.fireDue(st.now, 10)
	if st.channels["ch"] != nil {
		t.Error("channel still there after linger")
	}
	hs2 := addSession(st, "s1", StreamHold, 100, "c2")
	hs2.destroy()
	if st.channels["c2"] != nil {
		t.Error("stream channel should go at once")
	}
}
