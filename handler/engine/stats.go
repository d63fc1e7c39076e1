package engine

import (
	"sync/atomic"
	"time"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// Metrics are counters readable from any goroutine (Prometheus, tests).
type Metrics struct {
	received         atomic.Uint64 // published items received
	sent             atomic.Uint64 // messages delivered to clients
	hwmDropped       atomic.Uint64 // deliveries dropped past message_hwm
	slowClosed       atomic.Uint64 // sessions closed for a full output queue
	wsControlDropped atomic.Uint64 // ws-control packets the socket refused
	badPublish       atomic.Uint64 // publish requests/messages rejected
	replyDropped     atomic.Uint64 // ZRPC replies the socket queue refused
	connections      atomic.Int64  // current sessions (HTTP + WS)
	connMax          atomic.Int64  // max in the current report period
	connMinutes      atomic.Uint64
	requestsReceived atomic.Uint64 // from the proxy's counts
}

func newMetrics() *Metrics { return &Metrics{} }

// Snapshot is a copy of the counters.
type Snapshot struct {
	Received, Sent, HWMDropped, SlowClosed, WSControlDropped, BadPublish uint64
	Connections, ConnMax                                                 int64
	ConnMinutes, RequestsReceived                                        uint64
}

// Snapshot returns the current counters.
func (m *Metrics) Snapshot() Snapshot {
	return Snapshot{
		Received: m.received.Load(), Sent: m.sent.Load(), HWMDropped: m.hwmDropped.Load(),
		SlowClosed: m.slowClosed.Load(), WSControlDropped: m.wsControlDropped.Load(),
		BadPublish: m.badPublish.Load(), Connections: m.connections.Load(), ConnMax: m.connMax.Load(),
		ConnMinutes: m.connMinutes.Load(), RequestsReceived: m.requestsReceived.Load(),
	}
}

// Metrics returns the engine's counters.
func (e *Engine) Metrics() Snapshot { return e.metrics.Snapshot() }

// reportCounters accumulate one report period.
type reportCounters struct {
	received, sent, httpResponseSent  int
	headerBytesSent, contentBytesSent int
}

// statsState publishes the stats stream (reference §8.1): conn and sub
// packets on change and refreshed at 3/4 of their ttl, message packets per
// delivery, activity batched per 100 ms, and the report every
// stats_report_interval. Owned by the loop.
type statsState struct {
	st       *state
	report   reportCounters
	proxy    stats.Report // proxy report counters merged into ours
	activity int
	actTimer *timer // flushes activity activityDelay after the first count
	enc      tnetstring.Encoder
	sink     func(msg []byte) // tests: receives stats messages instead of the socket
	lastRep  time.Time
	lastRef  time.Time
	conns    int
	connMax  int
	connSecs float64
}

// activityDelay is how long activity counts are batched: Pushpin's
// StatsManager flushes them 100 ms after the first count (reference §8.1).
const activityDelay = 100 * time.Millisecond

func newStatsState(st *state) *statsState {
	s := &statsState{st: st, lastRep: time.Now(), lastRef: time.Now()}
	s.actTimer = newTimer(func(time.Time) { s.flushActivity() })
	return s
}

// addActivity counts billable activity and arms the 100 ms flush.
func (s *statsState) addActivity(n int) {
	if n <= 0 {
		return
	}
	s.activity += n
	if !s.actTimer.armed() {
		s.st.timers.set(s.actTimer, s.st.now.Add(activityDelay))
	}
}

// flushActivity sends the batched activity count.
func (s *statsState) flushActivity() {
	if s.activity > 0 && s.enabled() {
		s.send(&stats.Activity{Common: s.common("", false), Count: s.activity})
	}
	s.activity = 0
}

func (s *statsState) enabled() bool { return s.st.e.statsOut != nil || s.sink != nil }

func (s *statsState) send(p stats.Packet) {
	if !s.enabled() {
		return
	}
	f := stats.FormatT
	if s.st.cfg.StatsJSON {
		f = stats.FormatJ
	}
	s.sendRaw(stats.Append(nil, f, p))
}

// sendRaw queues an encoded stats message. The stats PUB never blocks the
// loop: when its queue is full the message is dropped, as a PUB past its
// HWM drops (reference §8.1: stats are best-effort).
func (s *statsState) sendRaw(msg []byte) {
	if s.st.log.enabled(LevelDebug) {
		s.st.log.debugf("stats: OUT %s", trimForLog(msg))
	}
	if s.sink != nil {
		s.sink(msg)
		return
	}
	_ = s.st.e.statsOut.TrySend([][]byte{msg})
}

func (s *statsState) common(route string, separate bool) stats.Common {
	c := stats.Common{From: s.st.cfg.InstanceID}
	if separate {
		c.Route = route
	}
	return c
}

func (s *statsState) countConn(delta int) {
	s.conns += delta
	s.connMax = max(s.connMax, s.conns)
	s.st.e.metrics.connections.Store(int64(s.conns))
	s.st.e.metrics.connMax.Store(int64(s.connMax))
}

func (s *statsState) connected(hs *httpSession) {
	s.countConn(1)
	s.addActivity(1)
	s.sendConn(hs)
}

func (s *statsState) sendConn(hs *httpSession) {
	if !s.enabled() {
		return
	}
	s.send(&stats.Conn{Common: s.common(hs.acc.Route, hs.acc.SeparateStats), ID: hs.connID, ConnType: stats.ConnHTTP,
		PeerAddress: hs.req.PeerAddress, SSL: hs.req.HTTPS, TTL: int(s.st.cfg.StatsConnectionTTL / time.Second)})
}

// disconnected reports a session gone. A session handed back to the proxy
// for a retry is not reported gone: the connection lives on and comes back
// in the next accept (pushpin-handler sends no "unavailable" then;
// verified).
func (s *statsState) disconnected(hs *httpSession) {
	s.countConn(-1)
	if s.enabled() && !hs.retried {
		s.send(&stats.Conn{Common: s.common(hs.acc.Route, hs.acc.SeparateStats), ID: hs.connID, Unavailable: true})
	}
}

func (s *statsState) wsConnected(ws *wsSession) {
	s.countConn(1)
	s.sendWSConn(ws)
}

func (s *statsState) sendWSConn(ws *wsSession) {
	if !s.enabled() {
		return
	}
	s.send(&stats.Conn{Common: s.common(ws.route, ws.separateStats), ID: ws.cid, ConnType: stats.ConnWS,
		TTL: int(s.st.cfg.StatsConnectionTTL / time.Second)})
}

func (s *statsState) wsDisconnected(ws *wsSession) {
	s.countConn(-1)
	if s.enabled() {
		s.send(&stats.Conn{Common: s.common(ws.route, ws.separateStats), ID: ws.cid, Unavailable: true})
	}
}

// subChanged reports the subscriber count of one mode of a channel. A
// response-mode count reaching zero is not reported: the subscription
// lingers until the channel is deactivated.
func (s *statsState) subChanged(ch *channel, kind subKind) {
	if !s.enabled() {
		return
	}
	n := ch.n[kind]
	if n == 0 {
		if kind == subResponse && s.st.cfg.SubscriptionLinger > 0 {
			return
		}
		s.send(&stats.Sub{Common: s.common("", false), Mode: kind.String(), Channel: ch.name, Unavailable: true})
		return
	}
	s.send(&stats.Sub{Common: s.common("", false), Mode: kind.String(), Channel: ch.name,
		TTL: int(s.st.cfg.StatsSubscriptionTTL / time.Second), Subscribers: n})
}

func (s *statsState) channelGone(ch *channel) {
	if !s.enabled() {
		return
	}
	if ch.n[subResponse] == 0 && s.st.cfg.SubscriptionLinger > 0 {
		s.send(&stats.Sub{Common: s.common("", false), Mode: subResponse.String(), Channel: ch.name, Unavailable: true})
	}
}

var transports = [subKinds]string{stats.TransportHTTPResponse, stats.TransportHTTPStream, stats.TransportWSMessage}

// message reports one published item delivered to n subscribers. It runs
// once per item and channel on the fan-out path, so the T form is encoded
// straight into a reused buffer (the same bytes stats.Append produces for
// a stats.Message; see TestMessageStatsEncoding).
func (s *statsState) message(channel, id string, n int, kind subKind) {
	s.addActivity(n)
	if !s.enabled() {
		return
	}
	if s.st.cfg.StatsJSON {
		s.send(&stats.Message{Common: s.common("", false), Channel: channel, ItemID: id, Count: n, Transport: transports[kind]})
		return
	}
	s.sendRaw(appendMessageT(&s.enc, s.st.cfg.InstanceID, channel, id, n, transports[kind]))
}

// appendMessageT encodes a "message T" stats packet (fields in
// stats.Message.Value's order) into a new exact-size slice, using enc's
// buffer as scratch.
func appendMessageT(enc *tnetstring.Encoder, from, channel, id string, n int, transport string) []byte {
	enc.Reset(enc.Bytes()[:0])
	enc.BeginDict()
	if from != "" {
		enc.Str("from")
		enc.Str(from)
	}
	enc.Str("channel")
	enc.Str(channel)
	if id != "" {
		enc.Str("item-id")
		enc.Str(id)
	}
	enc.Str("count")
	enc.Int(int64(max(n, 0)))
	enc.Str("transport")
	enc.Str(transport)
	enc.End()
	body := enc.Bytes()
	msg := make([]byte, 0, len(stats.TypeMessage)+2+len(body))
	msg = append(msg, stats.TypeMessage...)
	msg = append(msg, ' ', byte(stats.FormatT))
	return append(msg, body...)
}

// tick runs every second: refreshes, the report.
func (s *statsState) tick() {
	st := s.st
	now := st.now
	s.connSecs += float64(s.conns)

	refresh := st.cfg.StatsSubscriptionTTL * 3 / 4
	if now.Sub(s.lastRef) >= refresh {
		s.lastRef = now
		if s.enabled() {
			for _, hs := range st.sessions {
				s.sendConn(hs)
			}
			for _, ws := range st.ws {
				s.sendWSConn(ws)
			}
			for _, ch := range st.channels {
				for k := subKind(0); k < subKinds; k++ {
					if ch.n[k] > 0 {
						s.subChanged(ch, k)
					}
				}
			}
		}
	}

	if now.Sub(s.lastRep) >= st.cfg.StatsReportInterval {
		dur := now.Sub(s.lastRep)
		s.lastRep = now
		minutes := int(s.connSecs / 60)
		s.connSecs -= float64(minutes) * 60
		st.e.metrics.connMinutes.Add(uint64(minutes))
		r := &stats.Report{
			Common:                 s.common("", false),
			Connections:            s.connMax,
			Minutes:                minutes,
			Received:               s.report.received,
			Sent:                   s.report.sent,
			HTTPResponseSent:       s.report.httpResponseSent,
			Duration:               int(dur / time.Millisecond),
			ClientHeaderBytesSent:  s.report.headerBytesSent,
			ClientContentBytesSent: s.report.contentBytesSent,
		}
		mergeReport(r, &s.proxy)
		s.proxy = stats.Report{}
		s.report = reportCounters{}
		s.connMax = s.conns
		if s.enabled() {
			s.send(r)
		}
		st.e.sendProxyReport(r)
	}
}

// mergeReport adds the proxy's counters to ours (reference §4.7).
func mergeReport(r, p *stats.Report) {
	r.ClientHeaderBytesReceived += p.ClientHeaderBytesReceived
	r.ClientHeaderBytesSent += p.ClientHeaderBytesSent
	r.ClientContentBytesReceived += p.ClientContentBytesReceived
	r.ClientContentBytesSent += p.ClientContentBytesSent
	r.ClientMessagesReceived += p.ClientMessagesReceived
	r.ClientMessagesSent += p.ClientMessagesSent
	r.ServerHeaderBytesReceived += p.ServerHeaderBytesReceived
	r.ServerHeaderBytesSent += p.ServerHeaderBytesSent
	r.ServerContentBytesReceived += p.ServerContentBytesReceived
	r.ServerContentBytesSent += p.ServerContentBytesSent
	r.ServerMessagesReceived += p.ServerMessagesReceived
	r.ServerMessagesSent += p.ServerMessagesSent
	r.Connections = max(r.Connections, p.Connections)
	r.Minutes += p.Minutes
}

// onProxyStats merges the proxy's stats stream: activity and counts are
// added to ours, conn packets republished with our from, report merged
// into the next report (reference §4.7).
func (e *Engine) onProxyStats(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 1 {
		return
	}
	p, err := stats.Decode(msg[0])
	if err != nil {
		e.log.debugf("proxy stats: %v", err)
		return
	}
	e.post(e.ctx, func() { e.st.stats.proxyPacket(p) })
}

func (s *statsState) proxyPacket(p stats.Packet) {
	switch v := p.(type) {
	case *stats.Activity:
		s.addActivity(v.Count)
	case *stats.Counts:
		s.st.e.metrics.requestsReceived.Add(uint64(v.RequestsReceived))
	case *stats.Conn:
		if v.Unavailable {
			// A connection handed to us stays reported by us.
			if _, ok := s.st.sessions[connKey(v.ID)]; ok {
				return
			}
		}
		v.From = s.st.cfg.InstanceID
		s.send(v)
	case *stats.Report:
		r := &s.proxy
		r.Connections = max(r.Connections, v.Connections)
		r.Minutes += v.Minutes
		r.ClientHeaderBytesReceived += v.ClientHeaderBytesReceived
		r.ClientHeaderBytesSent += v.ClientHeaderBytesSent
		r.ClientContentBytesReceived += v.ClientContentBytesReceived
		r.ClientContentBytesSent += v.ClientContentBytesSent
		r.ClientMessagesReceived += v.ClientMessagesReceived
		r.ClientMessagesSent += v.ClientMessagesSent
		r.ServerHeaderBytesReceived += v.ServerHeaderBytesReceived
		r.ServerHeaderBytesSent += v.ServerHeaderBytesSent
		r.ServerContentBytesReceived += v.ServerContentBytesReceived
		r.ServerContentBytesSent += v.ServerContentBytesSent
		r.ServerMessagesReceived += v.ServerMessagesReceived
		r.ServerMessagesSent += v.ServerMessagesSent
	case *stats.Message, *stats.Sub:
		s.send(p)
	}
}

// connKey turns a stats connection id "<sender>:<id>" into a session key.
func connKey(id string) sessionKey {
	for i := 0; i < len(id); i++ {
		if id[i] == ':' {
			return sessionKey{id[:i], id[i+1:]}
		}
	}
	return sessionKey{"", id}
}
