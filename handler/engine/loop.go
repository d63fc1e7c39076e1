package engine

import (
	"context"
	"time"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// loop is the engine goroutine: it owns state and the condure PUB socket
// and serves the input queues and the timer heap until ctx ends.
func (e *Engine) loop(ctx context.Context) error {
	st := e.st
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	armed := time.Time{}

	for {
		// Accepts first (see Engine.accepts), a bounded batch per turn so
		// timers and condure packets still progress.
		if len(e.accepts) > 0 {
			st.now = time.Now()
			for i := 0; i < acceptBatch; i++ {
				select {
				case fn := <-e.accepts:
					fn()
					continue
				default:
				}
				break
			}
		}
		// Keep the single runtime timer at the earliest deadline.
		if next, ok := st.timers.next(); ok {
			if !next.Equal(armed) {
				wake.Reset(time.Until(next))
				armed = next
			}
		}
		select {
		case <-ctx.Done():
			st.now = time.Now()
			st.shutdown()
			return nil
		case p := <-e.zin:
			st.now = time.Now()
			st.handleCondure(p)
			// Drain a bounded batch without re-arming the timer.
			for i := 0; i < 256; i++ {
				select {
				case p := <-e.zin:
					st.handleCondure(p)
					continue
				default:
				}
				break
			}
		case fn := <-e.accepts:
			st.now = time.Now()
			fn()
		case fn := <-e.calls:
			st.now = time.Now()
			fn()
		case <-wake.C:
			armed = time.Time{}
			st.now = time.Now()
			st.timers.fireDue(st.now, 10000)
		case <-tick.C:
			st.now = time.Now()
			st.second()
		}
	}
}

// acceptBatch bounds the accepts run ahead of the other inputs per turn.
const acceptBatch = 64

// second runs the once-a-second chores.
func (st *state) second() {
	st.keepAliveBucket()
	if st.cfg.IDCacheTTL > 0 {
		st.expireIDs()
	}
	st.stats.tick()
}

// keepAliveBucket refreshes one bucket of sessions towards condure and drops
// sessions whose peer went silent (reference §2.6). Keep-alives to the same
// condure are batched in list-form ids, ≤128 per packet.
func (st *state) keepAliveBucket() {
	b := st.kaBuckets[st.kaTick]
	st.kaTick = (st.kaTick + 1) % kaBucketCount
	if len(b) == 0 {
		return
	}
	byAddr := map[string][]*httpSession{}
	for hs := range b {
		if st.now.Sub(hs.lastRecv) > sessionExpire {
			st.log.debugf("zhttp server: session %s expired", hs.connID)
			hs.destroy()
			continue
		}
		if hs.phase != phaseActive {
			continue
		}
		byAddr[hs.key.sender] = append(byAddr[hs.key.sender], hs)
	}
	for addr, list := range byAddr {
		for len(list) > 0 {
			n := min(len(list), 128)
			p := &zhttp.Packet{Type: zhttp.KeepAlive, Multi: true}
			for _, hs := range list[:n] {
				p.IDs = append(p.IDs, zhttp.MultiID{ID: hs.id, Seq: hs.outSeq})
				hs.outSeq++
			}
			st.out.send([]byte(addr), p)
			list = list[n:]
		}
	}
}

// handleCondure dispatches a packet from condure to its sessions.
func (st *state) handleCondure(p *zhttp.Packet) {
	sender := string(p.From)
	if len(p.IDs) > 0 {
		for _, m := range p.IDs {
			hs := st.sessions[sessionKey{sender, string(m.ID)}]
			if hs == nil {
				continue
			}
			hs.handle(p, m.Seq, m.Seq >= 0)
		}
		return
	}
	hs := st.sessions[sessionKey{sender, string(p.ID)}]
	if hs == nil {
		// Late credits for a finished response are normal; anything else
		// for an unknown id is noise from a session we no longer own.
		st.log.debugf("zhttp server: received packet for unknown session %s:%s, skipping", sender, p.ID)
		return
	}
	hs.handle(p, p.Seq, p.Has&zhttp.HasSeq != 0)
}

// shutdown releases sessions when the handler stops. Clients are not told
// (Pushpin's handler exits the same way; condure notices its sessions
// expire).
func (st *state) shutdown() {
	for _, hs := range st.sessions {
		hs.destroy()
	}
}
