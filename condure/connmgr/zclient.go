package connmgr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

var errSessionClosed = errors.New("connmgr: session closed")

// Keep-alive and expiry timing (reference §2.6): condure scans its
// sessions in 450 slots of 100 ms, so each session sends a keep-alive once
// per 45 s cycle, and drops a session that heard nothing from its
// responder for 60 s.
const kaSlots = 450

// The timing is variable only so in-package tests can run a keep-alive
// cycle or an expiry in milliseconds; nothing else changes it.
var (
	kaTick         = 100 * time.Millisecond
	sessionExpire  = 60 * time.Second
	expiryInterval = time.Second
)

const (
	// maxMultiIDs is the most ids batched into one list-form packet
	// (pushpin and condure both cap batches at 128).
	maxMultiIDs = 128
	// routerQueue bounds messages waiting for the ROUTER socket; Send
	// blocks beyond it (backpressure to the connections).
	routerQueue = 8192
)

// streamClient owns condure's stream-mode ZHTTP sockets: PUSH for first
// packets, ROUTER (router-mandatory, identity = instance id) for later
// ones, and SUB (subscribed to "<id> ") for everything the responders send.
// It also holds the session registry the SUB dispatcher routes by, and the
// keep-alive wheel.
type streamClient struct {
	id  []byte
	log *slog.Logger
	ctx context.Context

	push, router, sub *zmqx.Actor

	regMu    sync.RWMutex
	sessions map[string]*session
	slots    [kaSlots]map[*session]struct{}
	curSlot  int

	// routerMu orders ROUTER sends with batched keep-alives: a session's
	// batched keep-alive (allocated seq N) is flushed before any later
	// packet to the same destination. Lock order: session.mu → routerMu.
	routerMu sync.Mutex
	batches  map[string]*kaBatch

	dispatchDrops uint64 // packets for unknown sessions (owner: SUB goroutine)

	tick, expireAfter, expiryEvery time.Duration // copied from the package timing
}

type kaBatch struct {
	dest []byte
	pkt  zhttp.Packet
}

func newStreamClient(ctx context.Context, zc *zmqx.Context, cfg *Config) (*streamClient, error) {
	z := &streamClient{
		id:       []byte(cfg.ID),
		log:      cfg.Log,
		ctx:      ctx,
		sessions: make(map[string]*session),
		batches:  make(map[string]*kaBatch),

		tick: kaTick, expireAfter: sessionExpire, expiryEvery: expiryInterval,
	}
	for i := range z.slots {
		z.slots[i] = make(map[*session]struct{})
	}
	var outs, outStreams, ins []string
	for _, b := range cfg.ZClientStream {
		ep, err := streamSpecs(b)
		if err != nil {
			return nil, err
		}
		outs, outStreams, ins = append(outs, ep.out), append(outStreams, ep.outStream), append(ins, ep.in)
	}
	// condure's hwm = max((req_maxconn+stream_maxconn)/20, 1) on its zhttp
	// sockets (reference §1.4).
	hwm := max((cfg.ReqMaxConn+cfg.StreamMaxConn)/20, 1)
	var err error
	z.push, err = newActor(ctx, zc, cfg, zmqx.Config{
		Name: "zhttp-out", Type: zmq4.PUSH, QueueSize: routerQueue,
		Options: []zmqx.SocketOption{zmqx.HWM(hwm)},
	}, outs)
	if err != nil {
		return nil, err
	}
	z.router, err = newActor(ctx, zc, cfg, zmqx.Config{
		Name: "zhttp-out-stream", Type: zmq4.ROUTER, QueueSize: routerQueue,
		Options: []zmqx.SocketOption{zmqx.Identity(cfg.ID), zmqx.RouterMandatory(), zmqx.HWM(hwm)},
		Handler: func(*zmqx.Actor, [][]byte) {}, // responders never send on this socket
		OnDrop: func(msg [][]byte, err error) {
			z.log.Debug("zhttp: undeliverable packet dropped", "dest", string(msg[0]), "err", err)
		},
	}, outStreams)
	if err != nil {
		return nil, err
	}
	z.sub, err = newActor(ctx, zc, cfg, zmqx.Config{
		Name: "zhttp-in", Type: zmq4.SUB,
		Options: []zmqx.SocketOption{zmqx.HWM(hwm), zmqx.Subscribe(string(zhttp.PubTopic(z.id)))},
		Handler: z.onSub,
	}, ins)
	if err != nil {
		return nil, err
	}
	return z, nil
}

// newActor binds (every spec: each base is a separate endpoint) or
// connects a socket.
func newActor(ctx context.Context, zc *zmqx.Context, cfg *Config, ac zmqx.Config, specs []string) (*zmqx.Actor, error) {
	ac.Endpoint = zmqx.Endpoint{Specs: specs, Bind: !cfg.ZClientConnect, IPCMode: cfg.IPCFileMode}
	a, err := zmqx.NewActor(ctx, zc, ac)
	if err != nil {
		return nil, err
	}
	if !cfg.ZClientConnect {
		for _, spec := range specs[1:] {
			spec := spec
			err := a.Do(ctx, func(s *zmq4.Socket) error {
				_, err := zmqx.BindFirst(s, []string{spec}, cfg.IPCFileMode)
				return err
			})
			if err != nil {
				a.Close()
				return nil, fmt.Errorf("zmq %s: %w", ac.Name, err)
			}
		}
	}
	return a, nil
}

func (z *streamClient) sendFirst(msg []byte) error {
	return z.push.Send(z.ctx, [][]byte{msg})
}

// sendTo queues msg for dest on the ROUTER, after any keep-alive batch
// pending for dest.
func (z *streamClient) sendTo(dest, msg []byte) error {
	z.routerMu.Lock()
	defer z.routerMu.Unlock()
	if b := z.batches[string(dest)]; b != nil {
		z.flushBatchLocked(b)
	}
	return z.router.Send(z.ctx, zhttp.RouterMessage(dest, msg))
}

func (z *streamClient) flushBatchLocked(b *kaBatch) {
	delete(z.batches, string(b.dest))
	if len(b.pkt.IDs) == 0 {
		return
	}
	msg := zhttp.AppendT(nil, &b.pkt)
	if err := z.router.Send(z.ctx, zhttp.RouterMessage(b.dest, msg)); err != nil {
		z.log.Debug("zhttp: keep-alive batch not sent", "err", err)
	}
}

// register adds s to the registry and the keep-alive wheel.
func (z *streamClient) register(s *session) {
	s.touch(time.Now())
	z.regMu.Lock()
	z.sessions[s.id] = s
	// The slot just behind the current one comes up a whole cycle later.
	s.kaSlot = (z.curSlot + kaSlots - 1) % kaSlots
	z.slots[s.kaSlot][s] = struct{}{}
	z.regMu.Unlock()
}

// unregister removes s; nothing is sent for it afterwards.
func (z *streamClient) unregister(s *session) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	z.regMu.Lock()
	delete(z.sessions, s.id)
	delete(z.slots[s.kaSlot], s)
	z.regMu.Unlock()
}

// onSub dispatches a packet from a responder to its session(s). It runs on
// the SUB socket's owner goroutine and never blocks: a connection whose
// queue is full is failed rather than waited for.
func (z *streamClient) onSub(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 1 {
		z.log.Debug("zhttp: dropping multipart message on SUB", "frames", len(msg))
		return
	}
	_, raw, err := zhttp.SplitPubMessage(msg[0])
	if err != nil {
		z.log.Debug("zhttp: dropping message", "err", err)
		return
	}
	p := new(zhttp.Packet)
	if _, err := zhttp.Decode(raw, p); err != nil {
		z.log.Warn("zhttp: received invalid packet", "err", err)
		return
	}
	now := time.Now()
	if len(p.IDs) == 0 {
		z.deliver(p.ID, p, now)
		return
	}
	// List-form id (ext.multi): one copy per session, each with its own seq.
	for _, m := range p.IDs {
		q := *p
		q.IDs = nil
		q.ID = m.ID
		q.Has &^= zhttp.HasSeq
		if m.Seq >= 0 {
			q.SetSeq(m.Seq)
		}
		z.deliver(m.ID, &q, now)
	}
}

func (z *streamClient) deliver(id []byte, p *zhttp.Packet, now time.Time) {
	z.regMu.RLock()
	s := z.sessions[string(id)]
	z.regMu.RUnlock()
	if s == nil {
		z.dispatchDrops++
		z.log.Debug("zhttp: packet for unknown session", "id", string(id), "type", p.Type.String())
		return
	}
	s.touch(now)
	s.conn.enqueue(s, p)
}

// cancel tells s's responder that the client went away (condure sends
// cancel, not error, reference §2.3). Before the responder's first packet
// there is no address to send to: condure 1.9.1 then keeps the session and
// answers the responder's first packet with cancel (verified: a response
// arriving 1.5 s after the client left got "type":"cancel", seq 1), so the
// session is orphaned instead of unregistered. Runs on the connection's
// goroutine, which must end the session with endSession afterwards.
func (z *streamClient) cancel(s *session) {
	c := s.conn
	c.qmu.Lock()
	if c.qsess == s && !s.peerKnown() {
		if len(c.queue) == 0 {
			// Nothing from the responder yet: whatever comes next is
			// answered by the dispatcher (enqueue sees the orphan).
			s.orphaned.Store(true)
			c.qsess = nil
			c.qmu.Unlock()
			return
		}
		// The responder's first packet is queued but was not handled:
		// it carries the address.
		s.noteInbound(c.queue[0])
	}
	c.qmu.Unlock()
	if s.peerKnown() {
		s.send(z, &zhttp.Packet{Type: zhttp.Cancel})
	}
}

// cancelOrphan answers the first packet for an orphaned session with
// cancel and drops the session. It runs on the SUB dispatcher, so it never
// blocks: with the ROUTER queue full the cancel is dropped (logged) and
// the responder's own session expiry cleans up.
func (z *streamClient) cancelOrphan(s *session, p *zhttp.Packet) {
	s.noteInbound(p)
	s.mu.Lock()
	if !s.closed && s.to != nil && p.Type != zhttp.Cancel && p.Type != zhttp.Error {
		msg := s.stampLocked(z, &zhttp.Packet{Type: zhttp.Cancel})
		if err := z.trySendTo(s.to, msg); err != nil {
			z.log.Debug("zhttp: cancel not sent", "id", s.id, "err", err)
		}
	}
	s.mu.Unlock()
	z.unregister(s)
}

// trySendTo is sendTo without blocking (for the dispatcher goroutine).
func (z *streamClient) trySendTo(dest, msg []byte) error {
	z.routerMu.Lock()
	defer z.routerMu.Unlock()
	if b := z.batches[string(dest)]; b != nil {
		z.flushBatchLocked(b)
	}
	return z.router.TrySend(zhttp.RouterMessage(dest, msg))
}

// runWheel sends keep-alives, a slot every 100 ms, and expires silent
// sessions. It returns when ctx is done. Owner: Server.Run.
func (z *streamClient) runWheel(ctx context.Context) {
	tick := time.NewTicker(z.tick)
	defer tick.Stop()
	var due []*session
	lastExpiry := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			z.regMu.Lock()
			z.curSlot = (z.curSlot + 1) % kaSlots
			due = due[:0]
			for s := range z.slots[z.curSlot] {
				due = append(due, s)
			}
			z.regMu.Unlock()
			z.keepAlives(due)
			if now.Sub(lastExpiry) >= z.expiryEvery {
				lastExpiry = now
				z.expire(now)
			}
		}
	}
}

// keepAlives allocates a keep-alive seq for each session and batches them
// per destination: list-form ids for responders that speak ext.multi, a
// single packet otherwise.
func (z *streamClient) keepAlives(due []*session) {
	for _, s := range due {
		s.mu.Lock()
		if s.closed || s.paused || s.to == nil {
			s.mu.Unlock()
			continue
		}
		seq := s.outSeq
		s.outSeq++
		if !s.peerMulti {
			p := zhttp.Packet{From: z.id, ID: s.idb, Type: zhttp.KeepAlive, Multi: true}
			p.SetSeq(seq)
			msg := zhttp.AppendT(nil, &p)
			if err := z.sendTo(s.to, msg); err != nil {
				z.log.Debug("zhttp: keep-alive not sent", "id", s.id, "err", err)
			}
			s.mu.Unlock()
			continue
		}
		z.routerMu.Lock()
		b := z.batches[string(s.to)]
		if b == nil {
			b = &kaBatch{dest: s.to, pkt: zhttp.Packet{From: z.id, Type: zhttp.KeepAlive, Multi: true}}
			z.batches[string(s.to)] = b
		}
		b.pkt.IDs = append(b.pkt.IDs, zhttp.MultiID{ID: s.idb, Seq: seq})
		if len(b.pkt.IDs) >= maxMultiIDs {
			z.flushBatchLocked(b)
		}
		z.routerMu.Unlock()
		s.mu.Unlock()
	}
	z.routerMu.Lock()
	for _, b := range z.batches {
		z.flushBatchLocked(b)
	}
	z.routerMu.Unlock()
}

// expire tells connections whose session heard nothing for 60 s.
func (z *streamClient) expire(now time.Time) {
	limit := now.Add(-z.expireAfter).UnixNano()
	var expired []*session
	z.regMu.RLock()
	for _, s := range z.sessions {
		if s.lastRecv.Load() < limit {
			expired = append(expired, s)
		}
	}
	z.regMu.RUnlock()
	for _, s := range expired {
		if s.orphaned.Load() {
			// The responder never answered the orphan: forget it, as
			// condure's session timeout does (nothing to tell anyone).
			z.unregister(s)
			continue
		}
		s.conn.expire(s)
	}
}

// cancelAll sends cancel for every live session at shutdown, batched per
// destination for multi responders (condure does this when stopped,
// reference §10 item 14).
func (z *streamClient) cancelAll() {
	z.regMu.RLock()
	all := make([]*session, 0, len(z.sessions))
	for _, s := range z.sessions {
		all = append(all, s)
	}
	z.regMu.RUnlock()
	batches := map[string]*zhttp.Packet{}
	for _, s := range all {
		s.mu.Lock()
		if s.closed || s.to == nil {
			s.mu.Unlock()
			continue
		}
		seq := s.outSeq
		s.outSeq++
		s.closed = true
		if !s.peerMulti {
			p := zhttp.Packet{From: z.id, ID: s.idb, Type: zhttp.Cancel, Multi: true}
			p.SetSeq(seq)
			_ = z.router.TrySend(zhttp.RouterMessage(s.to, zhttp.AppendT(nil, &p)))
		} else {
			b := batches[string(s.to)]
			if b == nil {
				b = &zhttp.Packet{From: z.id, Type: zhttp.Cancel, Multi: true}
				batches[string(s.to)] = b
			}
			b.IDs = append(b.IDs, zhttp.MultiID{ID: s.idb, Seq: seq})
			if len(b.IDs) >= maxMultiIDs {
				_ = z.router.TrySend(zhttp.RouterMessage(s.to, zhttp.AppendT(nil, b)))
				b.IDs = b.IDs[:0]
			}
		}
		s.mu.Unlock()
	}
	for dest, b := range batches {
		if len(b.IDs) > 0 {
			_ = z.router.TrySend(zhttp.RouterMessage([]byte(dest), zhttp.AppendT(nil, b)))
		}
	}
}
