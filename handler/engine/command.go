package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
)

// The handler's command socket (reference §4.8): publish, recover,
// refresh, conncheck, get-zmq-uris.

func (e *Engine) onCommand(a *zmqx.Actor, msg [][]byte) {
	call, err := parseCall(msg)
	if err != nil {
		e.log.warnf("command: received invalid request: %v", err)
		return
	}
	id := call.req.ID
	switch call.req.Method {
	case zrpc.MethodGetZMQURIs:
		u := zrpc.ZMQURIs{Command: e.cfg.CommandSpec, PublishPull: e.cfg.PushInSpec}
		if !e.cfg.PushInSubConnect && len(e.cfg.PushInSubSpecs) > 0 {
			u.PublishSub = e.cfg.PushInSubSpecs[0]
		}
		e.reply(a, call.env, zrpc.Success(id, u.Value()))
	case zrpc.MethodPublish:
		items, err := publish.DecodeCommandArgs(call.req.Args)
		if err != nil {
			e.metrics.badPublish.Add(1)
			e.reply(a, call.env, zrpc.FailureText(id, zrpc.CondBadRequest, publishErrorText(err)))
			return
		}
		e.publishItems(items)
		e.reply(a, call.env, zrpc.Success(id, tnetstring.N()))
	case zrpc.MethodRecover:
		e.post(e.ctx, e.st.recover)
		e.reply(a, call.env, zrpc.Success(id, tnetstring.N()))
	case zrpc.MethodRefresh:
		args, err := zrpc.ParseRefreshArgs(call.req.Args)
		if err != nil {
			e.reply(a, call.env, zrpc.Failure(id, zrpc.CondBadRequest, tnetstring.Value{}))
			return
		}
		e.refresh(a, call, args)
	case zrpc.MethodConncheck:
		args, err := zrpc.ParseConncheckArgs(call.req.Args)
		if err != nil {
			e.reply(a, call.env, zrpc.Failure(id, zrpc.CondBadRequest, tnetstring.Value{}))
			return
		}
		e.conncheck(a, call, args)
	default:
		e.reply(a, call.env, zrpc.Failure(id, zrpc.CondMethodNotFound, tnetstring.Value{}))
	}
}

// recover forgets every last id and updates every HTTP session: response
// holds are retried, stream holds with a next link refetch it.
func (st *state) recover() {
	clear(st.lastIDs)
	for _, ch := range st.channels {
		ch.seqHasLast = false
	}
	list := make([]*httpSession, 0, len(st.sessions))
	for _, hs := range st.sessions {
		list = append(list, hs)
	}
	for _, hs := range list {
		hs.update()
	}
}

// refresh asks the proxy to refresh WebSocket-over-HTTP sessions: one cid
// (item-not-found if unknown here) or every session on a channel.
func (e *Engine) refresh(a *zmqx.Actor, call zrpcCall, args zrpc.RefreshArgs) {
	found := make(chan []string, 1)
	if !e.post(e.ctx, func() {
		var cids []string
		if args.CID != "" {
			if _, ok := e.st.ws[args.CID]; ok {
				cids = append(cids, args.CID)
			}
		} else if ch := e.st.channels[args.Channel]; ch != nil {
			for _, s := range ch.subs {
				if s.ws != nil {
					cids = append(cids, s.ws.cid)
				}
			}
		}
		found <- cids
	}) {
		return
	}
	e.goCall(func(ctx context.Context) {
		var cids []string
		select {
		case cids = <-found:
		case <-ctx.Done():
			return
		}
		if args.CID != "" && len(cids) == 0 {
			e.reply(a, call.env, zrpc.Failure(call.req.ID, zrpc.CondItemNotFound, tnetstring.Value{}))
			return
		}
		for _, cid := range cids {
			_, err := e.proxyCall(ctx, zrpc.MethodRefresh, zrpc.RefreshArgs{CID: cid}.Value())
			if err != nil && args.CID != "" {
				cond := zrpc.CondItemNotFound
				var ce *zrpc.ConditionError
				if !errors.As(err, &ce) {
					cond = zrpc.CondProxyRequestFailed
				}
				e.reply(a, call.env, zrpc.Failure(call.req.ID, cond, tnetstring.Value{}))
				return
			}
		}
		e.reply(a, call.env, zrpc.Success(call.req.ID, tnetstring.N()))
	})
}

// conncheck reports which connection ids are alive: ours, then whatever
// the proxy knows among the rest.
func (e *Engine) conncheck(a *zmqx.Actor, call zrpcCall, args zrpc.ConncheckArgs) {
	known := make(chan map[string]bool, 1)
	if !e.post(e.ctx, func() {
		m := map[string]bool{}
		for _, id := range args.IDs {
			if _, ok := e.st.sessions[connKey(id)]; ok {
				m[id] = true
			} else if _, ok := e.st.ws[id]; ok {
				m[id] = true
			}
		}
		known <- m
	}) {
		return
	}
	e.goCall(func(ctx context.Context) {
		var m map[string]bool
		select {
		case m = <-known:
		case <-ctx.Done():
			return
		}
		var rest []string
		for _, id := range args.IDs {
			if !m[id] {
				rest = append(rest, id)
			}
		}
		if len(rest) > 0 && e.proxyCmd != nil {
			v, err := e.proxyCall(ctx, zrpc.MethodConncheck, zrpc.ConncheckArgs{IDs: rest}.Value())
			if err != nil {
				e.reply(a, call.env, zrpc.Failure(call.req.ID, zrpc.CondProxyRequestFailed, tnetstring.Value{}))
				return
			}
			alive, err := zrpc.ParseConncheckResult(v)
			if err == nil {
				for _, id := range alive {
					m[id] = true
				}
			}
		}
		var out []string
		for _, id := range args.IDs {
			if m[id] {
				out = append(out, id)
			}
		}
		e.reply(a, call.env, zrpc.Success(call.req.ID, zrpc.ConncheckResult(out)))
	})
}

// goCall runs fn in a goroutine owned by the engine (waited for at
// shutdown), bounded in time by the proxy call timeout.
func (e *Engine) goCall(fn func(ctx context.Context)) {
	e.wg.Add(1)
	go func() { // owner: Engine.wg
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.ctx, proxyCallTimeout+time.Second)
		defer cancel()
		fn(ctx)
	}()
}

// --- ZRPC client to the proxy's command socket ---

// proxyCallTimeout is Pushpin's handler→proxy command timeout.
const proxyCallTimeout = 10 * time.Second

// zrpcClient matches responses on the proxy command DEALER to callers.
type zrpcClient struct {
	mu      sync.Mutex
	pending map[string]chan zrpc.Response
}

func newZRPCClient() *zrpcClient { return &zrpcClient{pending: map[string]chan zrpc.Response{}} }

func (c *zrpcClient) onMessage(_ *zmqx.Actor, msg [][]byte) {
	raw, err := zrpc.ParseClientMessage(msg)
	if err != nil {
		return
	}
	resp, err := zrpc.DecodeResponse(raw)
	if err != nil {
		return
	}
	c.mu.Lock()
	ch := c.pending[resp.ID]
	delete(c.pending, resp.ID)
	c.mu.Unlock()
	if ch != nil {
		ch <- resp
	}
}

// errNoProxy: no proxy command socket configured.
var errNoProxy = errors.New("proxy command socket not configured")

// proxyCall sends a command to the proxy and waits for the answer.
func (e *Engine) proxyCall(ctx context.Context, method string, args tnetstring.Value) (tnetstring.Value, error) {
	if e.proxyCmd == nil {
		return tnetstring.Value{}, errNoProxy
	}
	c := e.proxyCalls
	id := randomID()
	ch := make(chan zrpc.Response, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	req := zrpc.Request{ID: id, Method: method, Args: args}
	if err := e.proxyCmd.TrySend(zrpc.ClientMessage(req.Encode())); err != nil {
		return tnetstring.Value{}, err
	}
	t := time.NewTimer(proxyCallTimeout)
	defer t.Stop()
	select {
	case resp := <-ch:
		if err := resp.Err(); err != nil {
			return tnetstring.Value{}, err
		}
		return resp.Value, nil
	case <-t.C:
		return tnetstring.Value{}, errors.New("proxy command timed out")
	case <-ctx.Done():
		return tnetstring.Value{}, ctx.Err()
	}
}

// sendProxyReport passes the combined report to the proxy's report command
// (its update checker), without waiting; the proxy answers
// service-unavailable when updates_check is off.
func (e *Engine) sendProxyReport(r *stats.Report) {
	if e.proxyCmd == nil {
		return
	}
	req := zrpc.Request{ID: randomID(), Method: zrpc.MethodReport, Args: stats.ReportArgs(r)}
	_ = e.proxyCmd.TrySend(zrpc.ClientMessage(req.Encode()))
}
