package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// ZHTTP session plumbing (reference §2). A session's packets are handed by
// the socket owner goroutines to the session goroutine through an inbox; the
// session goroutine alone keeps the seq counters and credits.

const (
	// inboxSize bounds the packets queued for one session. Peers only send
	// what our credits allow plus a few control packets, so a full inbox
	// means a misbehaving peer: the session is failed (see deliver).
	inboxSize = 256
	// idealCredits is what Pushpin grants peers (IDEAL_CREDITS).
	idealCredits = 200000
	// keepAliveInterval is how often we refresh a peer that hears nothing
	// else from us; sessionExpire is how long we wait without hearing from
	// a peer (Pushpin's SESSION_EXPIRE).
	keepAliveInterval = 30 * time.Second
	sessionExpire     = 60 * time.Second
)

var (
	errCancelled   = errors.New("peer cancelled the session")
	errExpired     = errors.New("session expired")
	errBadSeq      = errors.New("bad seq")
	errOverflow    = errors.New("session inbox overflow")
	errPeerGone    = errors.New("peer is not connected")
	errSessionDone = errors.New("session closed")
)

// inbox carries packets to one session goroutine.
type inbox struct {
	ch       chan *zhttp.Packet
	overflow chan struct{} // closed when a packet could not be queued
	once     sync.Once
}

func newInbox() *inbox {
	return &inbox{ch: make(chan *zhttp.Packet, inboxSize), overflow: make(chan struct{})}
}

// deliver queues p without blocking the socket owner. A full inbox fails the
// session (its goroutine sees overflow) rather than stalling every other
// session on the same socket.
func (in *inbox) deliver(p *zhttp.Packet) {
	select {
	case in.ch <- p:
	default:
		in.once.Do(func() { close(in.overflow) })
	}
}

type sessionKey struct{ peer, id string }

// registry maps session ids to inboxes. One mutex guards it; lookups happen
// on socket owner goroutines, changes on session goroutines.
type registry struct {
	mu sync.Mutex
	m  map[sessionKey]*inbox
}

func newRegistry() *registry { return &registry{m: make(map[sessionKey]*inbox)} }

func (r *registry) add(k sessionKey, in *inbox) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[k]; dup {
		return false
	}
	r.m[k] = in
	return true
}

func (r *registry) remove(k sessionKey, in *inbox) {
	r.mu.Lock()
	if r.m[k] == in {
		delete(r.m, k)
	}
	r.mu.Unlock()
}

func (r *registry) get(k sessionKey) *inbox {
	r.mu.Lock()
	in := r.m[k]
	r.mu.Unlock()
	return in
}

func (r *registry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// dispatch hands a decoded packet to its session(s). List-form ids (batched
// keep-alives and cancels from multi peers) are split into one packet per
// id. peer is "" for sessions keyed by id alone (our client sessions).
func (r *registry) dispatch(peer string, p *zhttp.Packet) bool {
	if len(p.IDs) == 0 {
		in := r.get(sessionKey{peer, string(p.ID)})
		if in == nil {
			return false
		}
		in.deliver(p)
		return true
	}
	found := false
	for _, mid := range p.IDs {
		in := r.get(sessionKey{peer, string(mid.ID)})
		if in == nil {
			continue
		}
		q := *p
		q.IDs = nil
		q.ID = mid.ID
		q.SetSeq(mid.Seq)
		in.deliver(&q)
		found = true
	}
	return found
}

// responder is a ZHTTP server-side transport: condure's sockets or the
// handler's intreq sockets. Responses go out through pub.
type responder struct {
	name     string
	pub      *zmqx.Actor
	sessions *registry
	// internal marks the intreq transport (handler-originated requests).
	internal bool
}

// serverSession is our side of a session a peer initiated.
type serverSession struct {
	e    *Engine
	r    *responder
	peer string // the initiator's address (its "from")
	id   string
	key  sessionKey
	in   *inbox

	inSeq, outSeq int
	// credits is how many body bytes the initiator lets us send.
	credits   int
	peerMulti bool
	sentMulti bool
	lastRecv  time.Time
	lastSend  time.Time
	closed    bool
}

func (e *Engine) newServerSession(r *responder, peer, id string) (*serverSession, error) {
	s := &serverSession{e: e, r: r, peer: peer, id: id, in: newInbox(), lastRecv: time.Now()}
	s.key = sessionKey{peer, id}
	if !r.sessions.add(s.key, s.in) {
		return nil, fmt.Errorf("duplicate session id %q from %q", id, peer)
	}
	return s, nil
}

// close unregisters the session; later packets for it are answered by the
// socket handler (cancel for unknown ids is not sent: Pushpin ignores them).
func (s *serverSession) close() {
	if !s.closed {
		s.closed = true
		s.r.sessions.remove(s.key, s.in)
	}
}

// send writes p to the initiator with our from, the session id and the next
// seq. ext.multi is advertised until the peer has seen it once, as Pushpin
// does on its first packets.
func (s *serverSession) send(ctx context.Context, p *zhttp.Packet) error {
	p.From = s.e.idBytes
	p.ID = []byte(s.id)
	p.SetSeq(s.outSeq)
	s.outSeq++
	if !s.sentMulti {
		p.Multi = true
		s.sentMulti = true
	}
	s.lastSend = time.Now()
	msg := zhttp.AppendPubMessage(make([]byte, 0, 256+len(p.Body)), []byte(s.peer), p)
	s.e.logPacket(s.r.name+" server: OUT "+s.peer, p)
	return s.r.pub.Send(ctx, [][]byte{msg})
}

// take checks an incoming packet's seq and applies its credits. It returns
// errBadSeq when the peer skipped or repeated a packet (Pushpin then cancels).
func (s *serverSession) take(p *zhttp.Packet) error {
	s.lastRecv = time.Now()
	if p.Multi {
		s.peerMulti = true
	}
	if p.Has&zhttp.HasSeq != 0 {
		if p.Seq != s.inSeq && p.Type != zhttp.Cancel {
			return fmt.Errorf("%w (expected %d, got %d)", errBadSeq, s.inSeq, p.Seq)
		}
		s.inSeq = p.Seq + 1
	}
	if p.Has&zhttp.HasCredits != 0 {
		s.credits += p.Credits
	}
	return nil
}

// cancel tells the initiator the session is over (best effort).
func (s *serverSession) cancel(ctx context.Context) {
	_ = s.send(ctx, &zhttp.Packet{Type: zhttp.Cancel})
}

// initiator is the ZHTTP client-side transport towards zurl.
type initiator struct {
	push, router *zmqx.Actor
	sessions     *registry
}

// clientSession is a session we initiate towards zurl.
type clientSession struct {
	e    *Engine
	ini  *initiator
	id   string
	key  sessionKey
	in   *inbox
	peer []byte // zurl's address, known after its first packet

	inSeq, outSeq int
	credits       int
	lastRecv      time.Time
	lastSend      time.Time
	closed        bool
}

func (e *Engine) newClientSession() *clientSession {
	c := &clientSession{e: e, ini: e.zurl, id: newUUID(), in: newInbox(), lastRecv: time.Now()}
	c.key = sessionKey{"", c.id}
	c.ini.sessions.add(c.key, c.in)
	return c
}

func (c *clientSession) close() {
	if !c.closed {
		c.closed = true
		c.ini.sessions.remove(c.key, c.in)
	}
}

// send writes p: the first packet through PUSH, later ones through the
// ROUTER to zurl's address.
func (c *clientSession) send(ctx context.Context, p *zhttp.Packet) error {
	p.From = c.e.idBytes
	p.ID = []byte(c.id)
	p.SetSeq(c.outSeq)
	if c.outSeq == 0 {
		p.Multi = true
	}
	c.lastSend = time.Now()
	msg := zhttp.AppendT(make([]byte, 0, 256+len(p.Body)), p)
	if c.outSeq == 0 {
		c.outSeq++
		c.e.logPacket("zhttp client: OUT", p)
		return c.ini.push.Send(ctx, [][]byte{msg})
	}
	if c.peer == nil {
		return errPeerGone
	}
	c.outSeq++
	c.e.logPacket("zhttp client: OUT "+string(c.peer), p)
	return c.ini.router.Send(ctx, zhttp.RouterMessage(c.peer, msg))
}

// take checks seq, learns zurl's address and applies credits.
func (c *clientSession) take(p *zhttp.Packet) error {
	c.lastRecv = time.Now()
	if c.peer == nil && len(p.From) > 0 {
		c.peer = append([]byte(nil), p.From...)
	}
	if p.Has&zhttp.HasSeq != 0 {
		if p.Seq != c.inSeq && p.Type != zhttp.Cancel {
			return fmt.Errorf("%w (expected %d, got %d)", errBadSeq, c.inSeq, p.Seq)
		}
		c.inSeq = p.Seq + 1
	}
	if p.Has&zhttp.HasCredits != 0 {
		c.credits += p.Credits
	}
	return nil
}

// cancel abandons the session at zurl (best effort; only possible once zurl
// has told us its address).
func (c *clientSession) cancel(ctx context.Context) {
	if c.peer != nil && !c.closed {
		_ = c.send(ctx, &zhttp.Packet{Type: zhttp.Cancel})
	}
}
