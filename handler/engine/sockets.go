package engine

import (
	"context"
	"fmt"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// setupSockets creates every ZeroMQ socket of the socket map (reference
// §1.4, #2, #3, #8–#21): connects towards condure and the proxy, binds the
// publish inputs, the command socket and the stats PUB.
func (e *Engine) setupSockets(ctx context.Context) error {
	cfg := &e.cfg
	id := cfg.InstanceID
	var err error

	// #3 PUB → condure, owned by the loop (see zhttpOut).
	sock, err := e.zc.NewSocket(zmq4.PUB, zmqx.HWM(zmqx.StreamHWM))
	if err != nil {
		return fmt.Errorf("condure out: %w", err)
	}
	if err := zmqx.ConnectAll(sock, cfg.CondureOutSpecs); err != nil {
		sock.Close()
		return fmt.Errorf("condure out: %w", err)
	}
	e.out = zhttpOut{sock: sock, from: []byte(id), log: e.log}

	// #2 ROUTER ← condure, identity = our id so condure can address us.
	e.condureIn, err = e.actor(ctx, "condure-in-stream", zmq4.ROUTER, cfg.CondureInStreamSpecs, false,
		e.onCondureMessage, zmqx.Identity(id), zmqx.HWM(zmqx.StreamHWM))
	if err != nil {
		return err
	}

	// #8, #9 ZRPC servers for the proxy's DEALERs.
	// A ROUTER silently drops a reply when the pipe to its peer is full,
	// and the proxy then waits 8 s and answers 500: the send side gets
	// the stream HWM and the actor queue room for every call that can be
	// outstanding. The receive HWM lets a burst of new held requests
	// queue here rather than fill the proxy's DEALER (which makes the
	// proxy refuse at once with "Accept service unavailable.").
	rpcOpts := []zmqx.SocketOption{zmqx.SndHWM(zmqx.StreamHWM), zmqx.RcvHWM(rpcRcvHWM)}
	if e.inspectSock, err = e.actorQ(ctx, "inspect", zmq4.ROUTER, one(cfg.InspectSpec), false, e.onInspect, replyQueueSize, rpcOpts...); err != nil {
		return err
	}
	if e.acceptSock, err = e.actorQ(ctx, "accept", zmq4.ROUTER, one(cfg.AcceptSpec), false, e.onAccept, replyQueueSize, rpcOpts...); err != nil {
		return err
	}
	// #10 retry packets.
	if e.retrySock, err = e.actor(ctx, "retry", zmq4.PUSH, one(cfg.RetryOutSpec), false, nil, zmqx.HWM(zmqx.ZhttpOutHWM)); err != nil {
		return err
	}
	// #11, #12 ws-control.
	if cfg.WSControlOutSpec != "" {
		if e.wsCtlOut, err = e.actor(ctx, "ws-control-out", zmq4.PUSH, one(cfg.WSControlOutSpec), false, nil, zmqx.HWM(zmqx.StreamHWM)); err != nil {
			return err
		}
	}
	if cfg.WSControlInSpec != "" {
		if e.wsCtlIn, err = e.actor(ctx, "ws-control-in", zmq4.PULL, one(cfg.WSControlInSpec), false, e.onWSControl, zmqx.HWM(zmqx.StreamHWM)); err != nil {
			return err
		}
	}
	// #13 proxy stats.
	if cfg.ProxyStatsSpec != "" {
		if e.proxyStats, err = e.actor(ctx, "proxy-stats", zmq4.SUB, one(cfg.ProxyStatsSpec), false, e.onProxyStats,
			zmqx.HWM(zmqx.StreamHWM), zmqx.Subscribe("")); err != nil {
			return err
		}
	}
	// #14 proxy command client.
	if cfg.ProxyCommandSpec != "" {
		e.proxyCalls = newZRPCClient()
		if e.proxyCmd, err = e.actor(ctx, "proxy-command", zmq4.DEALER, one(cfg.ProxyCommandSpec), false, e.proxyCalls.onMessage, zmqx.HWM(zmqx.ZhttpOutHWM)); err != nil {
			return err
		}
	}
	// #15–#17 intreq (next links).
	if len(cfg.IntreqOutSpecs) > 0 && len(cfg.IntreqOutStream) > 0 && len(cfg.IntreqInSpecs) > 0 {
		if e.intreqOut, err = e.actor(ctx, "intreq-out", zmq4.PUSH, cfg.IntreqOutSpecs, false, nil, zmqx.HWM(zmqx.ZhttpOutHWM)); err != nil {
			return err
		}
		if e.intreqStream, err = e.actor(ctx, "intreq-out-stream", zmq4.ROUTER, cfg.IntreqOutStream, false, e.onIgnored,
			zmqx.Identity(id), zmqx.HWM(zmqx.StreamHWM), zmqx.RouterMandatory()); err != nil {
			return err
		}
		if e.intreqIn, err = e.actor(ctx, "intreq-in", zmq4.SUB, cfg.IntreqInSpecs, false, e.onIntreqIn,
			zmqx.HWM(zmqx.StreamHWM), zmqx.Subscribe(string(zhttp.PubTopic([]byte(id))))); err != nil {
			return err
		}
	}

	// #20 PULL publish input.
	if cfg.PushInSpec != "" {
		if e.pullIn, err = e.actor(ctx, "push-in", zmq4.PULL, one(cfg.PushInSpec), true, e.onPull,
			zmqx.RcvHWM(zmqx.PublishInHWM)); err != nil {
			return err
		}
		e.Endpoints.PushIn = e.pullIn.Endpoint()
	}
	// #21 SUB publish input.
	if len(cfg.PushInSubSpecs) > 0 {
		opts := []zmqx.SocketOption{zmqx.RcvHWM(zmqx.PublishInHWM), zmqx.SndHWM(zmqx.PublishSubSndHWM)}
		if cfg.PushInSubConnect {
			opts = append(opts, zmqx.TCPKeepalive(zmqx.PushInSubKeepalive))
		}
		if e.subIn, err = e.actor(ctx, "push-in-sub", zmq4.SUB, cfg.PushInSubSpecs, !cfg.PushInSubConnect, e.onSub, opts...); err != nil {
			return err
		}
		e.Endpoints.PushSub = e.subIn.Endpoint()
	}
	// #18 stats PUB.
	if cfg.StatsSpec != "" {
		if e.statsOut, err = e.actor(ctx, "stats", zmq4.PUB, one(cfg.StatsSpec), true, nil, zmqx.HWM(zmqx.StatsHWM)); err != nil {
			return err
		}
		e.Endpoints.Stats = e.statsOut.Endpoint()
	}
	// #19 command socket.
	if cfg.CommandSpec != "" {
		if e.command, err = e.actor(ctx, "command", zmq4.ROUTER, one(cfg.CommandSpec), true, e.onCommand); err != nil {
			return err
		}
		e.Endpoints.Command = e.command.Endpoint()
	}
	return nil
}

// Queue sizes of the proxy-facing ZRPC servers (see setupSockets).
const (
	rpcRcvHWM      = 10000
	replyQueueSize = rpcRcvHWM + acceptQueueSize
)

// onIgnored drains a socket we only send on (the intreq ROUTER).
func (e *Engine) onIgnored(*zmqx.Actor, [][]byte) {}

// onCondureMessage decodes a packet from condure on the actor goroutine (so
// decoding runs in parallel with the loop) and queues it for the loop.
func (e *Engine) onCondureMessage(a *zmqx.Actor, msg [][]byte) {
	_, raw, err := zhttp.ParseRouterMessage(msg)
	if err != nil {
		e.log.warnf("zhttp server: received message with bad framing: %v", err)
		return
	}
	p := new(zhttp.Packet)
	if _, err := zhttp.Decode(raw, p); err != nil {
		e.log.warnf("zhttp server: received message with invalid format: %v", err)
		return
	}
	if e.log.enabled(LevelDebug) {
		e.log.debugf("zhttp server: IN %s", trimForLog(raw))
	}
	select {
	case e.zin <- p:
	case <-e.ctx.Done():
	}
}
