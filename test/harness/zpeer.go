package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// ZMessage is one ZHTTP packet received by a ZPeer.
type ZMessage struct {
	// Via names the socket it came in on: "pull", "router" or "sub".
	Via string
	// Sender is the ROUTER routing id of the sender (Via "router").
	Sender []byte
	// Addr is the PUB address prefix (Via "sub").
	Addr []byte
	// Raw is the packet as received, format byte included (for "sub", the
	// address prefix removed).
	Raw []byte
	// Packet is Raw decoded; its byte fields alias Raw.
	Packet zhttp.Packet
	// Format is the packet's format byte.
	Format zhttp.Format
	// Err is the decoding (or framing) error, if the packet was malformed.
	Err error
}

// String summarises the message for test logs.
func (m *ZMessage) String() string {
	if m.Err != nil {
		return fmt.Sprintf("%s: undecodable (%v): %q", m.Via, m.Err, truncate(m.Raw, 300))
	}
	return fmt.Sprintf("%s: %q", m.Via, truncate(m.Raw, 300))
}

// ZPeer is a ZHTTP endpoint driven by a test: a responder (the part
// pushpin-proxy plays behind condure) or an initiator (the part
// pushpin-proxy plays in front of zurl). It is built from our own
// protocol/zhttp codec and pkg/zmqx sockets. tb's cleanup closes it.
type ZPeer struct {
	// ID is the peer's instance id: its "from", ROUTER identity and SUB
	// topic.
	ID string

	tb     testing.TB
	zc     *zmqx.Context
	ctx    context.Context
	cancel context.CancelFunc

	first  *zmqx.Actor // initiator: PUSH for first packets
	stream *zmqx.Actor // ROUTER: later packets (both roles)
	pub    *zmqx.Actor // responder: XPUB for responses

	in         chan ZMessage
	subscribed chan struct{} // responder: closed at the first subscription
	subOnce    sync.Once
	probes     chan []byte // initiator: "from" of answers to probe requests
	probeCount int
}

// peerQueue bounds the messages a peer buffers for the test. A full queue
// makes the receiving socket's owner wait (never drop), so nothing is lost;
// tests read far fewer messages than this.
const peerQueue = 4096

// probePrefix marks the session ids of WaitResponder's probe requests; their
// answers are consumed by the peer and never shown to the test.
const probePrefix = "harness-probe-"

// ZResponderSpecs are the sockets of a responder. For condure started with
// --zclient-stream=BASE they are BASE-out, BASE-out-stream and BASE-in
// (reference §1.5), all bound by condure, so Bind is false.
type ZResponderSpecs struct {
	In       string // PULL: first packets of new sessions
	InStream string // ROUTER (identity = ID): later packets
	Out      string // PUB: every packet to the initiator
	Bind     bool
}

// ZInitiatorSpecs are the sockets of an initiator. For zurl they are its
// in_spec, in_stream_spec and out_spec, all bound by zurl.
type ZInitiatorSpecs struct {
	Out       string // PUSH: first packets
	OutStream string // ROUTER: later packets, addressed to the responder's id
	In        string // SUB (topic "ID "): every packet from the responder
	Bind      bool
}

func newPeer(tb testing.TB, id string) *ZPeer {
	tb.Helper()
	zc, err := zmqx.NewContext()
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &ZPeer{
		ID: id, tb: tb, zc: zc, ctx: ctx, cancel: cancel,
		in: make(chan ZMessage, peerQueue), subscribed: make(chan struct{}), probes: make(chan []byte, 1),
	}
	tb.Cleanup(p.Close)
	return p
}

// Close stops the peer's sockets and waits for their goroutines.
func (p *ZPeer) Close() {
	p.cancel()
	if err := p.zc.Close(); err != nil {
		p.tb.Errorf("harness: close zhttp peer %s: %v", p.ID, err)
	}
}

func (p *ZPeer) actor(cfg zmqx.Config) *zmqx.Actor {
	p.tb.Helper()
	a, err := zmqx.NewActor(p.ctx, p.zc, cfg)
	if err != nil {
		p.tb.Fatalf("harness: zhttp peer %s: %v", p.ID, err)
	}
	return a
}

// NewZResponder connects (or binds) a responder's PULL, ROUTER and XPUB.
// Use WaitSubscribed before answering the first request: a PUB drops
// messages until the initiator's subscription has arrived.
func NewZResponder(tb testing.TB, id string, s ZResponderSpecs) *ZPeer {
	tb.Helper()
	p := newPeer(tb, id)
	p.actor(zmqx.Config{
		Name: "responder-in", Type: zmq4.PULL,
		Endpoint: zmqx.Endpoint{Specs: []string{s.In}, Bind: s.Bind},
		Handler:  p.receiver("pull"),
	})
	p.stream = p.actor(zmqx.Config{
		Name: "responder-in-stream", Type: zmq4.ROUTER,
		Endpoint: zmqx.Endpoint{Specs: []string{s.InStream}, Bind: s.Bind},
		Options:  []zmqx.SocketOption{zmqx.Identity(id), zmqx.RouterMandatory()},
		Handler:  p.receiver("router"),
	})
	// XPUB rather than PUB: it behaves the same for sending and tells us
	// when the initiator's SUB has subscribed.
	p.pub = p.actor(zmqx.Config{
		Name: "responder-out", Type: zmq4.XPUB,
		Endpoint: zmqx.Endpoint{Specs: []string{s.Out}, Bind: s.Bind},
		Handler: func(_ *zmqx.Actor, msg [][]byte) {
			if len(msg) == 1 && len(msg[0]) > 0 && msg[0][0] == 1 {
				p.subOnce.Do(func() { close(p.subscribed) })
			}
		},
	})
	return p
}

// NewZInitiator connects (or binds) an initiator's PUSH, ROUTER and SUB.
// Use WaitResponder before the first request when the responder binds its
// PUB (as zurl does): until our subscription reaches it, answers are lost.
func NewZInitiator(tb testing.TB, id string, s ZInitiatorSpecs) *ZPeer {
	tb.Helper()
	p := newPeer(tb, id)
	p.first = p.actor(zmqx.Config{
		Name: "initiator-out", Type: zmq4.PUSH,
		Endpoint: zmqx.Endpoint{Specs: []string{s.Out}, Bind: s.Bind},
	})
	p.stream = p.actor(zmqx.Config{
		Name: "initiator-out-stream", Type: zmq4.ROUTER,
		Endpoint: zmqx.Endpoint{Specs: []string{s.OutStream}, Bind: s.Bind},
		Options:  []zmqx.SocketOption{zmqx.Identity(id), zmqx.RouterMandatory()},
		Handler:  p.receiver("router"),
	})
	p.actor(zmqx.Config{
		Name: "initiator-in", Type: zmq4.SUB,
		Endpoint: zmqx.Endpoint{Specs: []string{s.In}, Bind: s.Bind},
		Options:  []zmqx.SocketOption{zmqx.Subscribe(string(zhttp.PubTopic([]byte(id))))},
		Handler:  p.receiver("sub"),
	})
	return p
}

// receiver returns the inbound handler for one socket. It runs on that
// socket's owner goroutine.
func (p *ZPeer) receiver(via string) zmqx.Handler {
	return func(_ *zmqx.Actor, frames [][]byte) {
		m := ZMessage{Via: via}
		var raw []byte
		var err error
		switch via {
		case "router":
			m.Sender, raw, err = zhttp.ParseRouterMessage(frames)
		case "sub":
			if len(frames) != 1 {
				err = fmt.Errorf("pub message has %d frames, want 1", len(frames))
			} else {
				m.Addr, raw, err = zhttp.SplitPubMessage(frames[0])
			}
		default:
			if len(frames) != 1 {
				err = fmt.Errorf("message has %d frames, want 1", len(frames))
			} else {
				raw = frames[0]
			}
		}
		if raw == nil && len(frames) > 0 {
			raw = bytes.Join(frames, []byte("|"))
		}
		m.Raw = raw
		if err == nil {
			m.Format, err = zhttp.Decode(raw, &m.Packet)
		}
		m.Err = err
		if err == nil && p.isProbe(&m.Packet) {
			if m.Packet.From != nil {
				select {
				case p.probes <- append([]byte(nil), m.Packet.From...):
				default: // a waiter has one already
				}
			}
			return
		}
		select {
		case p.in <- m:
		case <-p.ctx.Done():
		}
	}
}

func (p *ZPeer) isProbe(pk *zhttp.Packet) bool {
	if bytes.HasPrefix(pk.ID, []byte(probePrefix)) {
		return true
	}
	for _, m := range pk.IDs {
		if bytes.HasPrefix(m.ID, []byte(probePrefix)) {
			return true
		}
	}
	return false
}

// WaitSubscribed waits until the initiator has subscribed to the
// responder's PUB (an XPUB subscription message arrived).
func (p *ZPeer) WaitSubscribed(timeout time.Duration) error {
	if p.pub == nil {
		return errors.New("WaitSubscribed: not a responder")
	}
	select {
	case <-p.subscribed:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("no subscription on %s's PUB within %v", p.ID, timeout)
	}
}

// WaitResponder makes sure a responder that binds its sockets (zurl) can be
// talked to: it sends probe requests (to a closed port on 127.0.0.1) until
// one is answered, which proves the PUSH and the SUB subscription are
// connected, then until a ROUTER send to the responder's id is accepted. It
// returns the responder's id (its "from"). Answers to probes are consumed
// here and never returned by Recv.
func (p *ZPeer) WaitResponder(timeout time.Duration) ([]byte, error) {
	if p.first == nil {
		return nil, errors.New("WaitResponder: not an initiator")
	}
	deadline := time.Now().Add(timeout)
	var from []byte
	var probeID []byte
	for from == nil {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("responder answered no probe request within %v", timeout)
		}
		p.probeCount++
		probeID = []byte(probePrefix + strconv.Itoa(p.probeCount))
		var pk zhttp.Packet
		pk.From = []byte(p.ID)
		pk.ID = probeID
		pk.SetSeq(0)
		pk.Method = "GET"
		pk.URI = "http://127.0.0.1:1/" + string(probeID)
		pk.Stream = true
		pk.IgnorePolicies = true
		pk.SetCredits(1000)
		if err := p.SendFirst(&pk); err != nil {
			return nil, err
		}
		select {
		case f := <-p.probes:
			from = f
		case <-time.After(200 * time.Millisecond):
		}
	}
	// The ROUTER learns the responder's identity when its connection
	// completes; until then ROUTER_MANDATORY refuses sends to it.
	err := Poll(time.Until(deadline), "ROUTER route to responder "+string(from), func() (bool, error) {
		var pk zhttp.Packet
		pk.From = []byte(p.ID)
		pk.ID = probeID
		pk.Type = zhttp.Cancel
		err := p.SendStream(from, &pk)
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return from, nil
}

// SendFirst sends the first packet of a session through the initiator's
// PUSH. From is set to the peer's ID when nil.
func (p *ZPeer) SendFirst(pk *zhttp.Packet) error {
	if p.first == nil {
		return errors.New("SendFirst: not an initiator")
	}
	if pk.From == nil {
		pk.From = []byte(p.ID)
	}
	return p.send(p.first, [][]byte{zhttp.AppendT(nil, pk)})
}

// SendStream sends a later packet of a session through the ROUTER to the
// peer whose identity is to. The send happens synchronously on the socket's
// owner, so an unknown peer is reported (ROUTER_MANDATORY: "host
// unreachable") instead of being dropped silently.
func (p *ZPeer) SendStream(to []byte, pk *zhttp.Packet) error {
	if pk.From == nil {
		pk.From = []byte(p.ID)
	}
	return p.SendRouterRaw(zhttp.RouterMessage(to, zhttp.AppendT(nil, pk)))
}

// SendRouterRaw sends frames as they are through the ROUTER, synchronously.
func (p *ZPeer) SendRouterRaw(frames [][]byte) error {
	ctx, cancel := context.WithTimeout(p.ctx, DefaultClientTimeout)
	defer cancel()
	return p.stream.Do(ctx, func(s *zmq4.Socket) error {
		_, err := s.SendMessageDontwait(frames)
		if err != nil {
			return fmt.Errorf("router send to %q: %w", frames[0], err)
		}
		return nil
	})
}

// Send sends a packet through the responder's PUB to the initiator whose
// address is to. From is set to the peer's ID when nil.
func (p *ZPeer) Send(to []byte, pk *zhttp.Packet) error {
	if pk.From == nil {
		pk.From = []byte(p.ID)
	}
	return p.SendPubRaw(zhttp.AppendPubMessage(nil, to, pk))
}

// SendPubRaw sends one frame as it is through the responder's PUB.
func (p *ZPeer) SendPubRaw(frame []byte) error {
	if p.pub == nil {
		return errors.New("SendPubRaw: not a responder")
	}
	return p.send(p.pub, [][]byte{frame})
}

// SendFirstRaw sends one frame as it is through the initiator's PUSH.
func (p *ZPeer) SendFirstRaw(frame []byte) error {
	if p.first == nil {
		return errors.New("SendFirstRaw: not an initiator")
	}
	return p.send(p.first, [][]byte{frame})
}

func (p *ZPeer) send(a *zmqx.Actor, msg [][]byte) error {
	ctx, cancel := context.WithTimeout(p.ctx, DefaultClientTimeout)
	defer cancel()
	if err := a.Send(ctx, msg); err != nil {
		return fmt.Errorf("%s: %w", a.Name(), err)
	}
	return nil
}

// Recv returns the next received message, or an error after timeout.
func (p *ZPeer) Recv(timeout time.Duration) (ZMessage, error) {
	select {
	case m := <-p.in:
		return m, nil
	case <-time.After(timeout):
		return ZMessage{}, fmt.Errorf("zhttp peer %s: nothing received within %v", p.ID, timeout)
	}
}

// Expect returns the next received message and fails the test on timeout
// or if the packet does not decode.
func (p *ZPeer) Expect(tb testing.TB, timeout time.Duration) ZMessage {
	tb.Helper()
	m, err := p.Recv(timeout)
	if err != nil {
		tb.Fatal(err)
	}
	if m.Err != nil {
		tb.Fatalf("zhttp peer %s received a malformed packet: %v", p.ID, &m)
	}
	return m
}

// ExpectMatch returns the first message for which match is true, skipping
// (and logging) others such as keep-alives; it fails the test on timeout.
func (p *ZPeer) ExpectMatch(tb testing.TB, timeout time.Duration, what string, match func(*ZMessage) bool) ZMessage {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			tb.Fatalf("zhttp peer %s: no %s within %v", p.ID, what, timeout)
		}
		m, err := p.Recv(left)
		if err != nil {
			tb.Fatalf("zhttp peer %s: no %s within %v", p.ID, what, timeout)
		}
		if m.Err == nil && match(&m) {
			return m
		}
		tb.Logf("zhttp peer %s: skipping %v while waiting for %s", p.ID, &m, what)
	}
}

// Pending returns how many received messages are waiting.
func (p *ZPeer) Pending() int { return len(p.in) }
