package engine

import (
	"bytes"
	"time"

	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// subKind is the kind of session behind a subscription; it is also the stats
// "mode".
type subKind uint8

const (
	subResponse subKind = iota
	subStream
	subWS
	subKinds
)

func (k subKind) String() string {
	switch k {
	case subResponse:
		return "response"
	case subStream:
		return "stream"
	}
	return "ws"
}

// subscription ties one session to one channel.
type subscription struct {
	ch      *channel
	kind    subKind
	hs      *httpSession
	ws      *wsSession
	filters []string
	prevID  string
	hasPrev bool
	idx     int  // position in ch.subs
	got     bool // received a message since the last next-link tick
}

// channel is one channel with at least one subscriber (or lingering).
type channel struct {
	name string
	subs []*subscription
	n    [subKinds]int

	// active: the SUB input is subscribed and stats report the channel.
	active bool
	// lingering: no subscribers, but a response-mode subscription ended
	// less than subscription_linger ago (reference §5.5).
	linger *timer
	// subscribed fires subscribedDelay after activation.
	subscribed *timer

	// Sequencer (reference §6.3): items whose prev-id does not follow the
	// last id wait here, keyed by prev-id.
	seqLast    string
	seqHasLast bool
	pending    map[string]*pendingItem
}

type pendingItem struct {
	it    *publish.Item
	timer *timer
}

// channel returns the named channel, creating it.
func (st *state) channel(name string) *channel {
	ch := st.channels[name]
	if ch == nil {
		ch = &channel{name: name}
		st.channels[name] = ch
	}
	return ch
}

// subscribe adds a subscription and activates the channel on its first one.
func (st *state) subscribe(sub *subscription) {
	ch := sub.ch
	sub.idx = len(ch.subs)
	ch.subs = append(ch.subs, sub)
	ch.n[sub.kind]++
	if ch.linger != nil {
		st.timers.stop(ch.linger)
	}
	if !ch.active {
		st.activate(ch)
	}
	st.stats.subChanged(ch, sub.kind)
}

// unsubscribe removes a subscription (swap-remove: order among subscribers
// carries no meaning).
func (st *state) unsubscribe(sub *subscription) {
	ch := sub.ch
	if sub.idx < 0 || sub.idx >= len(ch.subs) || ch.subs[sub.idx] != sub {
		return
	}
	last := len(ch.subs) - 1
	moved := ch.subs[last]
	ch.subs[sub.idx] = moved
	moved.idx = sub.idx
	ch.subs[last] = nil
	ch.subs = ch.subs[:last]
	sub.idx = -1
	ch.n[sub.kind]--
	st.stats.subChanged(ch, sub.kind)
	if len(ch.subs) > 0 {
		return
	}
	if sub.kind == subResponse && st.cfg.SubscriptionLinger > 0 {
		if ch.linger == nil {
			ch.linger = newTimer(func(time.Time) {
				if len(ch.subs) == 0 {
					st.deactivate(ch)
				}
			})
		}
		st.timers.set(ch.linger, st.now.Add(st.cfg.SubscriptionLinger))
		return
	}
	st.deactivate(ch)
}

func (st *state) activate(ch *channel) {
	ch.active = true
	if sub := st.e.subIn; sub != nil {
		topic := ch.name
		if err := sub.Post(func(s *zmqSocket) error { return s.SetSubscribe(topic) }); err != nil {
			st.log.warnf("push-in-sub: subscribe %q: %v", topic, err)
		}
	}
	if ch.subscribed == nil {
		ch.subscribed = newTimer(func(time.Time) { st.updateChannel(ch) })
	}
	st.timers.set(ch.subscribed, st.now.Add(subscribedDelay))
}

func (st *state) deactivate(ch *channel) {
	if !ch.active {
		return
	}
	ch.active = false
	if sub := st.e.subIn; sub != nil {
		topic := ch.name
		if err := sub.Post(func(s *zmqSocket) error { return s.SetUnsubscribe(topic) }); err != nil {
			st.log.warnf("push-in-sub: unsubscribe %q: %v", topic, err)
		}
	}
	st.timers.stop(ch.subscribed)
	st.timers.stop(ch.linger)
	// The sequencer forgets the channel: the next first message may have
	// any prev-id (Pushpin clears its last id on the last unsubscribe).
	for _, p := range ch.pending {
		st.timers.stop(p.timer)
	}
	ch.pending = nil
	ch.seqHasLast = false
	st.stats.channelGone(ch)
	delete(st.channels, ch.name)
}

// updateChannel runs subscribedDelay after a channel's first subscription:
// response holds are retried and stream holds with a next link refetch it,
// so nothing published while the subscription propagated is lost.
func (st *state) updateChannel(ch *channel) {
	subs := append(st.scratch[:0], ch.subs...)
	for _, sub := range subs {
		if hs := sub.hs; hs != nil {
			hs.update()
		}
	}
	clear(subs)
	st.scratch = subs[:0]
}

// --- publishing ---

// receive takes one published item from any input: de-duplication, the
// sequencer, then delivery.
func (st *state) receive(it *publish.Item) {
	st.e.metrics.received.Add(1)
	st.stats.report.received++
	if st.seenID(it) {
		st.log.debugf("publish: dropping duplicate item channel=%s id=%s", it.Channel, it.ID)
		return
	}
	ch := st.channels[it.Channel]
	if ch == nil || !ch.active || it.NoSeq {
		st.deliver(ch, it)
		return
	}
	if it.PrevID != "" && ch.seqHasLast && ch.seqLast != it.PrevID {
		st.hold(ch, it)
		return
	}
	st.deliver(ch, it)
	st.releaseFollowing(ch)
}

// maxPendingPerChannel bounds the sequencer's queue per channel.
const maxPendingPerChannel = 100

func (st *state) hold(ch *channel, it *publish.Item) {
	if ch.pending == nil {
		ch.pending = map[string]*pendingItem{}
	}
	if len(ch.pending) >= maxPendingPerChannel {
		st.log.debugf("publish: sequencer queue full for channel=%s, delivering out of order", ch.name)
		st.deliver(ch, it)
		return
	}
	if old, ok := ch.pending[it.PrevID]; ok {
		st.timers.stop(old.timer)
	}
	p := &pendingItem{it: it}
	p.timer = newTimer(func(time.Time) {
		// message_wait expired: deliver anyway and continue the chain.
		if ch.pending[it.PrevID] != p {
			return
		}
		delete(ch.pending, it.PrevID)
		st.deliver(ch, it)
		st.releaseFollowing(ch)
	})
	ch.pending[it.PrevID] = p
	st.timers.set(p.timer, st.now.Add(st.cfg.MessageWait))
}

// releaseFollowing delivers held items that now follow the last id.
func (st *state) releaseFollowing(ch *channel) {
	for i := 0; i < maxPendingPerChannel && ch.seqHasLast && len(ch.pending) > 0; i++ {
		p, ok := ch.pending[ch.seqLast]
		if !ok {
			return
		}
		delete(ch.pending, ch.seqLast)
		st.timers.stop(p.timer)
		st.deliver(ch, p.it)
	}
}

// deliver fans an item out to the channel's subscribers. ch may be nil (no
// subscribers).
func (st *state) deliver(ch *channel, it *publish.Item) {
	st.setLastID(it.Channel, it.ID)
	if ch != nil {
		ch.seqLast, ch.seqHasLast = it.ID, it.ID != ""
	}
	receivers := 0
	if ch != nil && len(ch.subs) > 0 {
		receivers = st.fanOut(ch, it)
	}
	if st.log.enabled(LevelInfo) {
		st.log.infof("publish channel=%s receivers=%d", it.Channel, receivers)
	}
}

// fanOut delivers it to every subscriber of ch and returns the count.
// Per-item work (the encoded stream body, the ws content) is done once;
// per-subscriber work is the packet header and the filters.
func (st *state) fanOut(ch *channel, it *publish.Item) int {
	subs := append(st.scratch[:0], ch.subs...)
	var d delivery
	d.init(it, st.encBuf[:0])
	count := [subKinds]int{}
	for _, sub := range subs {
		if sub.idx < 0 {
			continue // removed by an earlier delivery in this fan-out
		}
		if !d.has(sub.kind) {
			continue
		}
		if !st.allowed(sub, it) {
			continue
		}
		if !st.limit(sub, &d) {
			continue
		}
		if st.deliverTo(sub, &d) {
			count[sub.kind]++
		}
	}
	clear(subs)
	st.scratch = subs[:0]
	d.flush(st)
	st.encBuf = d.bodyElem[:0]
	total := 0
	for k, n := range count {
		if n > 0 {
			st.stats.message(ch.name, it.ID, n, subKind(k))
			total += n
		}
	}
	return total
}

// deliverTo hands the item to one subscriber's session.
func (st *state) deliverTo(sub *subscription, d *delivery) bool {
	sub.got = true
	switch sub.kind {
	case subResponse:
		return sub.hs.deliverResponse(sub, d)
	case subStream:
		return sub.hs.deliverStream(sub, d)
	default:
		return sub.ws.deliver(sub, d)
	}
}

// delivery holds the per-item encodings shared by all subscribers.
type delivery struct {
	it       *publish.Item
	bodyElem []byte // tnetstring element of the http-stream content
	wsBatch  wsBatch
	data     dataBatch
}

// init prepares the shared encodings; buf is reused for the body element
// (it only lives for one fan-out: queued output keeps the content, not the
// element).
func (d *delivery) init(it *publish.Item, buf []byte) {
	d.it = it
	if f := it.HTTPStream; f != nil && f.Action == publish.ActionSend {
		d.bodyElem = appendTnStr(buf, f.Content)
	}
}

func (d *delivery) has(k subKind) bool {
	switch k {
	case subResponse:
		return d.it.HTTPResponse != nil
	case subStream:
		return d.it.HTTPStream != nil
	}
	return d.it.WSMessage != nil
}

// flush sends what the delivery batched: stream data, then ws-control.
func (d *delivery) flush(st *state) {
	d.data.flush(st, d.bodyElem)
	d.wsBatch.flush(st)
}

// maxMultiIDs bounds the ids of one list-form packet, as Pushpin and
// condure batch them (reference §2.6).
const maxMultiIDs = 128

// dataBatch gathers the stream sessions that take one published body
// straight away, per condure instance, so the body goes out once per up to
// maxMultiIDs sessions in a list-form id packet (ZHTTP ext.multi, which
// condure advertises on every packet and applies to each listed session
// with its own seq) instead of once per session. Both the handler and
// condure then do a fraction of the per-subscriber work in a fan-out.
// A session is listed at most once per item, and the batch is flushed
// before the fan-out returns, so each session's packets stay in seq order.
type dataBatch struct {
	// entries is per condure instance (a handful at most, so a slice
	// beats a map); borrowed from state.dataBatches for the fan-out.
	entries []batchEntry
	used    bool
}

type batchEntry struct {
	addr []byte
	p    *zhttp.Packet
}

func (b *dataBatch) add(st *state, addr, id []byte, seq int, content, bodyElem []byte) {
	if !b.used {
		b.entries, b.used = st.dataBatches, true
	}
	var p *zhttp.Packet
	for i := range b.entries {
		if bytes.Equal(b.entries[i].addr, addr) {
			p = b.entries[i].p
			break
		}
	}
	if p == nil {
		p = &zhttp.Packet{Type: zhttp.Data, More: true, Multi: true}
		b.entries = append(b.entries, batchEntry{addr: append([]byte(nil), addr...), p: p})
		st.dataBatches = b.entries
	}
	p.Body = content
	p.IDs = append(p.IDs, zhttp.MultiID{ID: id, Seq: seq})
	if len(p.IDs) >= maxMultiIDs {
		b.send(st, addr, p, bodyElem)
	}
}

// send writes one batch: a lone session gets the plain single-id packet.
func (b *dataBatch) send(st *state, addr []byte, p *zhttp.Packet, bodyElem []byte) {
	switch len(p.IDs) {
	case 0:
	case 1:
		st.out.sendData(addr, p.IDs[0].ID, p.IDs[0].Seq, bodyElem, true)
	default:
		st.out.send(addr, p)
	}
	clear(p.IDs)
	p.IDs = p.IDs[:0]
}

func (b *dataBatch) flush(st *state, bodyElem []byte) {
	for _, e := range b.entries {
		b.send(st, e.addr, e.p, bodyElem)
		e.p.Body = nil
	}
}
