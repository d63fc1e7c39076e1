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

	expire   *time.Timer // no packet from the initiator for 60 s
	activity *time.Timer // zurl.conf timeout
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
	if s.expire != nil {
		s.expire.Reset(s.srv.opts.SessionExpire)
	}
	if m.p.Has&zhttp.HasCredits != 0 {
		s.credits += m.p.Credits
	}
	return true
}

// timers holds the channels of the optional timers of a session.
type timers struct {
	expire    <-chan time.Time
	keepAlive <-chan time.Time
	deadline  <-chan time.Time
	activity  <-chan time.Time
	stop      func()
}

// startTimers arms zurl's timers: inactivity (zurl.conf timeout), the
// request's own timeout (ms), and for stream sessions the 60 s expiry and
// 30 s keep-alives. One runtime timer each per session: sessions are
// bounded by max_open_requests, and Go's timer heap handles that scale.
func (s *session) startTimers(timeoutMS int) timers {
	var t timers
	s.activity = time.NewTimer(s.srv.cfg.Timeout)
	t.activity = s.activity.C
	var deadline *time.Timer
	if timeoutMS >= 0 {
		deadline = time.NewTimer(time.Duration(timeoutMS) * time.Millisecond)
		t.deadline = deadline.C
	}
	var ka *time.Ticker
	if s.mode == modeStream {
		s.expire = time.NewTimer(s.srv.opts.SessionExpire)
		t.expire = s.expire.C
		ka = time.NewTicker(s.srv.opts.KeepAliveInterval)
		t.keepAlive = ka.C
	}
	t.stop = func() {
		s.activity.Stop()
		if deadline != nil {
			deadline.Stop()
		}
		if s.expire != nil {
			s.expire.Stop()
		}
		if ka != nil {
			ka.Stop()
		}
	}
	return t
}

func (s *session) refreshActivity() {
	if s.activity != nil {
		s.activity.Reset(s.srv.cfg.Timeout)
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
