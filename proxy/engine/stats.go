package engine

import (
	"context"
	"sync"
	"time"

	"github.com/pushpin-go/pushpin/protocol/stats"
)

// statsCollector feeds the proxy-stats PUB socket the handler listens to
// (reference §4.7, §8.1): conn packets for live connections, counts of
// received requests and activity every 100 ms, and the periodic report.
// Its state is guarded by one mutex; the PUB actor's queue is bounded and a
// full queue drops the stats message (counted in the actor), never a request.
type statsCollector struct {
	e *Engine

	mu        sync.Mutex
	conns     map[string]*connStat
	requests  int // since the last counts packet
	activity  int
	peakConns int
	minutes   float64
	lastTick  time.Time
	periodBeg time.Time
}

type connStat struct {
	typ     string
	peer    string
	ssl     bool
	sent    time.Time // last conn packet
	linger  time.Time // zero = live; else remove at this time
	handled bool
}

// lingerAfterHandoff keeps a handed-off connection known for a while so the
// handler's own conn report takes over without a gap (Pushpin does the same).
const lingerAfterHandoff = 60 * time.Second

func newStatsCollector(e *Engine) *statsCollector {
	now := time.Now()
	return &statsCollector{e: e, conns: make(map[string]*connStat), lastTick: now, periodBeg: now}
}

func (s *statsCollector) publish(p stats.Packet) {
	if s.e.statsPub == nil {
		return
	}
	_ = s.e.statsPub.TrySend([][]byte{stats.Encode(p)})
}

func (s *statsCollector) requestReceived() {
	s.mu.Lock()
	s.requests++
	s.activity++
	s.mu.Unlock()
}

// connStart registers a client connection ("<from>:<id>" or a ws cid).
func (s *statsCollector) connStart(id, typ, peer string, ssl bool) {
	s.mu.Lock()
	s.conns[id] = &connStat{typ: typ, peer: peer, ssl: ssl, sent: time.Now()}
	if len(s.conns) > s.peakConns {
		s.peakConns = len(s.conns)
	}
	s.mu.Unlock()
	s.publish(&stats.Conn{Common: stats.Common{From: s.e.cfg.ID}, ID: id, ConnType: typ, PeerAddress: peer,
		SSL: ssl, TTL: int(s.e.cfg.ConnectionTTL / time.Second)})
}

// connEnd reports a connection gone, unless it was handed off (it then
// lingers and expires quietly).
func (s *statsCollector) connEnd(id string) {
	s.mu.Lock()
	c := s.conns[id]
	if c == nil || c.handled {
		s.mu.Unlock()
		return
	}
	delete(s.conns, id)
	s.mu.Unlock()
	s.publish(&stats.Conn{Common: stats.Common{From: s.e.cfg.ID}, ID: id, Unavailable: true})
}

// handedOff marks a server session's connection as now owned by the handler.
func (s *statsCollector) handedOff(srv *serverSession) {
	id := srv.peer + ":" + srv.id
	s.mu.Lock()
	if c := s.conns[id]; c != nil {
		c.handled = true
		c.linger = time.Now().Add(lingerAfterHandoff)
	}
	s.mu.Unlock()
}

// alive returns which of ids the proxy knows (conncheck).
func (s *statsCollector) alive(ids []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	for _, id := range ids {
		if _, ok := s.conns[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

func (s *statsCollector) run(ctx context.Context) {
	flush := time.NewTicker(100 * time.Millisecond)
	defer flush.Stop()
	report := time.NewTicker(max(s.e.cfg.StatsReportInterval, time.Second))
	defer report.Stop()
	refresh := time.NewTicker(time.Second)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			s.flushCounts()
		case <-refresh.C:
			s.refreshConns()
		case <-report.C:
			s.sendReport()
		}
	}
}

func (s *statsCollector) flushCounts() {
	s.mu.Lock()
	req, act := s.requests, s.activity
	s.requests, s.activity = 0, 0
	s.mu.Unlock()
	if req > 0 {
		s.publish(&stats.Counts{Common: stats.Common{From: s.e.cfg.ID}, RequestsReceived: req})
	}
	if act > 0 {
		s.publish(&stats.Activity{Common: stats.Common{From: s.e.cfg.ID}, Count: act})
	}
}

// refreshConns re-announces connections every 3/4 ttl, drops lingering
// handed-off ones, and accumulates connection-minutes.
func (s *statsCollector) refreshConns() {
	now := time.Now()
	ttl := s.e.cfg.ConnectionTTL
	var again []*stats.Conn
	s.mu.Lock()
	s.minutes += float64(len(s.conns)) * now.Sub(s.lastTick).Minutes()
	s.lastTick = now
	for id, c := range s.conns {
		if !c.linger.IsZero() {
			if now.After(c.linger) {
				delete(s.conns, id)
			}
			continue
		}
		if now.Sub(c.sent) >= ttl*3/4 {
			c.sent = now
			again = append(again, &stats.Conn{Common: stats.Common{From: s.e.cfg.ID}, ID: id, ConnType: c.typ,
				PeerAddress: c.peer, SSL: c.ssl, TTL: int(ttl / time.Second)})
		}
	}
	s.mu.Unlock()
	for _, p := range again {
		s.publish(p)
	}
}

func (s *statsCollector) sendReport() {
	now := time.Now()
	s.mu.Lock()
	r := &stats.Report{Common: stats.Common{From: s.e.cfg.ID}, Connections: s.peakConns, Minutes: int(s.minutes),
		Duration: int(now.Sub(s.periodBeg) / time.Millisecond)}
	s.peakConns = len(s.conns)
	s.minutes -= float64(int(s.minutes))
	s.periodBeg = now
	s.mu.Unlock()
	s.publish(r)
}
