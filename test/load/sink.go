package load

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"
)

// Payloads the tool publishes. A measured message is "m <seq> <ns>", where
// ns is the publish time in nanoseconds since the tool's epoch; a warm-up
// message is "w" (it only proves a subscriber is subscribed). Anything else
// a subscriber receives (the stream preamble) is ignored.
var epoch = time.Now()

// now is nanoseconds since epoch on the monotonic clock.
func now() int64 { return int64(time.Since(epoch)) }

// measuredPayload is the content of measured message seq published at ns.
func measuredPayload(seq int, ns int64) string {
	return "m " + strconv.Itoa(seq) + " " + strconv.FormatInt(ns, 10)
}

const warmPayload = "w"

// Sink collects what every subscriber of a workload receives: delivered
// counts, per-delivery latency and, per message, the time its last delivery
// arrived (the "burst" time).
type Sink struct {
	msgs int // measured messages each subscriber should receive
	subs []*Sub

	delivered atomic.Int64
	dupes     atomic.Int64
	bad       atomic.Int64
	warmed    atomic.Int64
	connected atomic.Int64
	warmRecv  atomic.Int64
	lastNs    atomic.Int64
	// burst[seq] is the latest receive time (ns since epoch) of message seq.
	burst []atomic.Int64
}

// Sub is one subscriber's state. It is written only by the subscriber's
// reader goroutine (the warm flag is atomic because the warm-up loop reads
// it); its samples are read after that goroutine has exited.
type Sub struct {
	Channel   string
	connected atomic.Bool
	warm      atomic.Bool
	seen      []bool
	lat       []int64
}

// NewSink prepares n subscribers, subscriber i on channel channel(i), each
// expecting msgs measured messages.
func NewSink(n, msgs int, channel func(i int) string) *Sink {
	s := &Sink{msgs: msgs, subs: make([]*Sub, n), burst: make([]atomic.Int64, msgs)}
	for i := range s.subs {
		s.subs[i] = &Sub{Channel: channel(i), seen: make([]bool, msgs), lat: make([]int64, 0, msgs)}
	}
	return s
}

// Expected is the number of deliveries a complete run makes to the
// subscribers that connected (failed connections are reported on their
// own, not as missed deliveries).
func (s *Sink) Expected() int64 { return s.connected.Load() * int64(s.msgs) }

// Delivered is the number of distinct measured deliveries so far.
func (s *Sink) Delivered() int64 { return s.delivered.Load() }

// Warmed is how many subscribers have received a warm-up message.
func (s *Sink) Warmed() int64 { return s.warmed.Load() }

// Connected marks subscriber i as connected (its stream or WebSocket is
// open); only connected subscribers are warmed up.
func (s *Sink) Connected(i int) {
	if !s.subs[i].connected.Swap(true) {
		s.connected.Add(1)
	}
}

// NumConnected is how many subscribers are connected.
func (s *Sink) NumConnected() int64 { return s.connected.Load() }

// Receive handles one message received by subscriber i at recv (ns since
// epoch).
func (s *Sink) Receive(i int, msg []byte, recv int64) {
	sub := s.subs[i]
	switch {
	case len(msg) == 1 && msg[0] == 'w':
		s.warmRecv.Add(1)
		if !sub.warm.Load() {
			sub.warm.Store(true)
			s.warmed.Add(1)
		}
		return
	case len(msg) < 2 || msg[0] != 'm' || msg[1] != ' ':
		return // the stream preamble, or anything else that is not ours
	}
	rest := msg[2:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		s.bad.Add(1)
		return
	}
	seq, err1 := strconv.Atoi(string(rest[:sp]))
	ns, err2 := strconv.ParseInt(string(rest[sp+1:]), 10, 64)
	if err1 != nil || err2 != nil || seq < 0 || seq >= s.msgs {
		s.bad.Add(1)
		return
	}
	if sub.seen[seq] {
		s.dupes.Add(1)
		return
	}
	sub.seen[seq] = true
	sub.lat = append(sub.lat, recv-ns)
	s.delivered.Add(1)
	storeMax(&s.burst[seq], recv)
	storeMax(&s.lastNs, recv)
}

func storeMax(a *atomic.Int64, v int64) {
	for i := 0; i < 1000; i++ {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// unwarmedChannels lists, without duplicates, the channels of subscribers
// that are connected and have not seen a warm-up message yet.
func (s *Sink) unwarmedChannels() []string {
	seen := map[string]bool{}
	var out []string
	for _, sub := range s.subs {
		if sub.connected.Load() && !sub.warm.Load() && !seen[sub.Channel] {
			seen[sub.Channel] = true
			out = append(out, sub.Channel)
		}
	}
	return out
}

// FanoutStats are the delivery figures of workloads 2–4.
type FanoutStats struct {
	Delivered, Expected, Dupes, Bad int64
	Latency                         Dist
	// Burst summarises, per message, the time from its publish to its
	// last delivery.
	Burst Dist
	// DeliveriesPerSec is deliveries over the time from the first publish
	// to the last delivery. At a fixed publish rate it cannot exceed the
	// offered load (rate × subscribers).
	DeliveriesPerSec float64
	// FanoutPerSec is the fan-out throughput of one message: connected
	// subscribers over the median burst time (publish to last delivery).
	FanoutPerSec float64
}

// Stats merges the samples. Call it only after every reader has exited.
// pubNs[seq] is when message seq was published (ns since epoch; 0 = not
// published) and firstPub the first publish time.
func (s *Sink) Stats(pubNs []int64, firstPub int64) FanoutStats {
	var all []int64
	for _, sub := range s.subs {
		all = append(all, sub.lat...)
	}
	var bursts []int64
	for seq := range s.burst {
		if last := s.burst[seq].Load(); last > 0 && seq < len(pubNs) && pubNs[seq] > 0 {
			bursts = append(bursts, last-pubNs[seq])
		}
	}
	st := FanoutStats{
		Delivered: s.delivered.Load(),
		Expected:  s.Expected(),
		Dupes:     s.dupes.Load(),
		Bad:       s.bad.Load(),
		Latency:   Summarize(all),
		Burst:     Summarize(bursts),
	}
	if st.Burst.P50 > 0 {
		st.FanoutPerSec = float64(s.connected.Load()) / st.Burst.P50.Seconds()
	}
	if last := s.lastNs.Load(); last > firstPub && firstPub > 0 {
		st.DeliveriesPerSec = perSecond(st.Delivered, time.Duration(last-firstPub))
	}
	return st
}
