package engine

import (
	"strconv"
	"time"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/wscontrol"
)

// wsSession is a client WebSocket (or WebSocket-over-HTTP) connection whose
// GRIP side the proxy reports through ws-control (reference §4.5, §5.7).
// The proxy keeps the connection; the handler keeps its subscriptions and
// tells the proxy what to send.
type wsSession struct {
	st            *state
	cid           string
	cidB          []byte
	uri           string
	route         string
	prefix        string
	separateStats bool

	subs     []*subscription
	implicit map[string]bool // sub= channels, not unsubscribable
	metaMap  map[string]string

	ttlTimer *timer

	// keep-alive content sent on need-keep-alive; nil = none
	kaContent []byte
	kaType    string

	delayed      []byte
	delayedType  string
	hasDelayed   bool
	delayedTimer *timer

	nextReqID int
	gone      bool
}

func (ws *wsSession) meta() map[string]string { return ws.metaMap }

func (ws *wsSession) subscribed(channel string) bool {
	for _, s := range ws.subs {
		if s.ch.name == channel {
			return true
		}
	}
	return false
}

func (ws *wsSession) prevIDs() map[string]string {
	m := make(map[string]string, len(ws.subs))
	for _, s := range ws.subs {
		m[s.ch.name] = s.prevID
	}
	return m
}

// onWSControl decodes a ws-control packet from the proxy and queues it.
func (e *Engine) onWSControl(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 1 {
		e.log.warnf("wscontrol: received message with %d frames, skipping", len(msg))
		return
	}
	p := new(wscontrol.Packet)
	if err := wscontrol.Decode(msg[0], p); err != nil {
		e.log.warnf("wscontrol: received message with invalid format: %v", err)
		return
	}
	if e.log.enabled(LevelDebug) {
		e.log.debugf("wscontrol: IN %s", trimForLog(msg[0]))
	}
	e.post(e.ctx, func() { e.st.wsControl(p) })
}

// wsOut collects items for the proxy and sends them in packets of at most
// wscontrol.MaxKeepAliveBatch items.
type wsOut struct {
	items []wscontrol.Item
}

func (o *wsOut) add(it wscontrol.Item) { o.items = append(o.items, it) }

func (o *wsOut) flush(st *state) {
	for len(o.items) > 0 {
		n := min(len(o.items), wscontrol.MaxKeepAliveBatch)
		p := wscontrol.Packet{Items: o.items[:n]}
		st.sendWSControl(&p)
		o.items = o.items[n:]
	}
	o.items = nil
}

func (st *state) sendWSControl(p *wscontrol.Packet) {
	a := st.e.wsCtlOut
	if a == nil {
		return
	}
	msg := p.Encode()
	if st.log.enabled(LevelDebug) {
		st.log.debugf("wscontrol: OUT %s", trimForLog(msg))
	}
	if err := a.TrySend([][]byte{msg}); err != nil {
		st.e.metrics.wsControlDropped.Add(1)
		st.log.warnf("wscontrol: cannot send to proxy: %v", err)
	}
}

// wsControl handles one packet from the proxy.
func (st *state) wsControl(p *wscontrol.Packet) {
	var out wsOut
	defer out.flush(st)
	for i := range p.Items {
		it := &p.Items[i]
		cid := string(it.CID)
		ws := st.ws[cid]
		if ws == nil && it.Type != wscontrol.Here {
			if it.Type != wscontrol.Gone && it.Type != wscontrol.Cancel && it.Type != wscontrol.Ack {
				out.add(wscontrol.Item{CID: []byte(cid), Type: wscontrol.Cancel})
			}
			continue
		}
		switch it.Type {
		case wscontrol.Here:
			if ws == nil {
				ws = st.newWSSession(it)
			}
			ws.refresh(it)
		case wscontrol.KeepAlive:
			ws.refresh(it)
		case wscontrol.Gone, wscontrol.Cancel:
			ws.destroy()
		case wscontrol.Grip:
			m, err := wscontrol.ParseControlMessage(it.Message)
			if err != nil {
				// Pushpin abandons the whole packet, ack included; the
				// proxy's ack timer then tears the connection down.
				st.log.warnf("failed to parse grip control message: %v", err)
				return
			}
			ws.control(&m, &out)
			if len(it.ReqID) > 0 {
				out.add(wscontrol.Item{CID: ws.cidB, Type: wscontrol.Ack, ReqID: append([]byte(nil), it.ReqID...)})
			}
		case wscontrol.Subscribe:
			if ws.implicit == nil {
				ws.implicit = map[string]bool{}
			}
			name := ws.prefix + it.Channel
			ws.implicit[name] = true
			ws.subscribe(name, nil)
			if len(it.ReqID) > 0 {
				out.add(wscontrol.Item{CID: ws.cidB, Type: wscontrol.Ack, ReqID: append([]byte(nil), it.ReqID...)})
			}
		case wscontrol.NeedKeepAlive:
			if ws.kaContent != nil {
				out.add(ws.sendItem(ws.kaType, ws.kaContent, true))
			}
		case wscontrol.Ack:
		}
	}
}

func (st *state) newWSSession(it *wscontrol.Item) *wsSession {
	cid := string(it.CID)
	ws := &wsSession{
		st:            st,
		cid:           cid,
		cidB:          []byte(cid),
		uri:           it.URI,
		route:         it.Route,
		prefix:        it.ChannelPrefix,
		separateStats: it.SeparateStats,
	}
	ws.ttlTimer = newTimer(func(time.Time) {
		st.log.debugf("wscontrol: session %s expired", ws.cid)
		ws.destroy()
	})
	ws.delayedTimer = newTimer(func(time.Time) { ws.flushDelayed() })
	st.ws[cid] = ws
	st.stats.wsConnected(ws)
	return ws
}

func (ws *wsSession) refresh(it *wscontrol.Item) {
	ttl := wscontrol.SessionTTL
	if it.Has&wscontrol.HasTTL != 0 && it.TTL > 0 {
		ttl = it.TTL
	}
	ws.st.timers.set(ws.ttlTimer, ws.st.now.Add(time.Duration(ttl)*time.Second))
}

func (ws *wsSession) destroy() {
	if ws.gone {
		return
	}
	ws.gone = true
	st := ws.st
	for _, s := range ws.subs {
		st.unsubscribe(s)
	}
	ws.subs = nil
	st.timers.stop(ws.ttlTimer)
	st.timers.stop(ws.delayedTimer)
	delete(st.ws, ws.cid)
	st.stats.wsDisconnected(ws)
}

func (ws *wsSession) subscribe(name string, filters []string) {
	st := ws.st
	for _, s := range ws.subs {
		if s.ch.name == name {
			s.filters = filters
			return
		}
	}
	if len(ws.subs) >= st.cfg.ConnectionSubscriptionMax {
		st.log.warnf("wscontrol: %s: too many subscriptions, ignoring %s", ws.cid, name)
		return
	}
	sub := &subscription{ch: st.channel(name), kind: subWS, ws: ws, filters: filters}
	ws.subs = append(ws.subs, sub)
	st.subscribe(sub)
	st.log.infof("subscribe %s channel=%s", ws.uri, name)
}

func (ws *wsSession) unsubscribe(name string) {
	if ws.implicit[name] {
		return
	}
	for i, s := range ws.subs {
		if s.ch.name == name {
			ws.st.unsubscribe(s)
			ws.subs = append(ws.subs[:i], ws.subs[i+1:]...)
			ws.st.log.infof("unsubscribe %s channel=%s", ws.uri, name)
			return
		}
	}
}

// sendItem builds a send item; session-originated sends (keep-alives,
// delayed messages) carry a req-id and queue, publishes neither.
func (ws *wsSession) sendItem(ctype string, content []byte, own bool) wscontrol.Item {
	it := wscontrol.Item{CID: ws.cidB, Type: wscontrol.Send, ContentType: ctype, Message: nonNil(content)}
	if own {
		it.ReqID = []byte(strconv.Itoa(ws.nextReqID))
		ws.nextReqID++
		it.Queue = true
	}
	return it
}

// control applies a GRIP control message.
func (ws *wsSession) control(m *wscontrol.ControlMessage, out *wsOut) {
	st := ws.st
	switch m.Type {
	case wscontrol.MsgSubscribe:
		ws.subscribe(ws.prefix+m.Channel, m.Filters)
	case wscontrol.MsgUnsubscribe:
		ws.unsubscribe(ws.prefix + m.Channel)
	case wscontrol.MsgDetach:
		out.add(wscontrol.Item{CID: ws.cidB, Type: wscontrol.Detach})
	case wscontrol.MsgSession:
		// Session ids only matter with a state service, which 1.36 ships
		// without.
	case wscontrol.MsgSetMeta:
		if m.MetaValue == nil {
			delete(ws.metaMap, m.MetaName)
		} else {
			if ws.metaMap == nil {
				ws.metaMap = map[string]string{}
			}
			ws.metaMap[m.MetaName] = *m.MetaValue
		}
	case wscontrol.MsgKeepAlive:
		it := wscontrol.Item{CID: ws.cidB, Type: wscontrol.KeepAliveSetup}
		if m.Content != nil {
			ws.kaContent, ws.kaType = m.Content, m.ContentType
			it.SetTimeout(m.EffectiveTimeout())
			it.KeepAliveMode = m.KeepAliveMode()
		} else {
			ws.kaContent = nil
		}
		out.add(it)
	case wscontrol.MsgSendDelayed:
		ws.delayed, ws.delayedType, ws.hasDelayed = m.Content, m.ContentType, true
		st.timers.set(ws.delayedTimer, st.now.Add(time.Duration(m.EffectiveTimeout())*time.Second))
	case wscontrol.MsgFlushDelayed:
		if ws.hasDelayed {
			out.add(ws.takeDelayed())
		}
	}
}

func (ws *wsSession) takeDelayed() wscontrol.Item {
	it := ws.sendItem(ws.delayedType, ws.delayed, true)
	ws.delayed, ws.hasDelayed = nil, false
	ws.st.timers.stop(ws.delayedTimer)
	return it
}

func (ws *wsSession) flushDelayed() {
	if !ws.hasDelayed || ws.gone {
		return
	}
	var out wsOut
	out.add(ws.takeDelayed())
	out.flush(ws.st)
}

// wsBatch collects the ws-control items of one fan-out.
type wsBatch struct{ out wsOut }

func (b *wsBatch) flush(st *state) { b.out.flush(st) }

// deliver sends a ws-message to the client through the proxy.
func (ws *wsSession) deliver(sub *subscription, d *delivery) bool {
	f := d.it.WSMessage
	switch f.Action {
	case publish.ActionHint:
		return false
	case publish.ActionClose:
		it := wscontrol.Item{CID: ws.cidB, Type: wscontrol.Close, Reason: f.Reason}
		if f.HasCode {
			it.SetCode(f.Code)
		}
		d.wsBatch.out.add(it)
		return true
	}
	content, err := filterContent(sub, f.ContentFilters, f.Content)
	if err != nil {
		ws.st.log.debugf("filter error for %s: %v", ws.cid, err)
		return false
	}
	d.wsBatch.out.add(ws.sendItem(f.Type.String(), content, false))
	ws.st.stats.report.sent++
	ws.st.e.metrics.sent.Add(1)
	if len(d.wsBatch.out.items) >= wscontrol.MaxKeepAliveBatch {
		d.wsBatch.out.flush(ws.st)
	}
	return true
}
