package zmqx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pebbe/zmq4"
)

// Errors returned by Actor methods.
var (
	// ErrFull is returned by TrySend and Post when the bounded queue is full.
	ErrFull = errors.New("zmqx: queue full")
	// ErrEmptyMessage is returned when sending a message with no frames.
	ErrEmptyMessage = errors.New("zmqx: empty message")
	// ErrCannotSend is returned when sending on a receive-only socket
	// (PULL, SUB).
	ErrCannotSend = errors.New("zmqx: socket type cannot send")
	// ErrNotSub is returned by Subscribe and Unsubscribe on a non-SUB socket.
	ErrNotSub = errors.New("zmqx: not a SUB socket")
)

// DefaultQueueSize is the outbound queue capacity used when
// Config.QueueSize is 0.
const DefaultQueueSize = 1024

const (
	// batchMax bounds how many messages one owner turn receives or sends
	// before looking at the other direction and the ops again, so a busy
	// direction cannot starve the rest.
	batchMax = 256
	// opQueueSize bounds the queue of pending Do/Post/Subscribe calls.
	opQueueSize = 256
	// Retry delays after the socket refuses a message with EAGAIN (its HWM
	// is reached). They bound how long the owner waits before trying again
	// when POLLOUT is not reported or cannot be trusted.
	retryMin = time.Millisecond
	retryMax = 100 * time.Millisecond
)

// A Handler receives each inbound message on the actor's owner goroutine,
// together with the actor itself so that it can reply (TrySend) or change
// subscriptions (Post) without capturing the actor in a closure.
//
// The outer slice is reused for the next message and must not be retained;
// the frames themselves are freshly allocated by the binding and may be kept.
// Reusing the slice and calling the handler directly (rather than sending
// on a channel) leaves only the binding's own allocations on the inbound
// path (the frame and a zmq_msg_t per frame), none per message.
//
// The handler runs with the socket in its hands: while it runs the actor
// neither receives nor sends. It must be quick and must not block on the
// actor itself: from a handler use TrySend and Post, never Send, Do,
// Subscribe, Unsubscribe, Close or Wait (they wait for the owner, which is
// busy running the handler). A handler that blocks also blocks
// Context.Close.
type Handler func(a *Actor, msg [][]byte)

// Config describes the socket an Actor owns.
type Config struct {
	// Name identifies the socket in errors (e.g. "condure-in-stream").
	// It defaults to the socket type.
	Name string
	// Type is the ZeroMQ socket type. PUSH and PUB are send-only, PULL and
	// SUB receive-only; ROUTER, DEALER, PAIR, REQ, REP, XPUB and XSUB do
	// both.
	Type zmq4.Type
	// Endpoint is bound (first spec) or connected (all specs).
	Endpoint Endpoint
	// Options are applied in order after linger 0, before bind/connect.
	Options []SocketOption
	// QueueSize is the capacity of the outbound queue (DefaultQueueSize if
	// 0). It is the number of messages Send accepts ahead of the socket.
	QueueSize int
	// Handler receives inbound messages. It is required for socket types
	// that receive and must be nil for send-only types.
	Handler Handler
	// OnDrop, if set, is called on the owner goroutine for each message the
	// socket refused as undeliverable: a ROUTER with ROUTER_MANDATORY
	// addressing an unknown peer (EHOSTUNREACH). Such messages are always
	// counted in Dropped.
	OnDrop func(msg [][]byte, err error)
}

// An Actor owns one ZeroMQ socket in one goroutine. Other goroutines hand it
// outbound messages through a bounded queue (Send, TrySend), run socket
// operations on it (Do, Post, Subscribe), and receive inbound messages via
// Config.Handler, which the owner calls.
//
// The owner never blocks inside libzmq: every send and receive uses
// ZMQ_DONTWAIT, and the owner sleeps in a Go select over the outbound queue,
// the op queue, its context and a readiness channel fed by the socket's
// ZMQ_FD. A watcher goroutine waits on a duplicate of that descriptor in the
// Go network poller (never touching the socket itself) and nudges the owner
// whenever libzmq signals a state change; the owner then reads ZMQ_EVENTS and
// receives until EAGAIN. So an outbound message goes straight from Send to
// the owner, an inbound one wakes it through the runtime poller, and nothing
// polls on a timer while idle.
//
// Why not zmq_poll on the socket plus an inproc wake-up pair (the first
// version of this type): a goroutine blocked in a cgo call holds its OS
// thread, and every outbound message then needed a feeder goroutine and an
// inproc signal to reach the polling thread. On the shared 2-core dev VM a
// ROUTER/DEALER echo round trip over ipc took about 260 µs that way and about
// 190 µs with this design (raw libzmq in one thread: about 100 µs; all
// numbers noisy).
//
// When the socket refuses a message because its high-water mark is reached
// (EAGAIN), the owner keeps that message, stops taking from the queue (so
// Send blocks and TrySend reports ErrFull: backpressure reaches the
// producers), and retries when ZMQ_EVENTS reports POLLOUT or after a bounded
// backoff (1 ms doubling to 100 ms). A ROUTER with ROUTER_MANDATORY can report
// POLLOUT while the addressed peer is full; after one such false readiness
// the owner retries on the backoff timer alone, so it never spins. The
// queue is one FIFO: while a message to one ROUTER peer waits, messages to
// other peers wait behind it.
//
// The actor exits when its context is cancelled, its Context is closed, or
// the socket fails. On exit it closes its socket (linger 0, so nothing waits
// for delivery), discards messages still queued, and reports the error, if
// any, through Wait.
type Actor struct {
	name    string
	bound   string
	typ     zmq4.Type
	canSend bool
	canRecv bool

	out chan [][]byte
	ops chan op

	handler Handler
	onDrop  func([][]byte, error)
	dropped atomic.Uint64

	ctx    context.Context // cancelled when the actor stops, for any reason
	cancel context.CancelFunc
	done   chan struct{} // closed after the socket is closed
	err    error         // written before done is closed
}

// op is a function run on the owner goroutine. result is nil for Post.
type op struct {
	fn     func(*zmq4.Socket) error
	result chan error
}

// NewActor creates the socket described by cfg in zc, binds or connects it,
// and starts the goroutine that owns it. The socket is ready (bound or
// connecting) when NewActor returns, so bind errors are reported here. The
// actor runs until ctx is cancelled, zc is closed, or the socket fails.
func NewActor(ctx context.Context, zc *Context, cfg Config) (*Actor, error) {
	name := cfg.Name
	if name == "" {
		name = cfg.Type.String()
	}
	canSend, canRecv, err := directions(cfg.Type)
	if err != nil {
		return nil, fmt.Errorf("zmqx %s: %w", name, err)
	}
	switch {
	case canRecv && cfg.Handler == nil:
		return nil, fmt.Errorf("zmqx %s: %v socket needs a Handler", name, cfg.Type)
	case !canRecv && cfg.Handler != nil:
		return nil, fmt.Errorf("zmqx %s: %v socket cannot receive; Handler must be nil", name, cfg.Type)
	case cfg.QueueSize < 0:
		return nil, fmt.Errorf("zmqx %s: negative QueueSize %d", name, cfg.QueueSize)
	}
	queueSize := cfg.QueueSize
	if queueSize == 0 {
		queueSize = DefaultQueueSize
	}

	if !zc.addActor() {
		return nil, fmt.Errorf("zmqx %s: %w", name, ErrClosed)
	}
	started := false
	defer func() {
		if !started {
			zc.actors.Done()
		}
	}()

	sock, err := zc.NewSocket(cfg.Type, cfg.Options...)
	if err != nil {
		return nil, fmt.Errorf("zmqx %s: %w", name, err)
	}
	bound, err := Setup(sock, cfg.Endpoint)
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("zmqx %s: %w", name, err)
	}
	signal, err := socketSignal(sock)
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("zmqx %s: %w", name, err)
	}

	a := &Actor{
		name:    name,
		bound:   bound,
		typ:     cfg.Type,
		canSend: canSend,
		canRecv: canRecv,
		ops:     make(chan op, opQueueSize),
		handler: cfg.Handler,
		onDrop:  cfg.OnDrop,
		done:    make(chan struct{}),
	}
	if canSend {
		a.out = make(chan [][]byte, queueSize)
	}
	a.ctx, a.cancel = context.WithCancel(ctx)
	stopWithContext := context.AfterFunc(zc.life, a.cancel)
	started = true
	// Owner: the actor; it exits when a.ctx is cancelled or the socket
	// fails, and Context.Close waits for it through zc.actors.
	go func() {
		a.run(sock, signal)
		stopWithContext()
		zc.actors.Done()
	}()
	return a, nil
}

// directions reports whether a socket type sends and receives.
func directions(t zmq4.Type) (send, recv bool, err error) {
	switch t {
	case zmq4.PUSH, zmq4.PUB:
		return true, false, nil
	case zmq4.PULL, zmq4.SUB:
		return false, true, nil
	case zmq4.ROUTER, zmq4.DEALER, zmq4.PAIR, zmq4.REQ, zmq4.REP, zmq4.XPUB, zmq4.XSUB:
		return true, true, nil
	}
	return false, false, fmt.Errorf("unsupported socket type %v", t)
}

// socketSignal returns a duplicate of the socket's ZMQ_FD registered with
// the Go runtime poller. libzmq makes the descriptor readable whenever the
// socket's state may have changed (a message arrived, room to send opened
// up); its readiness says nothing more, so ZMQ_EVENTS must be read after
// every wake-up. The duplicate shares libzmq's eventfd but is ours to close,
// and closing it never disturbs libzmq.
func socketSignal(sock *zmq4.Socket) (*os.File, error) {
	fd, err := sock.GetFd()
	if err != nil {
		return nil, fmt.Errorf("read ZMQ_FD: %w", err)
	}
	syscall.ForkLock.RLock()
	dup, err := syscall.Dup(fd)
	if err == nil {
		syscall.CloseOnExec(dup)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("dup ZMQ_FD: %w", err)
	}
	// libzmq makes the descriptor non-blocking, so os.NewFile registers it
	// with the runtime poller; SetReadDeadline fails if that did not happen.
	f := os.NewFile(uintptr(dup), "zmq-signal")
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("ZMQ_FD not pollable: %w", err)
	}
	return f, nil
}

// Name returns the actor's name from Config.Name.
func (a *Actor) Name() string { return a.name }

// Endpoint returns the endpoint the socket is bound to (ZMQ_LAST_ENDPOINT,
// with wildcards such as "tcp://127.0.0.1:*" resolved), or "" if it connects.
func (a *Actor) Endpoint() string { return a.bound }

// Dropped returns how many messages the socket refused as undeliverable
// (see Config.OnDrop).
func (a *Actor) Dropped() uint64 { return a.dropped.Load() }

// QueueLen returns the number of messages waiting in the outbound queue.
func (a *Actor) QueueLen() int { return len(a.out) }

// Done is closed once the actor has stopped and closed its socket.
func (a *Actor) Done() <-chan struct{} { return a.done }

// Wait blocks until the actor has stopped and returns the error that stopped
// it, or nil if it stopped because its context was cancelled or its Context
// closed.
func (a *Actor) Wait() error {
	<-a.done
	return a.err
}

// Close stops the actor and waits for it; it returns the same as Wait.
func (a *Actor) Close() error {
	a.cancel()
	return a.Wait()
}

// Send queues msg for the socket, blocking while the queue is full until ctx
// is done or the actor stops (ErrClosed). After a nil return the actor owns
// msg and its frames: the caller must not modify them. Messages still queued
// when the actor stops are discarded.
func (a *Actor) Send(ctx context.Context, msg [][]byte) error {
	if err := a.checkSend(msg); err != nil {
		return err
	}
	select {
	case a.out <- msg:
		return nil
	default:
	}
	select {
	case a.out <- msg:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-a.ctx.Done():
		return ErrClosed
	}
}

// TrySend queues msg without blocking; it returns ErrFull when the queue is
// full. Ownership passes as for Send. It is safe to call from a Handler.
func (a *Actor) TrySend(msg [][]byte) error {
	if err := a.checkSend(msg); err != nil {
		return err
	}
	select {
	case a.out <- msg:
		return nil
	default:
		return ErrFull
	}
}

func (a *Actor) checkSend(msg [][]byte) error {
	if !a.canSend {
		return ErrCannotSend
	}
	if len(msg) == 0 {
		return ErrEmptyMessage
	}
	if a.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// Do runs fn with the socket on the owner goroutine and returns its error.
// It waits for fn to run, so it must not be called from a Handler (use
// Post).
func (a *Actor) Do(ctx context.Context, fn func(*zmq4.Socket) error) error {
	o := op{fn: fn, result: make(chan error, 1)}
	select {
	case a.ops <- o:
	case <-ctx.Done():
		return ctx.Err()
	case <-a.ctx.Done():
		return ErrClosed
	}
	select {
	case err := <-o.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-a.ctx.Done():
		// The owner may have run fn just before stopping.
		select {
		case err := <-o.result:
			return err
		default:
			return ErrClosed
		}
	}
}

// Post queues fn to run with the socket on the owner goroutine and returns
// without waiting; ErrFull if the op queue is full. Ops run in order with
// those from Do. An error from fn stops the actor (it reports the error
// through Wait): the socket operations an op performs only fail on a broken
// socket. Post is safe to call from a Handler.
func (a *Actor) Post(fn func(*zmq4.Socket) error) error {
	if a.ctx.Err() != nil {
		return ErrClosed
	}
	select {
	case a.ops <- op{fn: fn}:
		return nil
	default:
		return ErrFull
	}
}

// Subscribe adds a ZMQ_SUBSCRIBE filter on a SUB socket, on the owner
// goroutine, and waits until it is set. The subscription then reaches
// publishers asynchronously, as with any SUB socket.
func (a *Actor) Subscribe(ctx context.Context, topic string) error {
	if a.typ != zmq4.SUB {
		return ErrNotSub
	}
	return a.Do(ctx, func(s *zmq4.Socket) error {
		if err := s.SetSubscribe(topic); err != nil {
			return fmt.Errorf("subscribe %q: %w", topic, err)
		}
		return nil
	})
}

// Unsubscribe removes a ZMQ_SUBSCRIBE filter (one Subscribe of the same
// topic) on a SUB socket and waits until it is removed.
func (a *Actor) Unsubscribe(ctx context.Context, topic string) error {
	if a.typ != zmq4.SUB {
		return ErrNotSub
	}
	return a.Do(ctx, func(s *zmq4.Socket) error {
		if err := s.SetUnsubscribe(topic); err != nil {
			return fmt.Errorf("unsubscribe %q: %w", topic, err)
		}
		return nil
	})
}

// run is the owner goroutine's body.
func (a *Actor) run(sock *zmq4.Socket, signal *os.File) {
	ready := make(chan struct{}, 1)
	armed := make(chan struct{})
	watcherDone := make(chan struct{})
	// Owner: run; closing signal below stops the watcher, and run waits
	// for watcherDone before closing the socket.
	go watchSignal(signal, ready, armed, watcherDone)

	var err error
	select {
	case <-armed:
		err = a.loop(sock, ready)
	case <-watcherDone:
		err = errors.New("ZMQ_FD watcher failed to start")
	}
	a.cancel()
	signal.Close()
	<-watcherDone
	if cerr := sock.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		err = fmt.Errorf("zmqx %s: %w", a.name, err)
	}
	a.err = err
	close(a.done)
}

// watchSignal nudges ready (a one-slot channel, so nudges coalesce) each
// time the runtime poller reports the ZMQ_FD duplicate readable, and returns
// when the owner closes signal.
//
// It stays inside one RawConn.Read for its whole life, because Read clears
// the descriptor's pending readiness when it starts: an edge arriving
// between two Reads would be lost, and since libzmq signals only when its
// command queue goes from empty to non-empty, the owner would then sleep
// forever. For the same reason the owner starts its loop (and its first
// ZMQ_EVENTS read) only after armed is closed, which happens once Read has
// cleared the readiness and will record any later edge.
func watchSignal(signal *os.File, ready chan<- struct{}, armed, done chan<- struct{}) {
	defer close(done)
	rc, err := signal.SyscallConn()
	if err != nil {
		return
	}
	first := true
	// The error is the file being closed, which is how the watcher is told
	// to stop; there is nothing to report.
	_ = rc.Read(func(uintptr) bool {
		if first {
			first = false
			close(armed)
			return false
		}
		select {
		case ready <- struct{}{}:
		default:
		}
		return false // never done: wait for the next edge
	})
}

// loop serves the socket until the actor is cancelled or the socket fails.
//
// Each turn first does all work that needs no waiting: ops, queued sends,
// then receives until ZMQ_EVENTS shows nothing readable. Reading ZMQ_EVENTS
// (or a receive ending in EAGAIN) is the last libzmq call before the owner
// sleeps, which is what the ZMQ_FD contract requires: any state change
// after it signals the descriptor.
func (a *Actor) loop(sock *zmq4.Socket, ready <-chan struct{}) error {
	in := make([][]byte, 0, 4)
	var (
		pending [][]byte // refused with EAGAIN; sent before anything else
		retry   retryState
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	for {
		if a.ctx.Err() != nil {
			return nil
		}
		if err := a.runOps(sock); err != nil {
			return err
		}
		busy := false
		events, err := sock.GetEvents()
		if err != nil {
			return fmt.Errorf("read ZMQ_EVENTS: %w", err)
		}
		if pending != nil && retry.due(events) {
			retryLater, err := a.sendOne(sock, pending, &retry, events&zmq4.POLLOUT != 0)
			if err != nil {
				return err
			}
			if !retryLater {
				pending = nil
			}
		}
		if pending == nil && a.canSend {
			var more bool
			pending, more, err = a.drainQueue(sock, &retry)
			if err != nil {
				return err
			}
			busy = busy || more
		}
		if a.canRecv {
			// A send above may have changed the socket state.
			events, err = sock.GetEvents()
			if err != nil {
				return fmt.Errorf("read ZMQ_EVENTS: %w", err)
			}
			if events&zmq4.POLLIN != 0 {
				more, err := a.recvBatch(sock, &in)
				if err != nil {
					return err
				}
				busy = busy || more
			}
		}
		if busy {
			continue
		}

		// Sleep until the socket signals, a message or op is queued, the
		// retry timer fires, or the actor is cancelled. While a refused
		// message is pending the queue is left alone: that is the
		// backpressure.
		out := a.out
		var retryC <-chan time.Time
		if pending != nil {
			out = nil
			timer.Reset(time.Until(retry.at))
			retryC = timer.C
		}
		select {
		case <-a.ctx.Done():
			return nil
		case <-ready:
		case o := <-a.ops:
			if err := runOp(sock, o); err != nil {
				return err
			}
		case msg := <-out:
			retryLater, err := a.sendOne(sock, msg, &retry, false)
			if err != nil {
				return err
			}
			if retryLater {
				pending = msg
			}
		case <-retryC:
			// The next turn retries the pending message.
		}
		timer.Stop()
	}
}

// drainQueue sends up to batchMax queued messages without waiting. It
// returns a message the socket refused (to retry later) and whether the
// queue may hold more.
func (a *Actor) drainQueue(sock *zmq4.Socket, retry *retryState) ([][]byte, bool, error) {
	for range batchMax {
		var msg [][]byte
		select {
		case msg = <-a.out:
		default:
			return nil, false, nil
		}
		retryLater, err := a.sendOne(sock, msg, retry, false)
		if err != nil {
			return nil, false, err
		}
		if retryLater {
			return msg, false, nil
		}
	}
	return nil, true, nil
}

// sendOne writes msg without blocking. It reports retryLater when the socket
// refused the whole message with EAGAIN; an undeliverable message
// (EHOSTUNREACH) is dropped and counted; other errors are fatal. readyOut
// says the attempt follows a POLLOUT report, to detect false readiness.
func (a *Actor) sendOne(sock *zmq4.Socket, msg [][]byte, retry *retryState, readyOut bool) (retryLater bool, err error) {
	last := len(msg) - 1
	for i, part := range msg {
		flags := zmq4.DONTWAIT
		if i < last {
			flags |= zmq4.SNDMORE
		}
		if _, err := sock.SendBytes(part, flags); err != nil {
			if i > 0 {
				// libzmq accepts or refuses a message as a whole at its
				// first frame; a later failure means the socket is broken.
				return false, fmt.Errorf("send frame %d of %d: %w", i+1, len(msg), err)
			}
			switch {
			case isErrno(err, syscall.EAGAIN):
				retry.failed(readyOut)
				return true, nil
			case isErrno(err, syscall.EHOSTUNREACH):
				a.dropped.Add(1)
				if a.onDrop != nil {
					a.onDrop(msg, err)
				}
				retry.reset()
				return false, nil
			default:
				return false, fmt.Errorf("send: %w", err)
			}
		}
	}
	retry.reset()
	return false, nil
}

// recvBatch receives up to batchMax messages without blocking and hands
// each to the handler. It reports whether more may be waiting.
func (a *Actor) recvBatch(sock *zmq4.Socket, buf *[][]byte) (bool, error) {
	for range batchMax {
		msg, err := recvMessage(sock, (*buf)[:0])
		*buf = msg
		if err != nil {
			if len(msg) == 0 && isErrno(err, syscall.EAGAIN) {
				return false, nil
			}
			return false, fmt.Errorf("receive: %w", err)
		}
		a.handler(a, msg)
		// Drop references so frames are not kept alive by the reused slice.
		clear(msg)
	}
	return true, nil
}

// recvMessage appends the frames of one message to buf. The frames of a
// multipart message arrive together, so only the first receive can EAGAIN.
func recvMessage(sock *zmq4.Socket, buf [][]byte) ([][]byte, error) {
	for {
		b, err := sock.RecvBytes(zmq4.DONTWAIT)
		if err != nil {
			return buf, err
		}
		buf = append(buf, b)
		more, err := sock.GetRcvmore()
		if err != nil {
			return buf, err
		}
		if !more {
			return buf, nil
		}
	}
}

// runOps runs every op queued so far.
func (a *Actor) runOps(sock *zmq4.Socket) error {
	for {
		select {
		case o := <-a.ops:
			if err := runOp(sock, o); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// runOp runs o and delivers its result to a waiting Do; a failing Post op
// is returned to stop the actor.
func runOp(sock *zmq4.Socket, o op) error {
	err := o.fn(sock)
	if o.result != nil {
		o.result <- err
		return nil
	}
	if err != nil {
		return fmt.Errorf("posted op: %w", err)
	}
	return nil
}

// retryState tracks the backoff for a message refused with EAGAIN.
type retryState struct {
	delay time.Duration
	// at is when the backoff allows the next attempt. It is a deadline, not
	// a timer restarted on every wake-up, so a busy inbound side cannot
	// postpone the retry indefinitely.
	at time.Time
	// falseReady is set when the socket reported POLLOUT yet refused the
	// message; POLLOUT is then ignored until a send succeeds.
	falseReady bool
}

// due reports whether the pending message should be tried now, given the
// socket's ZMQ_EVENTS.
func (r *retryState) due(events zmq4.State) bool {
	if events&zmq4.POLLOUT != 0 && !r.falseReady {
		return true
	}
	return !time.Now().Before(r.at)
}

func (r *retryState) failed(afterReadyOut bool) {
	if r.delay == 0 {
		r.delay = retryMin
	} else {
		r.delay = min(2*r.delay, retryMax)
	}
	r.at = time.Now().Add(r.delay)
	if afterReadyOut {
		r.falseReady = true
	}
}

func (r *retryState) reset() { *r = retryState{} }

// isErrno reports whether err is the given system error as returned by the
// zmq4 binding.
func isErrno(err error, e syscall.Errno) bool {
	return zmq4.AsErrno(err) == zmq4.Errno(e)
}
