package zrpc

// ZRPC framings (reference §4.1):
//
//   - client, a DEALER: sends ["", request]; receives ["", response].
//   - server, a ROUTER: receives [routing-id…, "", request] and replies
//     [routing-id…, "", response] with the same envelope. A direct DEALER
//     client yields one routing id; a REQ client behind a ROUTER/DEALER
//     broker yields several (one per hop), so the envelope is everything up
//     to the first empty frame and must be returned verbatim.
//   - a REQ socket adds and strips the empty delimiter itself: a REQ client
//     sends and receives the bare tnetstring frame only (Pushpin's
//     tools/command.py works this way).

// ClientMessage returns the frames a DEALER client sends: ["", msg].
func ClientMessage(msg []byte) [][]byte {
	return [][]byte{{}, msg}
}

// ParseClientMessage extracts the response from frames received on a DEALER
// client socket. Like Pushpin's ZrpcManager, it requires exactly
// ["", response].
func ParseClientMessage(frames [][]byte) ([]byte, error) {
	if len(frames) != 2 {
		return nil, invalid("client message has %d frames, want 2", len(frames))
	}
	if len(frames[0]) != 0 {
		return nil, invalid("client message's first frame is not empty")
	}
	return frames[1], nil
}

// Envelope is the routing prefix of a message received on a ROUTER server
// socket: one routing id per hop, outermost first. Its frames alias the
// received message.
type Envelope [][]byte

// ParseServerMessage splits frames received on a ROUTER server socket into
// the envelope (all frames before the first empty one) and the request. As in
// Pushpin, exactly one frame must follow the delimiter. An envelope is never
// empty on a ROUTER, so a missing routing id is rejected too.
func ParseServerMessage(frames [][]byte) (Envelope, []byte, error) {
	for i, f := range frames {
		if len(f) != 0 {
			continue
		}
		if i == 0 {
			return nil, nil, invalid("server message has no routing id before the delimiter")
		}
		if n := len(frames) - i - 1; n != 1 {
			return nil, nil, invalid("server message has %d frames after the delimiter, want 1", n)
		}
		return Envelope(frames[:i]), frames[i+1], nil
	}
	return nil, nil, invalid("server message has no empty delimiter frame")
}

// Reply returns the frames that route msg back along the envelope:
// [routing-id…, "", msg].
func (env Envelope) Reply(msg []byte) [][]byte {
	out := make([][]byte, 0, len(env)+2)
	out = append(out, env...)
	return append(out, []byte{}, msg)
}
