package zmqx

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pebbe/zmq4"
)

// ErrClosed is returned by operations on a closed Context or a stopped Actor.
var ErrClosed = errors.New("zmqx: closed")

// Context is a libzmq context shared by the sockets of one process (or one
// component). inproc:// endpoints only connect sockets of the same context,
// and each context owns I/O threads, so daemons create one and pass it
// around.
//
// Close stops every Actor started on the context, waits until they have
// closed their sockets, and then terminates the libzmq context. Sockets made
// with NewSocket are owned by the caller and must be closed before Close, or
// the termination blocks until they are (zmq_ctx_term semantics).
type Context struct {
	zctx *zmq4.Context

	// life is cancelled by Close; every actor's context is tied to it.
	life context.Context
	stop context.CancelFunc

	mu     sync.Mutex // guards closed and actors.Add
	closed bool
	actors sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// NewContext creates a libzmq context.
func NewContext() (*Context, error) {
	zctx, err := zmq4.NewContext()
	if err != nil {
		return nil, fmt.Errorf("create zmq context: %w", err)
	}
	life, stop := context.WithCancel(context.Background())
	return &Context{zctx: zctx, life: life, stop: stop}, nil
}

// NewSocket creates a socket of type t in this context with linger 0 and
// opts applied. The caller owns the socket: it must use it from a single
// goroutine and close it before Close is called. Daemon code normally uses
// NewActor instead.
func (c *Context) NewSocket(t zmq4.Type, opts ...SocketOption) (*zmq4.Socket, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	s, err := c.zctx.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("create %v socket: %w", t, err)
	}
	if err := applyOptions(s, opts); err != nil {
		s.Close()
		return nil, fmt.Errorf("%v socket: %w", t, err)
	}
	return s, nil
}

// Close stops all actors started on c, waits for them to exit, and
// terminates the libzmq context. It is safe to call more than once; later
// calls return the first call's result.
func (c *Context) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.stop()
		c.actors.Wait()
		if err := c.zctx.Term(); err != nil {
			c.closeErr = fmt.Errorf("terminate zmq context: %w", err)
		}
	})
	return c.closeErr
}

// addActor registers a starting actor; it fails once Close has begun so that
// Close's Wait cannot race with a new Add.
func (c *Context) addActor() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.actors.Add(1)
	return true
}
