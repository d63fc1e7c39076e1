// Package engine is the proxy daemon: a drop-in replacement for
// pushpin-proxy 1.36. It takes client requests from condure over ZHTTP,
// routes them (routes file), forwards them to origins through zurl with
// Grip-Sig and the other request rewrites, relays plain responses, and hands
// requests whose origin answered with GRIP instructions to pushpin-handler
// (inspect, accept, retry, ws-control). It also proxies WebSockets (with the
// grip extension), speaks WebSocket-over-HTTP to over_http origins, answers
// the handler's internal next-link requests, and publishes stats.
//
// The invariant a reader must know: every client session is served by one
// goroutine that owns all of its state (seq counters, credits, buffers);
// socket owner goroutines only decode packets and hand them to that
// goroutine's bounded inbox.
package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pebbe/zmq4"

	plog "github.com/pushpin-go/pushpin/pkg/log"
	"github.com/pushpin-go/pushpin/pkg/routes"
	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Engine is a running proxy.
type Engine struct {
	cfg     *Config
	log     *slog.Logger
	idBytes []byte

	zc *zmqx.Context

	condure *responder
	intreq  *responder
	zurl    *initiator

	condureIn, condureStream *zmqx.Actor
	intreqIn, intreqStream   *zmqx.Actor
	inspect, accept          *rpcClient
	retryIn                  *zmqx.Actor
	wsctlIn, wsctlOut        *zmqx.Actor
	statsPub, command        *zmqx.Actor
	zurlIn                   *zmqx.Actor

	routes atomic.Pointer[routes.Table]

	// newReqs queues first packets until a session slot is free.
	newReqs chan newRequest
	slots   chan struct{}

	wsctl *wsControl
	stats *statsCollector

	wg      sync.WaitGroup // session goroutines
	ctx     context.Context
	hupCh   chan struct{}
	dropped atomic.Uint64 // requests refused because the queue was full
}

// newRequest is a first packet waiting to become a session.
type newRequest struct {
	r   *responder
	p   *zhttp.Packet
	raw []byte
}

// New checks cfg and prepares an Engine; Run starts it.
func New(cfg *Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:     cfg,
		log:     cfg.Log,
		idBytes: []byte(cfg.ID),
		newReqs: make(chan newRequest, cfg.NewSessionQueue),
		slots:   make(chan struct{}, cfg.MaxSessions),
		hupCh:   make(chan struct{}, 1),
	}
	return e, nil
}

// Reload asks the engine to reload the routes file (SIGHUP).
func (e *Engine) Reload() {
	select {
	case e.hupCh <- struct{}{}:
	default:
	}
}

// Run opens the sockets, serves until ctx is cancelled, and shuts down:
// sessions are cancelled, sockets closed (ipc files removed).
func (e *Engine) Run(ctx context.Context) error {
	e.log.Info("starting...")
	if err := e.loadRoutesInitial(); err != nil {
		return err
	}
	zc, err := zmqx.NewContext()
	if err != nil {
		return fmt.Errorf("zmq context: %w", err)
	}
	e.zc = zc
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.ctx = ctx
	e.stats = newStatsCollector(e)
	e.wsctl = newWSControl(e)
	if err := e.openSockets(ctx); err != nil {
		cancel()
		_ = zc.Close()
		return err
	}
	e.log.Info("started")

	var bg sync.WaitGroup
	// Owner: Run. Each exits when ctx is cancelled.
	bg.Add(4)
	go func() { defer bg.Done(); e.acceptLoop(ctx) }()
	go func() { defer bg.Done(); e.watchRoutes(ctx) }()
	go func() { defer bg.Done(); e.stats.run(ctx) }()
	go func() { defer bg.Done(); e.wsctl.run(ctx) }()

	<-ctx.Done()
	e.log.Debug("stopping")
	bg.Wait()
	waitTimeout(&e.wg, 3*time.Second)
	bound := e.boundIPCFiles()
	if err := zc.Close(); err != nil {
		return fmt.Errorf("close sockets: %w", err)
	}
	// libzmq leaves the socket files of closed ipc binds behind; remove
	// ours so a stopped proxy leaves a clean run dir.
	for _, f := range bound {
		if fi, err := os.Lstat(f); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(f)
		}
	}
	e.log.Info("stopped")
	return nil
}

// boundIPCFiles lists the socket files of our ipc binds.
func (e *Engine) boundIPCFiles() []string {
	var files []string
	for _, a := range []*zmqx.Actor{e.retryIn, e.wsctlIn, e.wsctlOut, e.statsPub, e.command, e.intreqIn, e.intreqStream} {
		if a != nil {
			files = appendIPC(files, a.Endpoint())
		}
	}
	for _, c := range []*rpcClient{e.inspect, e.accept} {
		if c != nil && c.a != nil {
			files = appendIPC(files, c.a.Endpoint())
		}
	}
	if e.intreq != nil {
		files = appendIPC(files, e.intreq.pub.Endpoint())
	}
	return files
}

func appendIPC(files []string, ep string) []string {
	if p, ok := strings.CutPrefix(ep, "ipc://"); ok && p != "" && !strings.HasPrefix(p, "@") {
		files = append(files, p)
	}
	return files
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func (e *Engine) actor(ctx context.Context, name string, t zmq4.Type, specs []string, bind bool, h zmqx.Handler, opts ...zmqx.SocketOption) (*zmqx.Actor, error) {
	a, err := zmqx.NewActor(ctx, e.zc, zmqx.Config{
		Name:      name,
		Type:      t,
		Endpoint:  zmqx.Endpoint{Specs: specs, Bind: bind, IPCMode: e.cfg.IPCMode},
		Options:   opts,
		QueueSize: 16384,
		Handler:   h,
	})
	if err != nil {
		return nil, fmt.Errorf("%s socket %v: %w", name, specs, err)
	}
	return a, nil
}

func one(spec string) []string {
	if spec == "" {
		return nil
	}
	return []string{spec}
}

// openSockets creates the socket map of reference §1.4.
func (e *Engine) openSockets(ctx context.Context) error {
	c := e.cfg
	var err error
	id := c.ID

	// #3 PUB → condure (responses); #1 PULL ← condure (new requests);
	// #2 ROUTER ← condure (later packets), identity = our id.
	condureOut, err := e.actor(ctx, "condure-out", zmq4.PUB, c.CondureOutSpecs, false, nil, zmqx.HWM(zmqx.StreamHWM))
	if err != nil {
		return err
	}
	e.condure = &responder{name: "zhttp", pub: condureOut, sessions: newRegistry()}
	if e.condureStream, err = e.actor(ctx, "condure-in-stream", zmq4.ROUTER, c.CondureInStreamSpecs, false,
		e.streamHandler(e.condure), zmqx.Identity(id), zmqx.HWM(zmqx.StreamHWM)); err != nil {
		return err
	}
	if e.condureIn, err = e.actor(ctx, "condure-in", zmq4.PULL, c.CondureInSpecs, false,
		e.firstHandler(e.condure), zmqx.HWM(zmqx.ZhttpInHWM)); err != nil {
		return err
	}

	// #4 PUSH → zurl, #5 ROUTER → zurl, #6 SUB ← zurl.
	e.zurl = &initiator{sessions: newRegistry()}
	if e.zurl.push, err = e.actor(ctx, "zurl-out", zmq4.PUSH, c.ZurlOutSpecs, false, nil, zmqx.HWM(zmqx.ZhttpOutHWM)); err != nil {
		return err
	}
	// zurl never writes on this socket (it answers through PUB); anything
	// arriving is logged and dropped.
	ignore := func(_ *zmqx.Actor, msg [][]byte) { e.log.Debug("zhttp client: unexpected message on zurl-out-stream") }
	if e.zurl.router, err = e.actor(ctx, "zurl-out-stream", zmq4.ROUTER, c.ZurlOutStreamSpecs, false, ignore,
		zmqx.Identity(id), zmqx.HWM(zmqx.StreamHWM), zmqx.Immediate()); err != nil {
		return err
	}
	if e.zurlIn, err = e.actor(ctx, "zurl-in", zmq4.SUB, c.ZurlInSpecs, false, e.zurlHandler,
		zmqx.HWM(zmqx.StreamHWM), zmqx.Subscribe(id+" ")); err != nil {
		return err
	}

	// #8, #9 ZRPC DEALERs to the handler.
	if c.InspectSpec != "" {
		e.inspect = newRPCClient("inspect", e.log)
		if e.inspect.a, err = e.actor(ctx, "inspect", zmq4.DEALER, one(c.InspectSpec), true, e.inspect.handler, zmqx.HWM(zmqx.ZhttpOutHWM)); err != nil {
			return err
		}
	}
	if c.AcceptSpec != "" {
		e.accept = newRPCClient("accept", e.log)
		if e.accept.a, err = e.actor(ctx, "accept", zmq4.DEALER, one(c.AcceptSpec), true, e.accept.handler, zmqx.HWM(zmqx.ZhttpOutHWM)); err != nil {
			return err
		}
	}
	// #10 retry PULL.
	if c.RetryInSpec != "" {
		if e.retryIn, err = e.actor(ctx, "retry", zmq4.PULL, one(c.RetryInSpec), true, e.retryHandler, zmqx.HWM(zmqx.ZhttpInHWM)); err != nil {
			return err
		}
	}
	// #11, #12 ws-control.
	if c.WSControlInSpec != "" {
		if e.wsctlIn, err = e.actor(ctx, "ws-control-in", zmq4.PULL, one(c.WSControlInSpec), true, e.wsctl.handler, zmqx.HWM(zmqx.StreamHWM)); err != nil {
			return err
		}
	}
	if c.WSControlOutSpec != "" {
		if e.wsctlOut, err = e.actor(ctx, "ws-control-out", zmq4.PUSH, one(c.WSControlOutSpec), true, nil, zmqx.HWM(zmqx.StreamHWM)); err != nil {
			return err
		}
	}
	// #13 stats PUB, #14 command ROUTER.
	if c.StatsSpec != "" {
		if e.statsPub, err = e.actor(ctx, "stats", zmq4.PUB, one(c.StatsSpec), true, nil, zmqx.HWM(zmqx.StatsHWM)); err != nil {
			return err
		}
	}
	if c.CommandSpec != "" {
		if e.command, err = e.actor(ctx, "command", zmq4.ROUTER, one(c.CommandSpec), true, e.commandHandler); err != nil {
			return err
		}
	}
	// #15–#17 intreq: the handler's next-link requests.
	if len(c.IntreqInSpecs) > 0 && len(c.IntreqInStreamSpecs) > 0 && len(c.IntreqOutSpecs) > 0 {
		out, err := e.actor(ctx, "intreq-out", zmq4.PUB, c.IntreqOutSpecs[:1], true, nil, zmqx.HWM(zmqx.StreamHWM))
		if err != nil {
			return err
		}
		e.intreq = &responder{name: "intreq", pub: out, sessions: newRegistry(), internal: true}
		if e.intreqStream, err = e.actor(ctx, "intreq-in-stream", zmq4.ROUTER, c.IntreqInStreamSpecs[:1], true,
			e.streamHandler(e.intreq), zmqx.Identity(id), zmqx.HWM(zmqx.StreamHWM)); err != nil {
			return err
		}
		if e.intreqIn, err = e.actor(ctx, "intreq-in", zmq4.PULL, c.IntreqInSpecs[:1], true,
			e.firstHandler(e.intreq), zmqx.HWM(zmqx.ZhttpInHWM)); err != nil {
			return err
		}
	}
	return nil
}

// firstHandler receives first packets (PULL): new sessions.
func (e *Engine) firstHandler(r *responder) zmqx.Handler {
	return func(_ *zmqx.Actor, msg [][]byte) {
		if len(msg) != 1 {
			e.log.Warn(r.name + " server: received message with wrong number of parts")
			return
		}
		p := new(zhttp.Packet)
		f, err := zhttp.Decode(msg[0], p)
		if err != nil || f != zhttp.FormatT {
			e.log.Warn(fmt.Sprintf("%s server: received message with invalid format: %v", r.name, err))
			return
		}
		e.logPacket(r.name+" server: IN", p)
		if !p.IsRequestStart() {
			// A continuation that arrived on the first-packet socket: route
			// it to its session if there is one.
			r.sessions.dispatch(string(p.From), p)
			return
		}
		select {
		case e.newReqs <- newRequest{r: r, p: p}:
		default:
			n := e.dropped.Add(1)
			e.log.Warn(fmt.Sprintf("%s server: new request queue full (%d), refusing request %s (%d refused so far)",
				r.name, cap(e.newReqs), p.ID, n))
			e.refuse(r, p)
		}
	}
}

// streamHandler receives later packets of server sessions (ROUTER).
func (e *Engine) streamHandler(r *responder) zmqx.Handler {
	return func(_ *zmqx.Actor, msg [][]byte) {
		_, raw, err := zhttp.ParseRouterMessage(msg)
		if err != nil {
			e.log.Warn(fmt.Sprintf("%s server: %v", r.name, err))
			return
		}
		p := new(zhttp.Packet)
		if _, err := zhttp.Decode(raw, p); err != nil {
			e.log.Warn(fmt.Sprintf("%s server: received message with invalid format: %v", r.name, err))
			return
		}
		e.logPacket(r.name+" server: IN stream", p)
		if !r.sessions.dispatch(string(p.From), p) {
			e.log.Debug(fmt.Sprintf("%s server: no session for id %s", r.name, p.ID))
		}
	}
}

// zurlHandler receives zurl's responses (SUB).
func (e *Engine) zurlHandler(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 1 {
		return
	}
	_, raw, err := zhttp.SplitPubMessage(msg[0])
	if err != nil {
		e.log.Warn("zhttp client: " + err.Error())
		return
	}
	p := new(zhttp.Packet)
	if _, err := zhttp.Decode(raw, p); err != nil {
		e.log.Warn(fmt.Sprintf("zhttp client: received message with invalid format: %v", err))
		return
	}
	e.logPacket("zhttp client: IN", p)
	e.zurl.sessions.dispatch("", p)
}

// refuse answers a request that could not be queued with 503, without a
// session (its seq is 0 and nothing else will be sent).
func (e *Engine) refuse(r *responder, p *zhttp.Packet) {
	out := &zhttp.Packet{From: e.idBytes, ID: p.ID, Code: 503, Reason: "Service Unavailable",
		Headers: []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("Server is busy.\n")}
	out.SetCode(503)
	out.SetSeq(0)
	msg := zhttp.AppendPubMessage(nil, p.From, out)
	_ = r.pub.TrySend([][]byte{msg})
}

// acceptLoop turns queued first packets into session goroutines, at most
// MaxSessions at a time.
func (e *Engine) acceptLoop(ctx context.Context) {
	for {
		var nr newRequest
		select {
		case <-ctx.Done():
			return
		case nr = <-e.newReqs:
		}
		select {
		case <-ctx.Done():
			return
		case e.slots <- struct{}{}:
		}
		e.wg.Add(1)
		// Owner: acceptLoop/Run (e.wg); exits when the session ends.
		go func() {
			defer e.wg.Done()
			defer func() { <-e.slots }()
			e.serveNew(ctx, nr)
		}()
	}
}

// serveNew starts the session for a first packet: HTTP or WebSocket.
func (e *Engine) serveNew(ctx context.Context, nr newRequest) {
	p := nr.p
	s, err := e.newServerSession(nr.r, string(p.From), string(p.ID))
	if err != nil {
		e.log.Warn(err.Error())
		return
	}
	defer s.close()
	if err := s.take(p); err != nil {
		e.log.Debug(err.Error())
		return
	}
	s.credits = 0
	if p.Has&zhttp.HasCredits != 0 {
		s.credits = p.Credits
	}
	if isWSURI(p.URI) {
		if nr.r.internal {
			return // the handler never opens WebSockets through intreq
		}
		e.serveWS(ctx, s, p)
		return
	}
	e.serveHTTP(ctx, s, p, nil)
}

// logPacket logs a packet at debug level (Pushpin's "zhttp server: OUT …").
func (e *Engine) logPacket(prefix string, p *zhttp.Packet) {
	if !e.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	e.log.Debug(prefix + " " + dumpTnet(p.MarshalTnet(nil)))
}

// dumpTnet renders a tnetstring for debug logs as JSON, one line, cut at
// 1000 bytes as Pushpin trims its dumps.
func dumpTnet(b []byte) string {
	v, err := tnetstring.Decode(b)
	if err != nil {
		return strconv.Quote(string(b))
	}
	out := tnetstring.AppendJSON(nil, v)
	if len(out) > 1000 {
		out = append(out[:1000], "..."...)
	}
	return string(out)
}

// trace logs at trace level.
func (e *Engine) trace(msg string) { plog.Trace(e.log, msg) }

// newUUID returns a random (version 4) UUID string, the form Pushpin uses
// for its client session ids, ZRPC ids and WebSocket connection ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var errNoHandler = errors.New("handler service unavailable")
