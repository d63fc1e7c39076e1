package engine

import (
	"time"

	"github.com/pushpin-go/pushpin/protocol/publish"
)

// limiter rate-limits deliveries of one route (message_rate per second,
// message_hwm queued; reference §6.3). Deliveries within the rate go out at
// once; the rest wait in a bounded FIFO drained every limiterTick; past
// message_hwm they are dropped and counted.
type limiter struct {
	route  string
	tokens float64
	last   time.Time
	queue  []queuedDelivery
	head   int
}

type queuedDelivery struct {
	sub *subscription
	it  *publish.Item
}

const limiterTick = 10 * time.Millisecond

// limit reports whether sub may receive d now. When it may not, the
// delivery is queued (or dropped past the HWM) and false is returned.
func (st *state) limit(sub *subscription, d *delivery) bool {
	rate := st.cfg.MessageRate
	if rate < 0 {
		return true
	}
	route := sub.route()
	l := st.limiters[route]
	if l == nil {
		l = &limiter{route: route, tokens: float64(rate), last: st.now}
		st.limiters[route] = l
	}
	l.refill(st.now, rate)
	cost := st.blocks(d.it)
	if l.head == len(l.queue) && l.tokens >= cost {
		l.tokens -= cost
		return true
	}
	if hwm := st.cfg.MessageHWM; hwm >= 0 && len(l.queue)-l.head >= hwm {
		st.e.metrics.hwmDropped.Add(1)
		st.log.warnf("exceeded publish hwm (%d) for route %s, dropping message", hwm, route)
		return false
	}
	l.queue = append(l.queue, queuedDelivery{sub: sub, it: d.it})
	st.armLimiter()
	return false
}

func (l *limiter) refill(now time.Time, rate int) {
	el := now.Sub(l.last).Seconds()
	l.last = now
	l.tokens += el * float64(rate)
	if max := float64(rate); l.tokens > max {
		l.tokens = max
	}
}

// blocks is the cost of an item: 1, or ceil(size/message_block_size).
func (st *state) blocks(it *publish.Item) float64 {
	bs := st.cfg.MessageBlockSize
	if bs <= 0 {
		return 1
	}
	size := it.Size
	if !it.HasSize {
		size = itemSize(it)
	}
	n := (size + bs - 1) / bs
	return float64(max(n, 1))
}

func itemSize(it *publish.Item) int {
	n := 0
	if f := it.HTTPResponse; f != nil {
		n = max(n, len(f.Body))
	}
	if f := it.HTTPStream; f != nil {
		n = max(n, len(f.Content))
	}
	if f := it.WSMessage; f != nil {
		n = max(n, len(f.Content))
	}
	return n
}

// armLimiter schedules the drain timer if it is not armed.
func (st *state) armLimiter() {
	if st.limiterTimer == nil {
		st.limiterTimer = newTimer(func(time.Time) { st.drainLimiters() })
	}
	if !st.limiterTimer.armed() {
		st.timers.set(st.limiterTimer, st.now.Add(limiterTick))
	}
}

// drainLimiters delivers queued items as tokens allow.
func (st *state) drainLimiters() {
	rate := st.cfg.MessageRate
	pending := false
	var d delivery
	var cur *publish.Item
	for route, l := range st.limiters {
		l.refill(st.now, rate)
		for l.head < len(l.queue) {
			q := l.queue[l.head]
			cost := st.blocks(q.it)
			if l.tokens < cost {
				break
			}
			l.tokens -= cost
			l.queue[l.head] = queuedDelivery{}
			l.head++
			if q.sub.idx < 0 {
				continue
			}
			if cur != q.it {
				d.flush(st)
				d = delivery{}
				d.init(q.it, nil)
				cur = q.it
			}
			if st.deliverTo(q.sub, &d) {
				st.stats.message(q.sub.ch.name, q.it.ID, 1, q.sub.kind)
			}
		}
		if l.head == len(l.queue) {
			l.queue, l.head = l.queue[:0], 0
			if l.tokens >= float64(rate) {
				delete(st.limiters, route)
			}
		} else {
			pending = true
			if l.head > 1024 && l.head*2 > len(l.queue) {
				l.queue = append(l.queue[:0], l.queue[l.head:]...)
				l.head = 0
			}
		}
	}
	d.flush(st)
	if pending {
		st.armLimiter()
	}
}
