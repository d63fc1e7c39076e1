// Package zhttptest is a scripted ZHTTP responder for tests of condure-style
// initiators: it plays the part pushpin-proxy or pushpin-handler plays
// towards condure (PULL for first packets, ROUTER with its own identity for
// subsequent packets, PUB for everything it answers), over real ZeroMQ
// sockets.
//
// The invariant: a Responder only reads what it is sent through Recv and
// only writes what a test hands to Send, so a test states every packet of a
// flow explicitly, as the verified transcripts in the reference do.
package zhttptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Via says which socket a packet arrived on.
type Via string

// Sockets a Responder receives on.
const (
	ViaPull   Via = "pull"
	ViaRouter Via = "router"
)

// Msg is one received packet. Packet's byte fields alias Raw, which the
// Responder never reuses.
type Msg struct {
	Via    Via
	Raw    []byte // 'T' + tnetstring
	Packet zhttp.Packet
}

// String renders the packet as JSON-ish text for test logs.
func (m Msg) String() string {
	v, err := tnetstring.Decode(m.Raw[1:])
	if err != nil {
		return fmt.Sprintf("%s %q", m.Via, m.Raw)
	}
	return fmt.Sprintf("%s %s", m.Via, tnetstring.AppendJSON(nil, v))
}

// Options configure a Responder.
type Options struct {
	// ID is the responder's instance id: its ROUTER identity and the
	// "from" of every packet it sends.
	ID string
	// NoPull leaves out the PULL socket, so that the responder only sees
	// sessions handed to it (the handler's position after a handoff).
	NoPull bool
	// Bind makes the responder bind instead of connect (for initiators
	// started with --zclient-connect).
	Bind bool
}

// Responder is a test ZHTTP responder. Close it when done.
type Responder struct {
	id     string
	zc     *zmqx.Context
	cancel context.CancelFunc
	pub    *zmqx.Actor
	router *zmqx.Actor
	in     chan Msg
	subbed chan struct{} // closed when the initiator's subscription arrives
}

// StreamSpecs derives condure's three stream endpoints from a
// --zclient-stream base: ipc bases get -out, -out-stream and -in suffixes;
// tcp bases host:P use ports P, P+1 and P+2.
func StreamSpecs(base string) (out, outStream, in string, err error) {
	if rest, ok := strings.CutPrefix(base, "tcp://"); ok {
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return "", "", "", fmt.Errorf("stream base %q: %w", base, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return "", "", "", fmt.Errorf("stream base %q: bad port: %w", base, err)
		}
		mk := func(n int) string { return "tcp://" + net.JoinHostPort(host, strconv.Itoa(n)) }
		return mk(p), mk(p + 1), mk(p + 2), nil
	}
	return base + "-out", base + "-out-stream", base + "-in", nil
}

// New starts a responder attached to the initiator's stream base.
func New(base string, opts Options) (*Responder, error) {
	out, outStream, in, err := StreamSpecs(base)
	if err != nil {
		return nil, err
	}
	zc, err := zmqx.NewContext()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Responder{id: opts.ID, zc: zc, cancel: cancel, in: make(chan Msg, 4096), subbed: make(chan struct{})}
	fail := func(err error) (*Responder, error) {
		cancel()
		zc.Close()
		return nil, err
	}
	ep := func(spec string) zmqx.Endpoint { return zmqx.Endpoint{Specs: []string{spec}, Bind: opts.Bind} }
	deliver := func(via Via, raw []byte) {
		m := Msg{Via: via, Raw: raw}
		if _, err := zhttp.Decode(raw, &m.Packet); err != nil {
			m.Packet = zhttp.Packet{Condition: "decode error: " + err.Error()}
		}
		select {
		case r.in <- m:
		default: // a test that stops reading loses packets; it fails anyway
		}
	}
	if !opts.NoPull {
		_, err := zmqx.NewActor(ctx, zc, zmqx.Config{
			Name: "test-pull", Type: zmq4.PULL, Endpoint: ep(out),
			Handler: func(_ *zmqx.Actor, msg [][]byte) {
				if len(msg) == 1 {
					deliver(ViaPull, msg[0])
				}
			},
		})
		if err != nil {
			return fail(err)
		}
	}
	r.router, err = zmqx.NewActor(ctx, zc, zmqx.Config{
		Name: "test-router", Type: zmq4.ROUTER, Endpoint: ep(outStream),
		Options: []zmqx.SocketOption{zmqx.Identity(opts.ID)},
		Handler: func(_ *zmqx.Actor, msg [][]byte) {
			if _, raw, err := zhttp.ParseRouterMessage(msg); err == nil {
				deliver(ViaRouter, raw)
			}
		},
	})
	if err != nil {
		return fail(err)
	}
	// An XPUB rather than a PUB: it reports the initiator's subscription,
	// so a test can wait for it instead of sleeping (PUB/SUB joins are
	// asynchronous and early messages are silently lost).
	var once bool
	r.pub, err = zmqx.NewActor(ctx, zc, zmqx.Config{
		Name: "test-pub", Type: zmq4.XPUB, Endpoint: ep(in),
		Handler: func(_ *zmqx.Actor, msg [][]byte) {
			if len(msg) == 1 && len(msg[0]) > 0 && msg[0][0] == 1 && !once {
				once = true
				close(r.subbed)
			}
		},
	})
	if err != nil {
		return fail(err)
	}
	return r, nil
}

// ID returns the responder's instance id.
func (r *Responder) ID() string { return r.id }

// Close stops the responder's sockets.
func (r *Responder) Close() {
	r.cancel()
	r.zc.Close()
}

// ErrTimeout is returned by Recv when nothing arrives in time.
var ErrTimeout = errors.New("zhttptest: timed out waiting for a packet")

// Recv returns the next received packet, or ErrTimeout.
func (r *Responder) Recv(timeout time.Duration) (Msg, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case m := <-r.in:
		return m, nil
	case <-t.C:
		return Msg{}, ErrTimeout
	}
}

// WaitSubscribed waits until an initiator has subscribed to this
// responder's publisher.
func (r *Responder) WaitSubscribed(timeout time.Duration) error {
	select {
	case <-r.subbed:
		return nil
	case <-time.After(timeout):
		return errors.New("zhttptest: no subscription arrived")
	}
}

// Send publishes p to the initiator addressed by to, filling in "from".
func (r *Responder) Send(to string, p *zhttp.Packet) error {
	p.From = []byte(r.id)
	frame := zhttp.AppendPubMessage(nil, []byte(to), p)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.pub.Send(ctx, [][]byte{frame})
}
