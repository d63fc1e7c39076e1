// Package engine is pushpin-handler re-implemented: it takes held sessions
// over from pushpin-proxy (inspect/accept), owns their ZHTTP sessions towards
// condure, keeps channel subscriptions, and fans published items out to
// them; it also serves the publish inputs (HTTP control API, ZeroMQ PULL and
// SUB, the command socket), WebSocket sessions through ws-control, retries,
// next links and stats (reference §2, §4, §5, §6, §8).
//
// Concurrency: all session, channel and sequencer state belongs to one
// goroutine, the engine loop (loop.go). Everything else — the socket actors,
// the HTTP server, the command socket — talks to it by posting closures on
// the bounded e.calls queue or decoded condure packets on e.zin; a producer
// blocks while the queue is full (backpressure to the ZeroMQ HWMs and to HTTP
// publishers). Because there is a single owner there are no locks on the
// fan-out path and no lock order to keep; the only mutex-protected values are
// the counters read by Prometheus and the stats report (atomics).
//
// The one invariant a reader must know: a session's out-seq advances only in
// the engine loop, in the order packets are written to the PUB socket that
// the loop owns, so condure always sees each session's packets in sequence.
package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Engine is one running handler.
type Engine struct {
	cfg Config
	log *logger
	zc  *zmqx.Context

	// Engine-loop inputs. calls carries closures from every other
	// goroutine; zin carries decoded condure packets (the busiest input:
	// one credit per delivery).
	calls chan func()
	zin   chan *zhttp.Packet
	// accepts carries accept calls, served before everything else: the
	// proxy gives up on an accept after 8 s, and refuses new ones outright
	// while its DEALER queue towards us is full ("Accept service
	// unavailable."), so a burst of new held requests must not wait behind
	// publishes and condure credits.
	accepts chan func()

	// Sockets. out is owned by the loop; the rest are actors.
	out          zhttpOut
	condureIn    *zmqx.Actor
	acceptSock   *zmqx.Actor
	inspectSock  *zmqx.Actor
	retrySock    *zmqx.Actor
	wsCtlIn      *zmqx.Actor
	wsCtlOut     *zmqx.Actor
	proxyStats   *zmqx.Actor
	proxyCmd     *zmqx.Actor
	intreqOut    *zmqx.Actor
	intreqStream *zmqx.Actor
	intreqIn     *zmqx.Actor
	pullIn       *zmqx.Actor
	subIn        *zmqx.Actor
	statsOut     *zmqx.Actor
	command      *zmqx.Actor

	httpSrv *http.Server
	httpLn  net.Listener
	promSrv *http.Server
	promLn  net.Listener

	// Bound endpoints, for get-zmq-uris and tests.
	Endpoints Endpoints

	st      *state   // loop-owned
	metrics *Metrics // atomics, shared

	proxyCalls *zrpcClient

	ctx context.Context // Run's context; done when the handler stops
	wg  sync.WaitGroup
}

// Endpoints lists what the handler bound (resolved wildcards).
type Endpoints struct {
	PushIn  string
	PushSub string
	Command string
	Stats   string
	HTTP    string // host:port of the control API
	Prom    string
}

// New prepares a handler; sockets are created by Run.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:     cfg,
		log:     newLogger(cfg.Logger),
		calls:   make(chan func(), 4096),
		accepts: make(chan func(), acceptQueueSize),
		zin:     make(chan *zhttp.Packet, 8192),
		metrics: newMetrics(),
	}
	e.st = newState(e)
	return e, nil
}

// Run starts the handler and blocks until ctx is cancelled or a socket
// fails. Sockets are closed and ipc files removed before it returns.
func (e *Engine) Run(ctx context.Context) error {
	return e.run(ctx, nil)
}

// RunReady is Run that closes ready once the handler is serving.
func (e *Engine) RunReady(ctx context.Context, ready chan<- Endpoints) error {
	return e.run(ctx, ready)
}

func (e *Engine) run(ctx context.Context, ready chan<- Endpoints) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.ctx = ctx
	zc, err := zmqx.NewContext()
	if err != nil {
		return fmt.Errorf("zmq context: %w", err)
	}
	e.zc = zc
	defer zc.Close()

	if err := e.setupSockets(ctx); err != nil {
		e.closeOut()
		return err
	}
	if err := e.setupHTTP(); err != nil {
		e.closeOut()
		return err
	}
	e.log.infof("starting...")

	// Owners: the loop and the HTTP servers are started here and waited
	// for below.
	loopErr := make(chan error, 1)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		loopErr <- e.loop(ctx)
	}()
	e.startHTTP()
	if ready != nil {
		ready <- e.Endpoints
	}
	e.log.infof("started")

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-loopErr:
		runErr = err
		cancel()
	case err := <-e.actorFailed(ctx):
		runErr = err
		cancel()
	}
	e.stopHTTP()
	cancel()
	e.wg.Wait()
	e.closeOut()
	_ = zc.Close()
	e.log.infof("stopped")
	return runErr
}

// actorFailed returns a channel that yields the first actor error.
func (e *Engine) actorFailed(ctx context.Context) <-chan error {
	ch := make(chan error, 1)
	for _, a := range e.actors() {
		a := a
		e.wg.Add(1)
		go func() { // owner: run; exits when the actor stops
			defer e.wg.Done()
			<-a.Done()
			if err := a.Wait(); err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				select {
				case ch <- fmt.Errorf("socket %s: %w", a.Name(), err):
				default:
				}
			}
		}()
	}
	return ch
}

func (e *Engine) actors() []*zmqx.Actor {
	var out []*zmqx.Actor
	for _, a := range []*zmqx.Actor{e.condureIn, e.acceptSock, e.inspectSock, e.retrySock, e.wsCtlIn,
		e.wsCtlOut, e.proxyStats, e.proxyCmd, e.intreqOut, e.intreqStream, e.intreqIn, e.pullIn,
		e.subIn, e.statsOut, e.command} {
		if a != nil {
			out = append(out, a)
		}
	}
	return out
}

func (e *Engine) closeOut() {
	if e.out.sock != nil {
		_ = e.out.sock.Close()
		e.out.sock = nil
	}
}

// acceptQueueSize bounds the accepts waiting for the loop. The proxy has at
// most a few thousand accepts outstanding (its DEALER HWM plus our ROUTER's
// receive HWM); beyond this the accept actor blocks and backpressure
// reaches the proxy.
const acceptQueueSize = 8192

// post hands fn to the engine loop, blocking while the queue is full until
// ctx ends. It reports whether fn was queued.
func (e *Engine) post(ctx context.Context, fn func()) bool {
	select {
	case e.calls <- fn:
		return true
	default:
	}
	select {
	case e.calls <- fn:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter returns d minus a random 0–999 ms, as Pushpin spreads keep-alives.
func jitter(d time.Duration) time.Duration {
	j := time.Duration(rand.IntN(1000)) * time.Millisecond
	if d > j {
		return d - j
	}
	return d
}

// connect/bind helpers

func (e *Engine) actor(ctx context.Context, name string, t zmq4.Type, specs []string, bind bool, h zmqx.Handler, opts ...zmqx.SocketOption) (*zmqx.Actor, error) {
	return e.actorQ(ctx, name, t, specs, bind, h, 0, opts...)
}

// actorQ is actor with an outbound queue of queueSize messages (0 = the
// zmqx default).
func (e *Engine) actorQ(ctx context.Context, name string, t zmq4.Type, specs []string, bind bool, h zmqx.Handler, queueSize int, opts ...zmqx.SocketOption) (*zmqx.Actor, error) {
	a, err := zmqx.NewActor(ctx, e.zc, zmqx.Config{
		Name:      name,
		Type:      t,
		Endpoint:  zmqx.Endpoint{Specs: specs, Bind: bind, IPCMode: e.cfg.IPCMode},
		Options:   opts,
		QueueSize: queueSize,
		Handler:   h,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return a, nil
}

func one(spec string) []string {
	if spec == "" {
		return nil
	}
	return []string{spec}
}
