package engine

import (
	"fmt"
	"strconv"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// zhttpOut is the handler's PUB socket towards condure (socket #3: every
// response-direction packet of the sessions the handler owns). The engine
// goroutine owns it directly instead of through a zmqx.Actor: a PUB send
// with ZMQ_DONTWAIT never blocks (at its HWM libzmq drops), and owning it
// here lets one reused buffer serve every packet of a fan-out — zmq_send
// copies the bytes — so a publish to 10,000 streams costs no allocation per
// subscriber and no channel hop.
type zhttpOut struct {
	sock    *zmq4.Socket
	from    []byte
	buf     []byte
	sent    uint64
	dropped uint64 // refused by the socket (HWM); PUB drops are silent
	log     *logger
	// sink, when set, receives every message instead of the socket (unit
	// tests and benchmarks of the engine without ZeroMQ).
	sink func(msg []byte)
}

// write sends one already framed message.
func (o *zhttpOut) write(msg []byte) {
	if o.log.enabled(LevelDebug) {
		o.log.debugf("zhttp server: OUT %s", trimForLog(msg))
	}
	if o.sink != nil {
		o.sink(msg)
		o.sent++
		return
	}
	if _, err := o.sock.SendBytes(msg, zmq4.DONTWAIT); err != nil {
		o.dropped++
		return
	}
	o.sent++
}

// send encodes p (From set to our id) for condure at addr and sends it.
func (o *zhttpOut) send(addr []byte, p *zhttp.Packet) {
	p.From = o.from
	o.buf = zhttp.AppendPubMessage(o.buf[:0], addr, p)
	o.write(o.buf)
}

// sendData is the fan-out fast path: a data packet {from, id, seq, body,
// more?} whose body element (tnetstring "N:bytes,") was encoded once for all
// subscribers. The dict is written with its length computed up front, so the
// encoding is a handful of appends.
func (o *zhttpOut) sendData(addr, id []byte, seq int, bodyElem []byte, more bool) {
	var seqBuf [20]byte
	seqStr := strconv.AppendInt(seqBuf[:0], int64(seq), 10)
	n := tnStrLen(4) + tnStrLen(len(o.from)) + // "from"
		tnStrLen(2) + tnStrLen(len(id)) + // "id"
		tnStrLen(3) + tnLen(len(seqStr)) + // "seq"
		tnStrLen(4) + len(bodyElem) // "body"
	if more {
		n += tnStrLen(4) + len("4:true!")
	}
	b := o.buf[:0]
	b = append(b, addr...)
	b = append(b, ' ', 'T')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ':')
	b = append(b, "4:from,"...)
	b = appendTnStr(b, o.from)
	b = append(b, "2:id,"...)
	b = appendTnStr(b, id)
	b = append(b, "3:seq,"...)
	b = strconv.AppendInt(b, int64(len(seqStr)), 10)
	b = append(b, ':')
	b = append(b, seqStr...)
	b = append(b, '#')
	b = append(b, "4:body,"...)
	b = append(b, bodyElem...)
	if more {
		b = append(b, "4:more,4:true!"...)
	}
	b = append(b, '}')
	o.buf = b
	o.write(b)
}

// tnLen is the encoded size of an element with an n-byte payload.
func tnLen(n int) int { return decLen(n) + 1 + n + 1 }

// tnStrLen is the encoded size of an n-byte string.
func tnStrLen(n int) int { return tnLen(n) }

func decLen(n int) int {
	l := 1
	for n >= 10 {
		n /= 10
		l++
	}
	return l
}

// appendTnStr appends b as a tnetstring string element.
func appendTnStr(dst, b []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, ':')
	dst = append(dst, b...)
	return append(dst, ',')
}

// trimForLog renders a packet for debug logs with bodies cut at 1000 bytes,
// like Pushpin's packet dumps.
func trimForLog(b []byte) string {
	if len(b) > 1000 {
		return fmt.Sprintf("%q…(%d bytes)", b[:1000], len(b))
	}
	return fmt.Sprintf("%q", b)
}
