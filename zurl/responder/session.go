package responder

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/zurl/httpclient"
	"github.com/pushpin-go/pushpin/zurl/zlog"
)

type sessionMode int

const (
	// modeStream: first packet on the PULL, later packets on the DEALER,
	// responses on the PUB.
	modeStream sessionMode = iota
	// modeSingle: one request and one response on the ROUTER.
	modeSingle
)

// inMsg is a packet for a session, with the seq that applies to it (a
// list-form id carries one seq per session).
type inMsg struct {
	p   *zhttp.Packet
	seq int // -1 when absent
}

// mailbox is a session's queue of initiator packets. The socket goroutine
// puts without blocking; the session takes everything queued at once. It
// starts empty and unallocated (a proxied GET usually gets no later packet
// at all, and a 256-slot channel per session was the largest allocation
// of a small GET) and holds at most inboxSize packets.
type mailbox struct {
	mu    sync.Mutex
	q     []inMsg
	ready chan struct{} // one slot: something is queued
}

// put queues m; false means the mailbox is full.
func (b *mailbox) put(m inMsg) bool {
	b.mu.Lock()
	if len(b.q) >= inboxSize {
		b.mu.Unlock()
		return false
	}
	b.q = append(b.q, m)
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns what is queued and keeps spare (emptied) for later puts,
// so a session alternates between two buffers.
func (b *mailbox) take(spare []inMsg) []inMsg {
	clear(spare)
	b.mu.Lock()
	out := b.q
	b.q = spare[:0]
	b.mu.Unlock()
	return out
}

// session is one request. All fields belong to the goroutine running run.
type session struct {
	srv    *Server
	mode   sessionMode
	format zhttp.Format
	env    [][]byte // req-interface routing envelope

	rid      []byte
	to       []byte // initiator address ("from" of its first packet)
	userData tnetstring.Value
	multi    bool
	infoLvl  int  // ext.quiet lowers request logging to debug
	quiet    bool // fire and forget: nothing is sent back

	inSeq   int
	outSeq  int
	credits int // body bytes the initiator lets us send

	inbox    mailbox
	batch    []inMsg // the buffer handed back to inbox.take
	overflow atomic.Bool
	kick     chan struct{} // signalled on inbox overflow

	timers sessionTimers
}

func newSession(srv *Server, p *zhttp.Packet, f zhttp.Format, mode sessionMode, env [][]byte, rid []byte, seq int) *session {
	s := &session{
		srv: srv, mode: mode, format: f, env: env,
		rid: rid, to: p.From, userData: p.UserData, multi: p.Multi,
		infoLvl: zlog.Info, inSeq: seq,
		inbox: mailbox{ready: make(chan struct{}, 1)},
		kick:  make(chan struct{}, 1),
	}
	if p.Quiet {
		s.infoLvl = zlog.Debug
	}
	return s
}

// deliver hands a packet to the session without blocking the socket
// goroutine. A full inbox means the initiator is flooding the session
// beyond its credits; the session is then cancelled.
func (s *session) deliver(m inMsg) {
	if !s.inbox.put(m) {
		if !s.overflow.Swap(true) {
			s.srv.log.Warnf("id=%s: inbox full, cancelling session", s.rid)
		}
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// run is the session goroutine.
func (s *session) run(p *zhttp.Packet) {
	defer s.srv.wg.Done()
	defer s.srv.finish(s)

	if p.URI == "" {
		s.srv.log.Warnf("missing request uri")
		s.respondError(zhttp.CondBadRequest)
		return
	}
	scheme, _, _ := strings.Cut(p.URI, ":")
	switch strings.ToLower(scheme) {
	case "http", "https":
		s.runHTTP(p)
	case "ws", "wss":
		if s.mode != modeStream {
			s.srv.log.Warnf("websocket must be used from stream interface")
			s.respondError(zhttp.CondBadRequest)
			return
		}
		s.runWS(p)
	default:
		s.srv.log.Warnf("unsupported scheme")
		s.respondError(zhttp.CondBadRequest)
	}
}

// send stamps and sends a response packet, as zurl's writeResponse does:
// from (when the initiator gave an address), id and the next seq, and the
// request's user-data on every packet.
func (s *session) send(p *zhttp.Packet) {
	if len(s.to) > 0 {
		p.From = s.srv.id
	}
	if len(s.rid) > 0 {
		p.ID = s.rid
		p.SetSeq(s.outSeq)
		s.outSeq++
	}
	p.UserData = s.userData
	log := s.srv.log
	switch {
	case p.Type == zhttp.Error:
		log.Logf(s.infoLvl, "OUT ERR id=%s condition=%s", s.rid, p.Condition)
	case p.Type == zhttp.Data && p.Has&zhttp.HasCode != 0:
		log.Logf(s.infoLvl, "OUT id=%s code=%d %d%s", s.rid, p.Code, len(p.Body), moreFlag(p.More))
	case p.Type == zhttp.Data:
		log.Debugf("OUT id=%s %d%s", s.rid, len(p.Body), moreFlag(p.More))
	}
	if s.quiet {
		return
	}
	if s.mode == modeSingle {
		s.srv.reply(s.env, s.format, p)
		return
	}
	if len(s.to) == 0 || s.srv.pub == nil {
		return
	}
	s.srv.publish(s.format, s.to, p)
}

func moreFlag(more bool) string {
	if more {
		return " M"
	}
	return ""
}

func (s *session) respondError(cond string) {
	s.send(&zhttp.Packet{Type: zhttp.Error, Condition: cond})
}

func (s *session) respondCancel() {
	s.send(&zhttp.Packet{Type: zhttp.Cancel})
}

// ack sends the first packet of a stream session, which tells the
// initiator our address: a credit grant of buffer_size when a request body
// follows, else a keep-alive.
func (s *session) ack(more bool) {
	if more {
		p := &zhttp.Packet{Type: zhttp.Credit, Multi: s.multi}
		p.SetCredits(s.srv.cfg.BufferSize)
		s.send(p)
		return
	}
	s.send(&zhttp.Packet{Type: zhttp.KeepAlive, Multi: s.multi})
}

// checkSeq applies zurl's sequencing to a later packet: a gap cancels the
// session (answering with cancel unless the packet was itself a cancel),
// and a cancel ends it. It reports whether the session goes on.
func (s *session) checkSeq(m inMsg) bool {
	if s.inSeq == -1 || m.seq == -1 || m.seq != s.inSeq+1 {
		if m.p.Type != zhttp.Cancel {
			s.srv.log.Debugf("id=%s: bad seq (expected %d, got %d), cancelling", s.rid, s.inSeq+1, m.seq)
			s.respondCancel()
		}
		return false
	}
	if m.p.Type == zhttp.Cancel {
		return false
	}
	s.inSeq = m.seq
	if !s.timers.at[evExpire].IsZero() {
		s.timers.at[evExpire] = time.Now().Add(s.srv.opts.SessionExpire)
	}
	if m.p.Has&zhttp.HasCredits != 0 {
		s.credits += m.p.Credits
	}
	return true
}

// timerEvent is one of a session's timed events, in the order they win
// when several are due at once.
type timerEvent int

const (
	evNone      timerEvent = iota
	evActivity             // zurl.conf timeout without progress: session-timeout
	evDeadline             // the request's own timeout: session-timeout
	evExpire               // 60 s without a packet from the initiator: silent end
	evKeepAlive            // every 30 s on stream sessions
	evCount
)

// sessionTimers multiplexes a session's timed events onto one runtime
// timer. Activity and expiry are pushed back on nearly every packet; that
// only moves a time here, and when the timer fires for an event that has
// since moved, it is re-armed for the earliest one instead. One timer per
// session instead of four (a proxied GET's largest source of allocations
// after its buffers).
type sessionTimers struct {
	timer *time.Timer
	at    [evCount]time.Time // zero: not in use
	every time.Duration      // keep-alive interval
}

// startTimers arms zurl's timers: inactivity (zurl.conf timeout), the
// request's own timeout (ms), and for stream sessions the 60 s expiry and
// 30 s keep-alives. The caller stops s.timers.timer when the session ends.
func (s *session) startTimers(timeoutMS int) *sessionTimers {
	now := time.Now()
	t := &s.timers
	t.at[evActivity] = now.Add(s.srv.cfg.Timeout)
	if timeoutMS >= 0 {
		t.at[evDeadline] = now.Add(time.Duration(timeoutMS) * time.Millisecond)
	}
	if s.mode == modeStream {
		t.at[evExpire] = now.Add(s.srv.opts.SessionExpire)
		t.every = s.srv.opts.KeepAliveInterval
		t.at[evKeepAlive] = now.Add(t.every)
	}
	t.timer = time.NewTimer(t.next().Sub(now))
	return t
}

// C is the channel the session selects on.
func (t *sessionTimers) C() <-chan time.Time { return t.timer.C }

// stop releases the timer.
func (t *sessionTimers) stop() {
	if t.timer != nil {
		t.timer.Stop()
	}
}

func (t *sessionTimers) next() time.Time {
	var min time.Time
	for _, at := range t.at[1:] {
		if !at.IsZero() && (min.IsZero() || at.Before(min)) {
			min = at
		}
	}
	return min
}

// fired is called when the timer fires: it returns the first due event
// (evNone if every event moved later) and re-arms the timer. A due
// keep-alive is rescheduled one interval on; other events are one-shot.
func (t *sessionTimers) fired() timerEvent {
	now := time.Now()
	ev := evNone
	for e := evActivity; e < evCount; e++ {
		if at := t.at[e]; !at.IsZero() && !now.Before(at) {
			ev = e
			break
		}
	}
	switch ev {
	case evNone:
	case evKeepAlive:
		t.at[ev] = now.Add(t.every)
	default:
		t.at[ev] = time.Time{}
	}
	if n := t.next(); !n.IsZero() {
		t.timer.Reset(n.Sub(now))
	}
	return ev
}

func (s *session) refreshActivity() {
	if !s.timers.at[evActivity].IsZero() {
		s.timers.at[evActivity] = time.Now().Add(s.srv.cfg.Timeout)
	}
}

// allowed applies the access policy unless the request bypasses it.
func (s *session) allowed(p *zhttp.Packet, host string) bool {
	return p.IgnorePolicies || s.srv.cfg.Policy.Allowed(host)
}

// requestHeaders returns the request's headers with Host set to the URI's
// host[:port], as zurl does (replacing any other Host).
func requestHeaders(p *zhttp.Packet, u *httpclient.URI) []zhttp.Header {
	hs := make([]zhttp.Header, 0, len(p.Headers)+2)
	host, ok := p.Header("Host")
	for _, h := range p.Headers {
		if ok && host != u.HostHeader && strings.EqualFold(h.Name, "Host") {
			continue
		}
		hs = append(hs, h)
	}
	if !ok || host != u.HostHeader {
		hs = append(hs, zhttp.Header{Name: "Host", Value: u.HostHeader})
	}
	return hs
}
