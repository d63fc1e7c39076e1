package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/wscontrol"
)

// wsControl is the proxy's side of the ws-control protocol (reference
// §4.5): it announces WebSocket sessions to the handler (here, keep-alive,
// gone), carries grip control messages and implicit subscriptions, and
// routes the handler's items (send, close, detach, keep-alive-setup, ack,
// cancel) to the session goroutines.
type wsControl struct {
	e *Engine

	mu       sync.Mutex
	sessions map[string]*wsCtlSession
	dropped  int
}

// wsCtlSession is one WebSocket session's link to the handler.
type wsCtlSession struct {
	cid string
	// items from the handler, bounded; overflow drops the item (logged):
	// the handler only sends what publishes produce, and a session that
	// cannot keep up loses messages rather than stalling the others.
	items   chan wscontrol.Item
	refresh chan struct{}
	lastKA  time.Time
}

const wsItemsQueue = 1024

// wsKeepAliveEvery is how often live sessions are refreshed at the handler
// (their ttl is 60 s; Pushpin refreshes every 45 s).
const wsKeepAliveEvery = 45 * time.Second

func newWSControl(e *Engine) *wsControl {
	return &wsControl{e: e, sessions: make(map[string]*wsCtlSession)}
}

func (w *wsControl) enabled() bool { return w.e.wsctlOut != nil }

// register adds a session and sends "here".
func (w *wsControl) register(cid string, here wscontrol.Item) *wsCtlSession {
	s := &wsCtlSession{cid: cid, items: make(chan wscontrol.Item, wsItemsQueue), refresh: make(chan struct{}, 1), lastKA: time.Now()}
	w.mu.Lock()
	w.sessions[cid] = s
	w.mu.Unlock()
	here.CID = []byte(cid)
	here.Type = wscontrol.Here
	here.SetTTL(wscontrol.SessionTTL)
	w.send(here)
	return s
}

// unregister removes a session and sends "gone".
func (w *wsControl) unregister(s *wsCtlSession) {
	w.mu.Lock()
	if w.sessions[s.cid] == s {
		delete(w.sessions, s.cid)
	}
	w.mu.Unlock()
	w.send(wscontrol.Item{CID: []byte(s.cid), Type: wscontrol.Gone})
}

// send writes items in one packet.
func (w *wsControl) send(items ...wscontrol.Item) {
	if w.e.wsctlOut == nil || len(items) == 0 {
		return
	}
	p := wscontrol.Packet{Items: items}
	b := p.Encode()
	w.e.log.Debug("wscontrol: OUT " + dumpTnet(b))
	if err := w.e.wsctlOut.TrySend([][]byte{b}); err != nil {
		w.mu.Lock()
		w.dropped++
		n := w.dropped
		w.mu.Unlock()
		w.e.log.Warn(fmt.Sprintf("wscontrol: cannot send (%v), %d packets dropped", err, n))
	}
}

// handler receives the handler's ws-control packets.
func (w *wsControl) handler(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 1 {
		return
	}
	var p wscontrol.Packet
	if err := wscontrol.Decode(msg[0], &p); err != nil {
		w.e.log.Warn(fmt.Sprintf("wscontrol: received message with invalid format: %v", err))
		return
	}
	w.e.log.Debug("wscontrol: IN " + dumpTnet(msg[0]))
	var cancels []wscontrol.Item
	for _, it := range p.Items {
		w.mu.Lock()
		s := w.sessions[string(it.CID)]
		w.mu.Unlock()
		if s == nil {
			if it.Type != wscontrol.Cancel && it.Type != wscontrol.Ack {
				cancels = append(cancels, wscontrol.Item{CID: it.CID, Type: wscontrol.Cancel})
			}
			continue
		}
		select {
		case s.items <- it:
		default:
			w.e.log.Warn(fmt.Sprintf("wscontrol: session %s queue full, dropping %s item", s.cid, it.Type))
		}
	}
	w.send(cancels...)
}

// refresh asks a WebSocket-over-HTTP session to poll its origin (the refresh
// command); false when the cid is unknown.
func (w *wsControl) refresh(cid string) bool {
	w.mu.Lock()
	s := w.sessions[cid]
	w.mu.Unlock()
	if s == nil {
		return false
	}
	select {
	case s.refresh <- struct{}{}:
	default:
	}
	return true
}

// run refreshes live sessions at the handler, batching up to
// wscontrol.MaxKeepAliveBatch items per packet.
func (w *wsControl) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var batch []wscontrol.Item
			w.mu.Lock()
			for _, s := range w.sessions {
				if now.Sub(s.lastKA) >= wsKeepAliveEvery {
					s.lastKA = now
					it := wscontrol.Item{CID: []byte(s.cid), Type: wscontrol.KeepAlive}
					it.SetTTL(wscontrol.SessionTTL)
					batch = append(batch, it)
				}
			}
			w.mu.Unlock()
			for len(batch) > 0 {
				n := min(len(batch), wscontrol.MaxKeepAliveBatch)
				w.send(batch[:n]...)
				batch = batch[n:]
			}
		}
	}
}
