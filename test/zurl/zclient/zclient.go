// Package zclient is a ZHTTP initiator for tests: it speaks to a zurl (ours
// or Debian's) over its stream sockets the way pushpin-proxy does — PUSH for
// first packets, ROUTER for later ones addressed to zurl's identity, SUB for
// responses — or over the req ROUTER with a DEALER.
//
// Its sockets belong to the goroutine that uses the Initiator; it is not
// safe for concurrent use.
package zclient

import (
	"errors"
	"fmt"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Initiator is a test ZHTTP client.
type Initiator struct {
	ID     string // our "from" and SUB topic
	ZurlID string // zurl's instance id (ROUTER destination)
	Format zhttp.Format

	push, router, sub *zmq4.Socket
}

// Dial connects to zurl's stream sockets and waits (up to timeout) until
// zurl answers on all three, by sending a packet for an unknown session and
// waiting for zurl's cancel.
func Dial(id, zurlID, inSpec, inStreamSpec, outSpec string, timeout time.Duration) (*Initiator, error) {
	in := &Initiator{ID: id, ZurlID: zurlID, Format: zhttp.FormatT}
	var err error
	mk := func(t zmq4.Type, spec string) *zmq4.Socket {
		if err != nil {
			return nil
		}
		var s *zmq4.Socket
		if s, err = zmq4.NewSocket(t); err != nil {
			return nil
		}
		s.SetLinger(0)
		if t == zmq4.SUB {
			s.SetSubscribe(id + " ")
		}
		if t == zmq4.ROUTER {
			s.SetRouterMandatory(1)
		}
		if err = s.Connect(spec); err != nil {
			s.Close()
			return nil
		}
		return s
	}
	in.push = mk(zmq4.PUSH, inSpec)
	in.router = mk(zmq4.ROUTER, inStreamSpec)
	in.sub = mk(zmq4.SUB, outSpec)
	if err != nil {
		in.Close()
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for n := 0; time.Now().Before(deadline); n++ {
		probe := &zhttp.Packet{From: []byte(id), ID: []byte(fmt.Sprintf("probe-%d", n)), Type: zhttp.KeepAlive}
		probe.SetSeq(1)
		if err := in.SendStream(probe); err == nil {
			if p, err := in.Recv(50 * time.Millisecond); err == nil && p.Type == zhttp.Cancel {
				return in, nil
			}
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	in.Close()
	return nil, errors.New("zurl did not answer on its stream sockets")
}

// Close closes the sockets.
func (in *Initiator) Close() {
	for _, s := range []*zmq4.Socket{in.push, in.router, in.sub} {
		if s != nil {
			s.Close()
		}
	}
}

func (in *Initiator) encode(p *zhttp.Packet) []byte {
	if p.From == nil {
		p.From = []byte(in.ID)
	}
	return zhttp.Append(nil, in.Format, p)
}

// Send sends a first packet on the PUSH socket (from = our id unless set).
func (in *Initiator) Send(p *zhttp.Packet) error {
	_, err := in.push.SendBytes(in.encode(p), 0)
	return err
}

// SendRaw sends bytes as they are on the PUSH socket.
func (in *Initiator) SendRaw(b []byte) error {
	_, err := in.push.SendBytes(b, 0)
	return err
}

// SendStream sends a later packet to zurl through the ROUTER.
func (in *Initiator) SendStream(p *zhttp.Packet) error {
	_, err := in.router.SendMessageDontwait(in.ZurlID, "", in.encode(p))
	return err
}

// Recv waits up to timeout for the next response addressed to us.
func (in *Initiator) Recv(timeout time.Duration) (*zhttp.Packet, error) {
	_, p, err := in.RecvRaw(timeout)
	return p, err
}

// RecvRaw is Recv that also returns the packet bytes (format byte included).
func (in *Initiator) RecvRaw(timeout time.Duration) ([]byte, *zhttp.Packet, error) {
	poller := zmq4.NewPoller()
	poller.Add(in.sub, zmq4.POLLIN)
	ps, err := poller.Poll(timeout)
	if err != nil {
		return nil, nil, err
	}
	if len(ps) == 0 {
		return nil, nil, errors.New("timeout waiting for a packet")
	}
	frame, err := in.sub.RecvBytes(0)
	if err != nil {
		return nil, nil, err
	}
	addr, msg, err := zhttp.SplitPubMessage(frame)
	if err != nil {
		return nil, nil, err
	}
	if string(addr) != in.ID {
		return nil, nil, fmt.Errorf("packet for %q", addr)
	}
	p := new(zhttp.Packet)
	if _, err := zhttp.Decode(msg, p); err != nil {
		return msg, nil, err
	}
	return msg, p, nil
}

// Req sends one request over a DEALER to zurl's req socket and waits for
// the reply.
func Req(spec string, req []byte, timeout time.Duration) ([]byte, error) {
	s, err := zmq4.NewSocket(zmq4.DEALER)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	s.SetLinger(0)
	if err := s.Connect(spec); err != nil {
		return nil, err
	}
	if _, err := s.SendMessage("", req); err != nil {
		return nil, err
	}
	poller := zmq4.NewPoller()
	poller.Add(s, zmq4.POLLIN)
	ps, err := poller.Poll(timeout)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, errors.New("timeout waiting for the reply")
	}
	parts, err := s.RecvMessageBytes(0)
	if err != nil {
		return nil, err
	}
	if len(parts) != 2 || len(parts[0]) != 0 {
		return nil, fmt.Errorf("reply has %d parts", len(parts))
	}
	return parts[1], nil
}
