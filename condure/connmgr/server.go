package connmgr

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pushpin-go/pushpin/condure/http1"
	"github.com/pushpin-go/pushpin/pkg/zmqx"
)

// Stats are counters a Server keeps; read them with Server.Stats.
type Stats struct {
	Accepted    uint64 // connections accepted
	Refused     uint64 // connections refused at --stream-maxconn / --req-maxconn
	BadRequests uint64 // requests answered 400/431/505
	Active      int64  // connections open now
}

type counters struct {
	accepted, refused, badRequests atomic.Uint64
	active                         atomic.Int64
}

// Server is a running condure instance.
type Server struct {
	cfg Config
	log *slog.Logger

	zs *streamClient
	zr *reqClient

	bufs bufPool // read buffers, BufferSize each
	outs bufPool // write scratch

	listeners []*listener
	ready     chan struct{}
	stats     counters

	reqIDs []atomic.Uint64 // per worker request counters

	connsMu sync.Mutex
	conns   map[*conn]struct{}
	connWG  sync.WaitGroup // one per connection, done in finish

	poller  *poller         // parked connections' sockets; nil if unavailable
	connCtx context.Context // the connections' context (for resumed goroutines)
}

type listener struct {
	cfg     Listener
	nl      net.Listener
	tls     *tls.Config
	workers *workerSet // connection capacity of the listener's mode
}

// New validates cfg and returns a Server ready to Run.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("condure config: %w", err)
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Log,
		bufs:   bufPool{size: cfg.BufferSize},
		outs:   bufPool{size: cfg.BufferSize + 256},
		ready:  make(chan struct{}),
		reqIDs: make([]atomic.Uint64, cfg.Workers),
		conns:  make(map[*conn]struct{}),
	}
	return s, nil
}

// Ready is closed once the sockets are bound and listeners accept.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the listeners' addresses (after Ready), in --listen order.
func (s *Server) Addrs() []net.Addr {
	out := make([]net.Addr, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.nl.Addr()
	}
	return out
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Accepted:    s.stats.accepted.Load(),
		Refused:     s.stats.refused.Load(),
		BadRequests: s.stats.badRequests.Load(),
		Active:      s.stats.active.Load(),
	}
}

// Run binds the ZeroMQ sockets and listeners, serves until ctx is
// cancelled, then cancels live sessions, closes every connection and
// releases the sockets (ipc files and unix socket files are removed).
func (s *Server) Run(ctx context.Context) error {
	zc, err := zmqx.NewContext()
	if err != nil {
		return err
	}
	defer func() {
		zc.Close()
		s.removeIPCFiles()
	}()
	zctx, zcancel := context.WithCancel(context.Background())
	defer zcancel()

	if s.hasMode(ModeStream) {
		s.zs, err = newStreamClient(zctx, zc, &s.cfg)
		if err != nil {
			return fmt.Errorf("zhttp stream sockets: %w", err)
		}
		s.log.Info(fmt.Sprintf("zhttp client %s %v", bindWord(s.cfg.ZClientConnect), s.cfg.ZClientStream))
	}
	if s.hasMode(ModeReq) {
		s.zr, err = newReqClient(zctx, zc, &s.cfg)
		if err != nil {
			return fmt.Errorf("zhttp req socket: %w", err)
		}
	}
	streamWorkers := newWorkerSet(s.cfg.Workers, s.cfg.StreamMaxConn)
	reqWorkers := newWorkerSet(s.cfg.Workers, s.cfg.ReqMaxConn)
	for _, lc := range s.cfg.Listen {
		l, err := s.listen(lc)
		if err != nil {
			s.closeListeners()
			return err
		}
		l.workers = streamWorkers
		if lc.Mode == ModeReq {
			l.workers = reqWorkers
		}
		s.listeners = append(s.listeners, l)
		s.log.Info("listening on " + l.nl.Addr().String())
	}

	connCtx, connCancel := context.WithCancel(context.Background())
	defer connCancel()
	s.connCtx = connCtx
	var bg sync.WaitGroup
	if p, err := newPoller(); err != nil {
		s.log.Warn("epoll unavailable, idle connections keep their goroutines", "err", err)
	} else {
		s.poller = p
		bg.Add(1)
		// Owner: Run; it stops with zctx, after every connection finished.
		go func() { defer bg.Done(); p.run(zctx) }()
	}
	if s.zs != nil {
		bg.Add(1)
		// Owner: Run; it stops with zctx.
		go func() { defer bg.Done(); s.zs.runWheel(zctx) }()
	}
	for _, l := range s.listeners {
		bg.Add(1)
		// Owner: Run; it stops when its listener is closed.
		go func() { defer bg.Done(); s.acceptLoop(connCtx, l) }()
	}
	close(s.ready)

	var runErr error
	select {
	case <-ctx.Done():
	case <-s.actorFailed():
		runErr = errors.New("zmq socket failed")
	}
	s.log.Info("stopping")
	s.closeListeners()
	if s.zs != nil {
		s.zs.cancelAll()
		s.drainRouter()
	}
	connCancel()
	s.closeConns()
	s.connWG.Wait()
	zcancel()
	bg.Wait()
	return runErr
}

func bindWord(connect bool) string {
	if connect {
		return "connect"
	}
	return "bind"
}

func (s *Server) hasMode(m Mode) bool {
	for _, l := range s.cfg.Listen {
		if l.Mode == m {
			return true
		}
	}
	return false
}

// actorFailed is closed when a socket actor stops on its own.
func (s *Server) actorFailed() <-chan struct{} {
	ch := make(chan struct{})
	var actors []*zmqx.Actor
	if s.zs != nil {
		actors = append(actors, s.zs.push, s.zs.router, s.zs.sub)
	}
	if s.zr != nil {
		actors = append(actors, s.zr.dealer)
	}
	if len(actors) == 0 {
		return ch
	}
	var once sync.Once
	for _, a := range actors {
		context.AfterFunc(doneContext(a.Done()), func() { once.Do(func() { close(ch) }) })
	}
	return ch
}

// doneContext adapts a done channel to a context for AfterFunc.
func doneContext(done <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-done; cancel() }() // Owner: the actor's lifetime; exits when done closes.
	return ctx
}

// drainRouter gives queued cancels a bounded moment to reach the socket.
func (s *Server) drainRouter() {
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) && (s.zs.router.QueueLen() > 0 || s.zs.push.QueueLen() > 0) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let libzmq hand the last frames to the kernel
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.nl.Close()
	}
}

func (s *Server) closeConns() {
	s.connsMu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connsMu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
}

// listen opens one --listen endpoint. TCP listeners set SO_REUSEPORT so
// instances with distinct ids can share a port; a unix socket path left by
// a dead process is removed first.
func (s *Server) listen(lc Listener) (*listener, error) {
	l := &listener{cfg: lc}
	var err error
	if lc.Local {
		if err := removeStaleUnix(lc.Addr); err != nil {
			return nil, err
		}
		l.nl, err = net.Listen("unix", lc.Addr)
		if err == nil && s.cfg.IPCFileMode != (zmqx.IPCMode{}) {
			if perm, ok := s.cfg.IPCFileMode.Perm(); ok {
				os.Chmod(lc.Addr, perm)
			}
		}
	} else {
		lcfg := net.ListenConfig{}
		if !s.cfg.NoReusePort {
			lcfg.Control = func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
				})
				if err != nil {
					return err
				}
				return serr
			}
		}
		l.nl, err = lcfg.Listen(context.Background(), "tcp", lc.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", lc.Addr, err)
	}
	if lc.TLS {
		l.tls = newTLSConfig(s.cfg.TLSIdentitiesDir, lc.DefaultCert, s.log)
	}
	return l, nil
}

// removeIPCFiles deletes the socket files of our ipc binds: libzmq leaves
// them behind when a context is terminated, and a stale file would be
// mistaken for a live endpoint by the next start's peers.
func (s *Server) removeIPCFiles() {
	if s.cfg.ZClientConnect {
		return
	}
	var specs []string
	if s.zs != nil {
		for _, b := range s.cfg.ZClientStream {
			if ep, err := streamSpecs(b); err == nil {
				specs = append(specs, ep.out, ep.outStream, ep.in)
			}
		}
	}
	if s.zr != nil {
		specs = append(specs, s.cfg.ZClientReq...)
	}
	for _, spec := range specs {
		path, ok := strings.CutPrefix(spec, "ipc://")
		if !ok || path == "" || path == "*" || strings.HasPrefix(path, "@") {
			continue
		}
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
			os.Remove(path)
		}
	}
}

// soReusePort is SO_REUSEPORT on Linux.
const soReusePort = 0xf

func removeStaleUnix(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listen %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("listen %s: exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("listen %s: another process is listening", path)
	}
	return os.Remove(path)
}

// acceptLoop accepts until the listener closes. Connections beyond the
// mode's maxconn are refused with 503 and counted, never queued.
func (s *Server) acceptLoop(ctx context.Context, l *listener) {
	backoff := 5 * time.Millisecond
	for {
		nc, err := l.nl.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: back off, bounded.
			s.log.Warn("accept failed", "addr", l.nl.Addr().String(), "err", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		worker, slot, ok := l.workers.acquire()
		if !ok {
			s.stats.refused.Add(1)
			s.log.Debug("connection refused: maxconn reached", "addr", l.nl.Addr().String())
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			nc.Write(http1.AppendSimpleResponse(nil, 1, 503, "Too many connections\n"))
			nc.Close()
			continue
		}
		s.stats.accepted.Add(1)
		if l.tls != nil {
			nc = tls.Server(nc, l.tls)
		}
		c := s.newConn(nc, l)
		c.worker, c.slot = worker, uint64(slot)
		s.connsMu.Lock()
		s.conns[c] = struct{}{}
		s.connsMu.Unlock()
		s.stats.active.Add(1)
		s.connWG.Add(1)
		// Owner: Run waits for connWG (done in finish) after shutting
		// every connection down.
		go c.serve(ctx)
	}
}

// workerSet divides a mode's connection capacity (--stream-maxconn or
// --req-maxconn) among --workers workers as condure 1.9.1 does: each of
// its worker threads takes maxconn/workers connections (verified: with 2
// workers, --stream-maxconn=3 serves 2 connections and 5 serves 4), new
// connections go to the workers in turn (ids 0-…, 1-…, 0-…), and a
// connection's id carries its worker and its slot in that worker, the
// slot of the last closed connection being reused first (condure's slab;
// verified ids 1-0-0 then 1-0-1 after the first closed).
//
// Go needs no worker threads (the runtime spreads connection goroutines
// over all cores), so a worker here is only this capacity share and id
// space; when every worker is full the connection is refused with 503
// (condure leaves it waiting in the accept queue).
type workerSet struct {
	next    atomic.Uint64
	workers []workerSlots
}

type workerSlots struct {
	mu    sync.Mutex
	limit int
	used  int
	free  []uint32 // released slots, reused last-in first-out
	fresh uint32   // next never-used slot
}

func newWorkerSet(workers, maxconn int) *workerSet {
	ws := &workerSet{workers: make([]workerSlots, workers)}
	for i := range ws.workers {
		// validate keeps maxconn >= workers, so every worker serves.
		ws.workers[i].limit = maxconn / workers
	}
	return ws
}

// acquire takes a slot in the next worker in turn that has room.
func (ws *workerSet) acquire() (worker int, slot uint32, ok bool) {
	n := uint64(len(ws.workers))
	start := ws.next.Add(1) - 1
	for i := uint64(0); i < n; i++ {
		w := int((start + i) % n)
		if slot, ok := ws.workers[w].take(); ok {
			return w, slot, true
		}
	}
	return 0, 0, false
}

func (ws *workerSet) release(worker int, slot uint32) {
	ws.workers[worker].put(slot)
}

func (w *workerSlots) take() (uint32, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.used >= w.limit {
		return 0, false
	}
	w.used++
	if n := len(w.free); n > 0 {
		slot := w.free[n-1]
		w.free = w.free[:n-1]
		return slot, true
	}
	w.fresh++
	return w.fresh - 1, true
}

func (w *workerSlots) put(slot uint32) {
	w.mu.Lock()
	w.used--
	w.free = append(w.free, slot)
	w.mu.Unlock()
}

// connDone is a connection's last step (finish).
func (s *Server) connDone(c *conn) {
	s.connsMu.Lock()
	delete(s.conns, c)
	s.connsMu.Unlock()
	s.stats.active.Add(-1)
	c.ln.workers.release(c.worker, uint32(c.slot))
	s.connWG.Done()
}

// nextReqID returns the next request counter of a worker.
func (s *Server) nextReqID(worker int) uint64 { return s.reqIDs[worker].Add(1) - 1 }

// bufPool pools byte slices of one size class.
type bufPool struct {
	size int
	p    sync.Pool
}

func (b *bufPool) get() []byte {
	if v := b.p.Get(); v != nil {
		return *(v.(*[]byte))
	}
	return make([]byte, b.size)
}

// put returns buf; slices that grew far beyond the class are dropped so a
// burst does not pin memory.
func (b *bufPool) put(buf []byte) {
	if buf == nil || cap(buf) < b.size || cap(buf) > 4*b.size {
		return
	}
	buf = buf[:cap(buf)]
	b.p.Put(&buf)
}
