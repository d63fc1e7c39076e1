package connmgr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// --workers splits maxconn as condure 1.9.1 does (maxconn/workers each,
// verified: 2 workers and --stream-maxconn=5 serve 4), hands connections
// to the workers in turn, and reuses the last freed slot of a worker.
func TestWorkerSet(t *testing.T) {
	for _, tc := range []struct {
		workers, maxconn, want int
	}{
		{1, 1, 1}, {2, 2, 2}, {2, 3, 2}, {2, 5, 4}, {3, 4, 3}, {2, 10000, 10000}, {1024, 1024, 1024},
	} {
		t.Run(fmt.Sprintf("%d workers maxconn %d", tc.workers, tc.maxconn), func(t *testing.T) {
			ws := newWorkerSet(tc.workers, tc.maxconn)
			got := 0
			for ; got <= tc.maxconn; got++ {
				if _, _, ok := ws.acquire(); !ok {
					break
				}
			}
			if got != tc.want {
				t.Fatalf("served %d, want %d", got, tc.want)
			}
		})
	}
	ws := newWorkerSet(2, 10)
	var ids []string
	type ref struct {
		w    int
		slot uint32
	}
	var held []ref
	for i := 0; i < 4; i++ {
		w, slot, _ := ws.acquire()
		held = append(held, ref{w, slot})
		ids = append(ids, fmt.Sprintf("%d-%d", w, slot))
	}
	if got := strings.Join(ids, " "); got != "0-0 1-0 0-1 1-1" {
		t.Fatalf("assignment %s, want round robin", got)
	}
	ws.release(held[0].w, held[0].slot) // 0-0
	ws.release(held[2].w, held[2].slot) // 0-1
	// Worker 0's last freed slot (1) comes back first, then 0.
	w, slot, _ := ws.acquire()
	if w != 0 || slot != 1 {
		t.Fatalf("got %d-%d, want 0-1 (last freed)", w, slot)
	}
	if w, slot, _ := ws.acquire(); w != 1 || slot != 2 {
		t.Fatalf("got %d-%d, want 1-2", w, slot)
	}
	w, slot, _ = ws.acquire()
	if w != 0 || slot != 0 {
		t.Fatalf("got %d-%d, want 0-0", w, slot)
	}
	// A full worker is skipped: its turn goes to one with room.
	full := newWorkerSet(2, 2)
	a, _, _ := full.acquire()
	full.acquire()
	full.release(1-a, 0)
	if w, _, ok := full.acquire(); !ok || w != 1-a {
		t.Fatalf("got worker %d ok=%v, want %d", w, ok, 1-a)
	}
}

// Request ids carry the connection's worker and slot; a closed
// connection's slot serves the next one.
func TestIDsReuseSlots(t *testing.T) {
	e := start(t, func(c *Config) { c.Workers = 1 })
	e.waitIdle() // the readiness probes' connections are gone
	var got []string
	for i := 0; i < 3; i++ {
		c := e.dial()
		fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
		s, _ := e.request()
		got = append(got, string(s.id))
		c.Close()
		e.waitIdle()
	}
	// Each connection reuses the slot the previous one freed.
	prefix := got[0][:strings.LastIndexByte(got[0], '-')+1]
	for _, id := range got {
		if !strings.HasPrefix(id, "0-") || !strings.HasPrefix(id, prefix) {
			t.Fatalf("ids %v: want worker 0 and one slot each time", got)
		}
	}
	if got[0] == got[1] || got[1] == got[2] {
		t.Fatalf("ids %v not unique", got)
	}
}

// --messages-max bounds the WebSocket messages waiting for a connection:
// a packet starting one more fails the session; continuations and control
// packets do not start messages; HTTP sessions are bounded by queueLimit.
func TestMessagesMax(t *testing.T) {
	data := func(more bool) *zhttp.Packet { return &zhttp.Packet{Body: []byte("m"), More: more} }
	ping := &zhttp.Packet{Type: zhttp.Ping}
	for _, tc := range []struct {
		name     string
		ws       bool
		max      int
		packets  []*zhttp.Packet
		wantFull bool
	}{
		{"within", true, 3, []*zhttp.Packet{data(false), data(false), data(false)}, false},
		{"one more message", true, 3, []*zhttp.Packet{data(false), data(false), data(false), data(false)}, true},
		{"fragments are one message", true, 2, []*zhttp.Packet{data(true), data(true), data(false), data(true), data(false)}, false},
		{"third message after fragments", true, 2, []*zhttp.Packet{data(true), data(false), data(false), data(false)}, true},
		{"control packets", true, 1, []*zhttp.Packet{data(false), ping, ping, ping}, false},
		{"http ignores it", false, 1, []*zhttp.Packet{data(true), data(true), data(true)}, false},
		{"empty", true, 1, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &Server{cfg: Config{MessagesMax: tc.max}}
			c := &conn{srv: srv, notify: make(chan struct{}, 1)}
			s := &session{ws: tc.ws, conn: c}
			c.bindSession(s)
			for _, p := range tc.packets {
				c.enqueue(s, p)
			}
			_, full, _ := c.takeQueue(nil)
			if full != tc.wantFull {
				t.Fatalf("full=%v, want %v", full, tc.wantFull)
			}
		})
	}
	// Taking the queue hands the messages to the connection: the count
	// starts again.
	srv := &Server{cfg: Config{MessagesMax: 1}}
	c := &conn{srv: srv, notify: make(chan struct{}, 1)}
	s := &session{ws: true, conn: c}
	c.bindSession(s)
	for i := 0; i < 3; i++ {
		c.enqueue(s, data(false))
		if pk, full, _ := c.takeQueue(nil); full || len(pk) != 1 {
			t.Fatalf("round %d: %d packets, full=%v", i, len(pk), full)
		}
	}
	// The HTTP bound.
	h := &session{conn: c}
	c.bindSession(h)
	for i := 0; i <= queueLimit; i++ {
		c.enqueue(h, data(true))
	}
	if pk, full, _ := c.takeQueue(nil); !full || len(pk) != queueLimit {
		t.Fatalf("%d packets, full=%v", len(pk), full)
	}
}

// The accept path takes and returns a worker slot per connection.
func BenchmarkWorkerSet(b *testing.B) {
	ws := newWorkerSet(2, 10000)
	b.ReportAllocs()
	for b.Loop() {
		w, slot, ok := ws.acquire()
		if !ok {
			b.Fatal("full")
		}
		ws.release(w, slot)
	}
}

// The dispatcher hands each packet over with enqueue; the connection takes
// the queue in batches.
func BenchmarkEnqueueTake(b *testing.B) {
	srv := &Server{cfg: Config{MessagesMax: DefaultMessagesMax}}
	c := &conn{srv: srv, notify: make(chan struct{}, 1)}
	s := &session{ws: true, conn: c}
	c.bindSession(s)
	p := &zhttp.Packet{Body: []byte("m")}
	var pk []*zhttp.Packet
	b.ReportAllocs()
	for b.Loop() {
		c.enqueue(s, p)
		pk, _, _ = c.takeQueue(pk[:0])
	}
}
