package engine

import (
	"sync/atomic"
	"time"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/stats"
)

// Metrics are counters readable from any goroutine (Prometheus, tests).
type Metrics struct {
	received         atomic.Uint64 // published items received
	sent             atomic.Uint64 // messages delivered to clients
	hwmDropped       atomic.Uint64 // deliveries dropped past message_hwm
	slowClosed       atomic.Uint64 // sessions closed for a full output queue
	wsControlDropped atomic.Uint64 // ws-control packets the socket refused
	badPublish       atomic.Uint64 // publish requests/messages rejected
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
// delivery, activity once a second, and the report every
// stats_report_interval. Owned by the loop.
type statsState struct {
	st       *state
	report   reportCounters
	proxy    stats.Report // proxy report counters merged into ours
	activity int
	lastRep  time.Time
	lastRef  time.Time
	conns    int
	connMax  int
	connSecs float64
}

func newStatsState(st *state) *statsState {
	return &statsState{st: st, lastRep: time.Now(), lastRef: time.Now()}
}

func (s *statsState) enabled() bool { return s.st.e.statsOut != nil }

func (s *statsState) send(p stats.Packet) {
	a := s.st.e.statsOut
	if a == nil {
		return
	}
	f := stats.FormatT
	if s.st.cfg.StatsJSON {
		f = stats.FormatJ
	}
	msg := stats.Append(nil, f, p)
	if s.st.log.enabled(LevelDebug) {
		s.st.log.debugf("stats: OUT %s", trimForLog(msg))
	}
	_ = a.TrySend([][]byte{msg})
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
	s.activity++
	s.sendConn(hs)
}

func (s *statsState) sendConn(hs *httpSession) {
	if !s.enabled() {
		return
	}
	s.send(&stats.Conn{Common: s.common(hs.acc.Route, hs.acc.SeparateStats), ID: hs.connID, ConnType: stats.ConnHTTP,
		PeerAddress: hs.req.PeerAddress, SSL: hs.req.HTTPS, TTL: int(s.st.cfg.StatsConnectionTTL / time.Second)})
}

func (s *statsState) disconnected(hs *httpSession) {
	s.countConn(-1)
	if s.enabled() {
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

func (s *statsState) message(channel, id string, n int, kind subKind) {
	s.activity += n
	if !s.enabled() {
		return
	}
	s.send(&stats.Message{Common: s.common("", false), Channel: channel, ItemID: id, Count: n, Transport: transports[kind]})
}

// tick runs every second: activity, refreshes, the report.
func (s *statsState) tick() {
	st := s.st
	now := st.now
	s.connSecs += float64(s.conns)
	if s.activity > 0 && s.enabled() {
		s.send(&stats.Activity{Common: s.common("", false), Count: s.activity})
	}
	s.activity = 0

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
		s.activity += v.Count
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
