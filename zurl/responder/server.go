// Package responder is zurl's ZHTTP responder: it takes requests from
// ZHTTP initiators (pushpin-proxy, pushpin-handler, any client of zurl's
// sockets), performs them as outbound HTTP or WebSocket sessions, and
// answers over the same protocol, as zurl 1.11.1 does.
//
// Sockets (reference §1.4 rows 4–7): PULL in_spec takes first packets, the
// DEALER in_stream_spec (identity = instance id) takes later ones, the PUB
// out_spec sends every response as "<initiator> T…", and the ROUTER
// in_req_spec serves single request/response exchanges.
//
// The invariant: every session belongs to one goroutine (session.run),
// which alone touches its state; socket handlers only decode packets and
// hand them to the session's bounded inbox, and sessions only reach the
// sockets through the actors' bounded queues.
package responder

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/zurl/config"
	"github.com/pushpin-go/pushpin/zurl/httpclient"
	"github.com/pushpin-go/pushpin/zurl/zlog"
)

// Timings of the stream protocol (zurl worker.cpp SESSION_EXPIRE).
const (
	sessionExpire     = 60 * time.Second
	keepAliveInterval = sessionExpire / 2
	// inboxSize bounds the packets waiting for a session (its mailbox
	// grows only as packets queue). The initiator's data is bounded by our
	// credits, but not how finely it splits it nor its credit packets; a
	// peer that floods a session beyond this gets it cancelled (see
	// deliver). zurl has no such queue (one event loop), so the bound is
	// generous.
	inboxSize = 1024
)

// Options configures a Server.
type Options struct {
	Config config.Config
	Log    *zlog.Logger
	// Hooks for tests: name resolution, trusted roots and the connect
	// timeout of outbound connections.
	Resolver       httpclient.Resolver
	RootCAs        *x509.CertPool
	ConnectTimeout time.Duration
	// Timings for tests; zero means zurl's (60 s expiry, 30 s keep-alive).
	SessionExpire     time.Duration
	KeepAliveInterval time.Duration
}

// Server is a running zurl.
type Server struct {
	cfg    config.Config
	log    *zlog.Logger
	client *httpclient.Client
	opts   Options
	id     []byte

	pub    *zmqx.Actor
	router *zmqx.Actor

	ctx   context.Context
	slots chan struct{} // one per open session when max_open_requests is set
	// reqBacklog holds req-interface requests waiting for a slot; its
	// capacity is in_hwm, and a request arriving when it is full is dropped
	// and logged, as libzmq drops messages beyond a ROUTER's receive HWM.
	reqBacklog chan reqItem

	mu       sync.Mutex
	sessions map[string]*session
	wg       sync.WaitGroup // session goroutines
}

type reqItem struct {
	envelope [][]byte
	msg      []byte
}

// New validates the configuration and builds a server; Run starts it.
func New(o Options) (*Server, error) {
	cfg := o.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.EnsureInstanceID()
	if o.SessionExpire <= 0 {
		o.SessionExpire = sessionExpire
	}
	if o.KeepAliveInterval <= 0 {
		o.KeepAliveInterval = keepAliveInterval
	}
	var resolver httpclient.Resolver = net.DefaultResolver
	if o.Resolver != nil {
		resolver = o.Resolver
	}
	s := &Server{
		cfg:  cfg,
		log:  o.Log,
		opts: o,
		id:   []byte(cfg.InstanceID),
		client: httpclient.New(httpclient.Options{
			Policy:            cfg.Policy,
			AllowIPv6:         cfg.AllowIPv6,
			ConnectionMaxTime: cfg.ConnectionMaxTime,
			ConnectTimeout:    o.ConnectTimeout,
			Resolver:          resolver,
			RootCAs:           o.RootCAs,
		}),
		sessions:   make(map[string]*session),
		reqBacklog: make(chan reqItem, max(cfg.InHWM, 1)),
	}
	if cfg.MaxOpenRequests > 0 {
		s.slots = make(chan struct{}, cfg.MaxOpenRequests)
	}
	return s, nil
}

// InstanceID returns the id used as "from" and DEALER identity.
func (s *Server) InstanceID() string { return s.cfg.InstanceID }

// Run binds the sockets and serves until ctx is cancelled or a socket
// fails. On return every session has ended and every socket is closed.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	zc, err := zmqx.NewContext()
	if err != nil {
		return fmt.Errorf("zmq context: %w", err)
	}
	var actors []*zmqx.Actor
	var ipcFiles []string
	shutdown := func() {
		cancel()
		s.wg.Wait()
		zc.Close()
		s.client.Close()
		// libzmq leaves the socket files of ipc binds behind; remove ours
		// so a stopped zurl leaves a clean run dir.
		for _, f := range ipcFiles {
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				s.log.Warnf("removing %s: %v", f, err)
			}
		}
	}
	bind := func(name, spec string, typ zmq4.Type, h zmqx.Handler, opts ...zmqx.SocketOption) (*zmqx.Actor, error) {
		specs, err := zmqx.ParseSpecs(spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		a, err := zmqx.NewActor(ctx, zc, zmqx.Config{
			Name: name, Type: typ, Handler: h, Options: opts,
			Endpoint: zmqx.Endpoint{Specs: specs, Bind: true, IPCMode: s.cfg.IPCFileMode},
		})
		if err != nil {
			return nil, fmt.Errorf("unable to bind to %s: %s: %w", name, spec, err)
		}
		actors = append(actors, a)
		if path, ok := strings.CutPrefix(specs[0], "ipc://"); ok && path != "" && path[0] != '@' && !strings.Contains(path, "*") {
			ipcFiles = append(ipcFiles, path)
		}
		return a, nil
	}

	if s.cfg.OutSpec != "" {
		// zurl's PUB drops rather than queues when its HWM is reached
		// (setWriteQueueEnabled(false)); the actor blocks the sending
		// session instead, which keeps every packet of a session in order.
		if s.pub, err = bind("out_spec", s.cfg.OutSpec, zmq4.PUB, nil, zmqx.HWM(s.cfg.OutHWM)); err != nil {
			shutdown()
			return err
		}
	}
	if s.cfg.InStreamSpec != "" {
		if _, err = bind("in_stream_spec", s.cfg.InStreamSpec, zmq4.DEALER, s.handleStream,
			zmqx.Identity(s.cfg.InstanceID), zmqx.HWM(s.cfg.InHWM)); err != nil {
			shutdown()
			return err
		}
	}
	if s.cfg.InReqSpec != "" {
		if s.router, err = bind("in_req_spec", s.cfg.InReqSpec, zmq4.ROUTER, s.handleReq, zmqx.HWM(s.cfg.InHWM)); err != nil {
			shutdown()
			return err
		}
		s.wg.Add(1)
		go s.serveReqBacklog() // owner: Run, via s.wg
	}
	if s.cfg.InSpec != "" {
		if _, err = bind("in_spec", s.cfg.InSpec, zmq4.PULL, s.handleInit, zmqx.HWM(s.cfg.InHWM)); err != nil {
			shutdown()
			return err
		}
	}
	s.log.Infof("started")

	// Any actor stopping (a failed socket) stops the server.
	var runErr error
	var watchers sync.WaitGroup
	for _, a := range actors {
		watchers.Add(1)
		go func(a *zmqx.Actor) { // owner: Run, via watchers
			defer watchers.Done()
			if err := a.Wait(); err != nil {
				s.mu.Lock()
				if runErr == nil {
					runErr = fmt.Errorf("socket %s: %w", a.Name(), err)
				}
				s.mu.Unlock()
			}
			cancel()
		}(a)
	}
	<-ctx.Done()
	shutdown()
	watchers.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return runErr
}

// acquire takes a session slot, waiting while max_open_requests sessions
// are open (zurl closes its intake valves at the cap). It fails only when
// the server stops.
func (s *Server) acquire() bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *Server) release() {
	if s.slots != nil {
		<-s.slots
	}
}

// handleInit receives first packets on the PULL socket. Blocking here for
// a slot is deliberate: the PULL socket only receives, so waiting stops
// intake exactly like zurl's closed valve while libzmq queues up to in_hwm.
func (s *Server) handleInit(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 1 {
		s.log.Warnf("received message with parts != 1, skipping")
		return
	}
	s.start(msg[0], modeStream, nil)
}

// handleReq receives requests on the ROUTER socket. It must not block (the
// same goroutine sends the replies), so requests wait for a slot in a
// bounded backlog.
func (s *Server) handleReq(_ *zmqx.Actor, msg [][]byte) {
	env, content, ok := splitEnvelope(msg)
	if !ok || len(content) != 1 {
		s.log.Warnf("received message with parts != 1, skipping")
		return
	}
	item := reqItem{envelope: env, msg: content[0]}
	select {
	case s.reqBacklog <- item:
	default:
		s.log.Warnf("req interface backlog full (%d), dropping request", cap(s.reqBacklog))
	}
}

func (s *Server) serveReqBacklog() {
	defer s.wg.Done()
	for {
		select {
		case it := <-s.reqBacklog:
			s.start(it.msg, modeSingle, it.envelope)
		case <-s.ctx.Done():
			return
		}
	}
}

// splitEnvelope splits a ROUTER message into its routing envelope (up to
// and including the empty delimiter) and the content frames.
func splitEnvelope(msg [][]byte) (env, content [][]byte, ok bool) {
	for i, f := range msg {
		if len(f) == 0 {
			// The actor reuses the outer slice: copy it.
			msg = append([][]byte(nil), msg...)
			return msg[:i+1], msg[i+1:], true
		}
	}
	return nil, nil, false
}

// decode parses a packet; on failure it answers bad-request when the
// packet names a sender and an id (and is not itself an error or cancel),
// as zurl does.
func (s *Server) decode(msg []byte) (*zhttp.Packet, zhttp.Format, bool) {
	if len(msg) == 0 {
		s.log.Warnf("received message with invalid format (empty), skipping")
		return nil, 0, false
	}
	p := new(zhttp.Packet)
	f, err := zhttp.Decode(msg, p)
	if err == nil {
		return p, f, true
	}
	s.log.Warnf("received message with invalid format (%v), skipping", err)
	if f == 0 {
		return nil, 0, false
	}
	var v tnetstring.Value
	if f == zhttp.FormatT {
		v, err = tnetstring.Decode(msg[1:])
	} else {
		v, err = tnetstring.FromJSON(msg[1:])
	}
	if err != nil || v.Kind != tnetstring.Dict {
		return nil, 0, false
	}
	str := func(k string) []byte {
		if e, ok := v.Get(k); ok && e.Kind == tnetstring.String {
			return e.Str
		}
		return nil
	}
	from, id, typ := str("from"), str("id"), string(str("type"))
	if typ != "error" && typ != "cancel" && len(from) > 0 && len(id) > 0 && s.pub != nil {
		// zurl's app-level replies are always tnetstrings, whatever the
		// request's format.
		s.publish(zhttp.FormatT, from, &zhttp.Packet{ID: id, Type: zhttp.Error, Condition: zhttp.CondBadRequest})
	}
	return nil, 0, false
}

// publish sends a packet to an initiator over the PUB socket, waiting while
// the socket's queue is full.
func (s *Server) publish(f zhttp.Format, to []byte, p *zhttp.Packet) {
	buf := make([]byte, 0, len(to)+1+64+len(p.Body))
	buf = append(buf, to...)
	buf = append(buf, ' ')
	buf = zhttp.Append(buf, f, p)
	if err := s.pub.Send(s.ctx, [][]byte{buf}); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warnf("send to %s failed: %v", to, err)
	}
}

// reply sends a req-interface response on the ROUTER.
func (s *Server) reply(env [][]byte, f zhttp.Format, p *zhttp.Packet) {
	msg := make([][]byte, 0, len(env)+1)
	msg = append(msg, env...)
	msg = append(msg, zhttp.Append(nil, f, p))
	if err := s.router.Send(s.ctx, msg); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warnf("req reply failed: %v", err)
	}
}

// handleStream receives later packets on the DEALER and routes them to
// their sessions.
func (s *Server) handleStream(_ *zmqx.Actor, msg [][]byte) {
	body, err := zhttp.ParseDealerMessage(msg)
	if err != nil {
		s.log.Warnf("received message with invalid framing (%v), skipping", err)
		return
	}
	p, _, ok := s.decode(body)
	if !ok {
		return
	}
	type target struct {
		id  []byte
		seq int
	}
	var targets []target
	if len(p.IDs) > 0 {
		for _, m := range p.IDs {
			targets = append(targets, target{m.ID, m.Seq})
		}
	} else if p.ID != nil {
		seq := -1
		if p.Has&zhttp.HasSeq != 0 {
			seq = p.Seq
		}
		targets = append(targets, target{p.ID, seq})
	} else {
		s.log.Warnf("received stream message without request id, skipping")
		return
	}
	for _, t := range targets {
		s.mu.Lock()
		ss := s.sessions[string(t.id)]
		s.mu.Unlock()
		if ss == nil {
			if p.Type != zhttp.Error && p.Type != zhttp.Cancel && len(p.From) > 0 && s.pub != nil {
				// zurl answers packets for unknown sessions with a bare
				// cancel (no from, no seq).
				s.publish(zhttp.FormatT, p.From, &zhttp.Packet{ID: t.id, Type: zhttp.Cancel})
			}
			continue
		}
		ss.deliver(inMsg{p: p, seq: t.seq})
	}
}

// start decodes a first packet and starts its session.
func (s *Server) start(msg []byte, mode sessionMode, env [][]byte) {
	p, f, ok := s.decode(msg)
	if !ok {
		return
	}
	if len(p.IDs) > 1 {
		s.log.Warnf("received initial message with multiple ids, skipping")
		return
	}
	rid, seq := p.ID, -1
	if len(p.IDs) == 1 {
		rid, seq = p.IDs[0].ID, p.IDs[0].Seq
	} else if p.Has&zhttp.HasSeq != 0 {
		seq = p.Seq
	}
	if !s.acquire() {
		return
	}
	ss := newSession(s, p, f, mode, env, rid, seq)
	if mode == modeStream && len(rid) > 0 {
		s.mu.Lock()
		if _, dup := s.sessions[string(rid)]; dup {
			s.mu.Unlock()
			s.release()
			s.log.Warnf("received request for id already in use, skipping")
			return
		}
		s.sessions[string(rid)] = ss
		s.mu.Unlock()
	}
	s.wg.Add(1)
	go ss.run(p) // owner: Server, via s.wg; ends by calling s.finish
}

// finish unregisters a session and frees its slot.
func (s *Server) finish(ss *session) {
	if ss.mode == modeStream && len(ss.rid) > 0 {
		s.mu.Lock()
		if s.sessions[string(ss.rid)] == ss {
			delete(s.sessions, string(ss.rid))
		}
		s.mu.Unlock()
	}
	s.release()
}

// OpenSessions reports the number of sessions registered on the stream
// interface (for tests and diagnostics).
func (s *Server) OpenSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
