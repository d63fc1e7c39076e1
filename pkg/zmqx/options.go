package zmqx

import (
	"fmt"
	"time"

	"github.com/pebbe/zmq4"
)

// High-water marks Pushpin sets on its sockets (source: corelib
// zhttpmanager.cpp, handler engine.cpp, statsmanager.cpp). Using the same
// values keeps queueing and drop behaviour under load the same as Pushpin's.
const (
	// ZhttpOutHWM is the HWM of the ZHTTP initiator's PUSH socket (first
	// packets) and of the req-mode DEALER (zhttpmanager OUT_HWM).
	ZhttpOutHWM = 100
	// ZhttpInHWM is the HWM of the ZHTTP responder's PULL socket that
	// receives first packets (zhttpmanager IN_HWM).
	ZhttpInHWM = 100
	// StreamHWM is the HWM of the ZHTTP stream sockets: the ROUTER for
	// subsequent packets and the PUB/SUB pair for responses
	// (zhttpmanager DEFAULT_HWM).
	StreamHWM = 101000
	// PublishInHWM is the receive HWM of pushpin-handler's publish PULL
	// (push_in_spec) and SUB (push_in_sub_specs) sockets.
	PublishInHWM = 101000
	// PublishSubSndHWM is the send HWM of the publish SUB socket; 0 means no
	// limit, so subscription messages to publishers are never dropped.
	PublishSubSndHWM = 0
	// StatsHWM is the send HWM of the stats PUB sockets.
	StatsHWM = 200000
)

// Keepalive holds TCP keepalive settings for a ZeroMQ socket's tcp://
// connections.
type Keepalive struct {
	Idle     time.Duration // ZMQ_TCP_KEEPALIVE_IDLE, whole seconds
	Count    int           // ZMQ_TCP_KEEPALIVE_CNT
	Interval time.Duration // ZMQ_TCP_KEEPALIVE_INTVL, whole seconds
}

// PushInSubKeepalive is what pushpin-handler enables on its publish SUB
// socket when push_in_sub_connect=true, so that a dead publisher connection
// is noticed: idle 30 s, 6 probes, 5 s apart.
var PushInSubKeepalive = Keepalive{Idle: 30 * time.Second, Count: 6, Interval: 5 * time.Second}

// A SocketOption configures a socket before it is bound or connected.
type SocketOption func(*zmq4.Socket) error

// Identity sets ZMQ_ROUTING_ID (ZMQ_IDENTITY). Pushpin components use their
// instance id (the ZHTTP "from" value) as the identity of their ROUTER and
// DEALER sockets so that peers can address them.
func Identity(id string) SocketOption {
	return func(s *zmq4.Socket) error {
		if err := s.SetIdentity(id); err != nil {
			return fmt.Errorf("set ZMQ_IDENTITY %q: %w", id, err)
		}
		return nil
	}
}

// SndHWM sets ZMQ_SNDHWM.
func SndHWM(n int) SocketOption {
	return func(s *zmq4.Socket) error {
		if err := s.SetSndhwm(n); err != nil {
			return fmt.Errorf("set ZMQ_SNDHWM %d: %w", n, err)
		}
		return nil
	}
}

// RcvHWM sets ZMQ_RCVHWM.
func RcvHWM(n int) SocketOption {
	return func(s *zmq4.Socket) error {
		if err := s.SetRcvhwm(n); err != nil {
			return fmt.Errorf("set ZMQ_RCVHWM %d: %w", n, err)
		}
		return nil
	}
}

// HWM sets both ZMQ_SNDHWM and ZMQ_RCVHWM, as Pushpin's QZmq setHwm does.
func HWM(n int) SocketOption {
	return func(s *zmq4.Socket) error {
		if err := SndHWM(n)(s); err != nil {
			return err
		}
		return RcvHWM(n)(s)
	}
}

// RouterMandatory sets ZMQ_ROUTER_MANDATORY on a ROUTER socket: sending to an
// unknown identity fails with EHOSTUNREACH instead of being silently dropped,
// and a full peer queue yields EAGAIN. condure sets it on its stream ROUTER.
// The Actor reports such undeliverable messages through Config.OnDrop.
func RouterMandatory() SocketOption {
	return func(s *zmq4.Socket) error {
		if err := s.SetRouterMandatory(1); err != nil {
			return fmt.Errorf("set ZMQ_ROUTER_MANDATORY: %w", err)
		}
		return nil
	}
}

// Immediate sets ZMQ_IMMEDIATE: messages are queued only to completed
// connections. Pushpin enables it on the initiator's stream ROUTER.
func Immediate() SocketOption {
	return func(s *zmq4.Socket) error {
		if err := s.SetImmediate(true); err != nil {
			return fmt.Errorf("set ZMQ_IMMEDIATE: %w", err)
		}
		return nil
	}
}

// Subscribe adds an initial subscription to a SUB socket. Subscriptions that
// change later must go through Actor.Subscribe.
func Subscribe(topic string) SocketOption {
	return func(s *zmq4.Socket) error {
		if err := s.SetSubscribe(topic); err != nil {
			return fmt.Errorf("subscribe %q: %w", topic, err)
		}
		return nil
	}
}

// TCPKeepalive enables TCP keepalive with the given settings.
func TCPKeepalive(k Keepalive) SocketOption {
	return func(s *zmq4.Socket) error {
		if err := s.SetTcpKeepalive(1); err != nil {
			return fmt.Errorf("set ZMQ_TCP_KEEPALIVE: %w", err)
		}
		if err := s.SetTcpKeepaliveIdle(int(k.Idle / time.Second)); err != nil {
			return fmt.Errorf("set ZMQ_TCP_KEEPALIVE_IDLE: %w", err)
		}
		if err := s.SetTcpKeepaliveCnt(k.Count); err != nil {
			return fmt.Errorf("set ZMQ_TCP_KEEPALIVE_CNT: %w", err)
		}
		if err := s.SetTcpKeepaliveIntvl(int(k.Interval / time.Second)); err != nil {
			return fmt.Errorf("set ZMQ_TCP_KEEPALIVE_INTVL: %w", err)
		}
		return nil
	}
}

// applyOptions sets linger 0 (so closing never waits for undelivered
// messages and shutdown cannot hang) and then opts in order.
func applyOptions(s *zmq4.Socket, opts []SocketOption) error {
	if err := s.SetLinger(0); err != nil {
		return fmt.Errorf("set ZMQ_LINGER 0: %w", err)
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return err
		}
	}
	return nil
}
