package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/pushpin-go/pushpin/protocol/wscontrol"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// src says which peer a packet came from.
type src int

const (
	fromServer  src = iota // the client side (condure or intreq)
	fromClient             // the origin side (zurl)
	fromControl            // a ws-control item from the handler (pump.item)
	fromRefresh            // a refresh command (WebSocket-over-HTTP)
	fromAlarm              // the session's own timer (pump.alarm)
)

// pump is the event wait shared by the HTTP and WebSocket sessions: it
// takes packets from the server and client inboxes, checks seq and credits,
// absorbs keep-alives, keeps both peers alive and notices expiry.
type pump struct {
	e   *Engine
	ctx context.Context
	srv *serverSession
	cli *clientSession
	// srvOwned is false once the server session was handed to the handler:
	// we then neither keep it alive nor expect packets.
	srvOwned bool
	tick     *time.Ticker

	// WebSocket sessions also wait on these (nil channels are ignored).
	ctl     <-chan wscontrol.Item
	refresh <-chan struct{}
	alarm   <-chan time.Time
	item    wscontrol.Item // the item returned with fromControl
}

func newPump(ctx context.Context, e *Engine, srv *serverSession) *pump {
	return &pump{e: e, ctx: ctx, srv: srv, srvOwned: true, tick: time.NewTicker(keepAliveInterval)}
}

func (p *pump) stop() {
	p.tick.Stop()
	if p.cli != nil {
		p.cli.close()
	}
}

// setClient makes c the current origin session (closing the previous one).
func (p *pump) setClient(c *clientSession) {
	if p.cli != nil && p.cli != c {
		p.cli.close()
	}
	p.cli = c
}

// errTimeout is returned by next when its timeout passed.
var errTimeout = fmt.Errorf("timed out")

// peerError is an error packet from a peer.
type peerError struct {
	from      src
	condition string
	pkt       *zhttp.Packet
}

func (e *peerError) Error() string { return "peer error: " + e.condition }

// next returns the next packet that needs the caller's attention. timeout 0
// waits without limit (sessions still expire after sessionExpire of
// silence). Keep-alives are consumed here; credit packets are returned so
// callers can resume sending.
func (p *pump) next(timeout time.Duration) (src, *zhttp.Packet, error) {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	for {
		var srvCh <-chan *zhttp.Packet
		var srvOver <-chan struct{}
		if p.srvOwned {
			srvCh, srvOver = p.srv.in.ch, p.srv.in.overflow
		}
		var cliCh <-chan *zhttp.Packet
		var cliOver <-chan struct{}
		if p.cli != nil && !p.cli.closed {
			cliCh, cliOver = p.cli.in.ch, p.cli.in.overflow
		}
		select {
		case <-p.ctx.Done():
			return 0, nil, p.ctx.Err()
		case <-tc:
			return 0, nil, errTimeout
		case <-srvOver:
			return fromServer, nil, errOverflow
		case <-cliOver:
			return fromClient, nil, errOverflow
		case it := <-p.ctl:
			p.item = it
			return fromControl, nil, nil
		case <-p.refresh:
			return fromRefresh, nil, nil
		case <-p.alarm:
			return fromAlarm, nil, nil
		case <-p.tick.C:
			if err := p.keepAlive(); err != nil {
				return 0, nil, err
			}
		case pkt := <-srvCh:
			if err := p.srv.take(pkt); err != nil {
				return fromServer, pkt, err
			}
			switch pkt.Type {
			case zhttp.KeepAlive:
				continue
			case zhttp.Cancel:
				return fromServer, pkt, errCancelled
			case zhttp.Error:
				return fromServer, pkt, &peerError{from: fromServer, condition: pkt.Condition, pkt: pkt}
			}
			return fromServer, pkt, nil
		case pkt := <-cliCh:
			first := p.cli.peer == nil
			if err := p.cli.take(pkt); err != nil {
				return fromClient, pkt, err
			}
			if first && p.cli.peer != nil && pkt.Type != zhttp.Error && pkt.Type != zhttp.Cancel {
				// Pushpin answers the responder's first packet at once so
				// that both sides know each other's address.
				if err := p.cli.send(p.ctx, &zhttp.Packet{Type: zhttp.KeepAlive}); err != nil {
					return fromClient, pkt, err
				}
			}
			switch pkt.Type {
			case zhttp.KeepAlive:
				continue
			case zhttp.Cancel:
				return fromClient, pkt, errCancelled
			case zhttp.Error:
				return fromClient, pkt, &peerError{from: fromClient, condition: pkt.Condition, pkt: pkt}
			}
			return fromClient, pkt, nil
		}
	}
}

// keepAlive refreshes both peers and checks that they are still alive.
func (p *pump) keepAlive() error {
	now := time.Now()
	if p.srvOwned {
		if now.Sub(p.srv.lastRecv) > sessionExpire {
			return errExpired
		}
		if now.Sub(p.srv.lastSend) >= keepAliveInterval-time.Second {
			if err := p.srv.send(p.ctx, &zhttp.Packet{Type: zhttp.KeepAlive}); err != nil {
				return err
			}
		}
	}
	if c := p.cli; c != nil && !c.closed {
		if now.Sub(c.lastRecv) > sessionExpire {
			return errExpired
		}
		if c.peer != nil && now.Sub(c.lastSend) >= keepAliveInterval-time.Second {
			if err := c.send(p.ctx, &zhttp.Packet{Type: zhttp.KeepAlive}); err != nil {
				return err
			}
		}
	}
	return nil
}
