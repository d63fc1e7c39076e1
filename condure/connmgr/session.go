package connmgr

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// session is the ZHTTP side of one request (or one WebSocket) in stream
// mode. Its outbound state (next seq, peer address, handoff pause) is
// guarded by mu because two goroutines send for it: the connection's and
// the keep-alive wheel. Inbound state (expected seq) belongs to the
// connection goroutine alone.
type session struct {
	id   string
	idb  []byte
	conn *conn
	ws   bool // a WebSocket session (--messages-max applies)

	mu        sync.Mutex
	outSeq    int
	to        []byte // responder address (its "from"); nil until it answers
	peerMulti bool   // responder advertised ext.multi
	paused    bool   // handoff-proceed sent; wait for the new owner
	closed    bool   // unregistered; send nothing more

	// orphaned: the client left before the responder's first packet, so
	// there was no address to send cancel to. The session stays
	// registered without a connection until that packet arrives (the
	// dispatcher then answers it with cancel, as condure 1.9.1 does) or
	// the session expires. Set under the connection's qmu.
	orphaned atomic.Bool

	lastRecv atomic.Int64 // unix nanoseconds of the last packet from the responder
	kaSlot   int          // keep-alive wheel slot
}

// send stamps p with this session's from/id/seq and queues it: the first
// packet (no peer yet) goes to the PUSH socket, later ones to the ROUTER
// addressed to the responder. Holding mu across seq allocation and queueing
// keeps seqs in wire order with the wheel's keep-alives.
func (s *session) send(z *streamClient, p *zhttp.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errSessionClosed
	}
	msg := s.stampLocked(z, p)
	if s.to == nil {
		return z.sendFirst(msg)
	}
	return z.sendTo(s.to, msg)
}

// stampLocked fills p's from/id/seq, allocates the seq and encodes p.
func (s *session) stampLocked(z *streamClient, p *zhttp.Packet) []byte {
	p.From = z.id
	p.ID = s.idb
	p.Multi = true // condure advertises ext.multi on every packet
	p.SetSeq(s.outSeq)
	s.outSeq++
	return zhttp.AppendT(make([]byte, 0, 128+len(p.Body)), p)
}

// peerKnown reports whether the responder has answered (so packets other
// than the first can be addressed).
func (s *session) peerKnown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.to != nil
}

// noteInbound records a packet from the responder: its address (a new
// owner after a handoff announces itself with its own "from") and
// ext.multi. Any packet from the responder ends a handoff pause.
func (s *session) noteInbound(p *zhttp.Packet) {
	s.mu.Lock()
	if len(p.From) > 0 && string(p.From) != string(s.to) {
		s.to = append([]byte(nil), p.From...)
	}
	if p.Multi {
		s.peerMulti = true
	}
	if p.Type != zhttp.HandoffStart {
		s.paused = false
	}
	s.mu.Unlock()
}

func (s *session) touch(now time.Time) { s.lastRecv.Store(now.UnixNano()) }

// isPaused reports whether a handoff is in progress.
func (s *session) isPaused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}
