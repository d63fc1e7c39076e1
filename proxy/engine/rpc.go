package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
)

// rpcClient is a ZRPC client on a bound DEALER (the inspect and accept
// sockets towards the handler). Calls are matched to responses by id.
type rpcClient struct {
	name string
	a    *zmqx.Actor
	log  *slog.Logger

	mu      sync.Mutex
	pending map[string]chan zrpc.Response
}

func newRPCClient(name string, log *slog.Logger) *rpcClient {
	return &rpcClient{name: name, log: log, pending: make(map[string]chan zrpc.Response)}
}

// handler runs on the DEALER's owner goroutine.
func (c *rpcClient) handler(_ *zmqx.Actor, msg [][]byte) {
	b, err := zrpc.ParseClientMessage(msg)
	if err != nil {
		c.log.Warn(fmt.Sprintf("zrpc client (%s): %v", c.name, err))
		return
	}
	resp, err := zrpc.DecodeResponse(b)
	if err != nil {
		c.log.Warn(fmt.Sprintf("zrpc client (%s): received message with invalid format: %v", c.name, err))
		return
	}
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("zrpc client: IN " + dumpTnet(b))
	}
	c.mu.Lock()
	ch := c.pending[resp.ID]
	delete(c.pending, resp.ID)
	c.mu.Unlock()
	if ch != nil {
		ch <- resp // buffered 1, never blocks
	}
}

// available reports whether a handler is connected: a DEALER with no peer
// cannot write, and Pushpin then treats the service as unavailable at once
// instead of waiting for the timeout.
func (c *rpcClient) available(ctx context.Context) bool {
	if c == nil || c.a == nil {
		return false
	}
	ok := false
	err := c.a.Do(ctx, func(s *zmq4.Socket) error {
		ev, err := s.GetEvents()
		if err != nil {
			return nil
		}
		ok = ev&zmq4.POLLOUT != 0
		return nil
	})
	return err == nil && ok
}

// call sends method(args) and waits for the response up to timeout.
func (c *rpcClient) call(ctx context.Context, method string, args tnetstring.Value, timeout time.Duration) (tnetstring.Value, error) {
	if !c.available(ctx) {
		return tnetstring.Value{}, errNoHandler
	}
	id := newUUID()
	req := zrpc.Request{ID: id, Method: method, Args: args}
	b := req.Encode()
	ch := make(chan zrpc.Response, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.Debug("zrpc client: OUT " + dumpTnet(b))
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	if err := c.a.Send(ctx, zrpc.ClientMessage(b)); err != nil {
		return tnetstring.Value{}, err
	}
	select {
	case resp := <-ch:
		if err := resp.Err(); err != nil {
			return resp.Value, err
		}
		return resp.Value, nil
	case <-t.C:
		return tnetstring.Value{}, fmt.Errorf("%s: %w", method, context.DeadlineExceeded)
	case <-ctx.Done():
		return tnetstring.Value{}, ctx.Err()
	}
}
