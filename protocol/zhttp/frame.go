package zhttp

import "bytes"

// The stream arrangement (reference §2.1) moves packets over three socket
// pairs, each with its own framing:
//
//   - initiator PUSH → responder PULL: the first packet of a session, one
//     frame: 'T' + tnetstring.
//   - initiator ROUTER → responder ROUTER/DEALER: later packets, addressed to
//     the responder's identity: [responder-id, "", 'T' + tnetstring]. The
//     receiving ROUTER sees [sender-routing-id, "", 'T' + tnetstring]; a DEALER
//     sees ["", 'T' + tnetstring].
//   - responder PUB → initiator SUB: all responses, one frame:
//     "<initiator-id> " + 'T' + tnetstring; the SUB subscribes to
//     "<own-id> ".

// RouterMessage builds the frames a ROUTER sends to dest: [dest, "", msg].
func RouterMessage(dest, msg []byte) [][]byte {
	return [][]byte{dest, nil, msg}
}

// ParseRouterMessage splits a message received on a ROUTER socket into the
// sender's routing id and the packet. Pushpin requires exactly three frames.
func ParseRouterMessage(frames [][]byte) (sender, msg []byte, err error) {
	if len(frames) != 3 {
		return nil, nil, invalid("router message has %d frames, want 3", len(frames))
	}
	if len(frames[1]) != 0 {
		return nil, nil, invalid("router message lacks the empty delimiter frame")
	}
	return frames[0], frames[2], nil
}

// ParseDealerMessage extracts the packet from a message received on a DEALER
// socket: ["", msg].
func ParseDealerMessage(frames [][]byte) ([]byte, error) {
	if len(frames) != 2 || len(frames[0]) != 0 {
		return nil, invalid("dealer message must be [\"\", packet], got %d frames", len(frames))
	}
	return frames[1], nil
}

// AppendPubMessage appends the PUB framing of a 'T' packet for addr:
// "<addr> T...".
func AppendPubMessage(dst, addr []byte, p *Packet) []byte {
	dst = append(dst, addr...)
	dst = append(dst, ' ')
	return AppendT(dst, p)
}

// PubTopic returns the SUB subscription for an instance id: "<id> ".
func PubTopic(id []byte) []byte {
	t := make([]byte, 0, len(id)+1)
	t = append(t, id...)
	return append(t, ' ')
}

// SplitPubMessage splits a PUB frame into the destination address and the
// packet (format prefix included).
func SplitPubMessage(frame []byte) (addr, msg []byte, err error) {
	i := bytes.IndexByte(frame, ' ')
	if i < 0 {
		return nil, nil, invalid("pub message has no address separator")
	}
	return frame[:i], frame[i+1:], nil
}
