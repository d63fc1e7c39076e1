package wsproto

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
	"sync"
)

// DeflateResponse is the extension response we send when a client offers
// permessage-deflate. Both sides are told not to keep context between
// messages: a connection then holds no compression state while idle, which
// is what keeps memory per connection small (a flate writer is hundreds of
// kilobytes; with no context takeover one is borrowed from a pool per
// message and returned at its end).
const DeflateResponse = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// NegotiateDeflate inspects a Sec-WebSocket-Extensions request value and
// reports whether a permessage-deflate offer can be accepted. An offer is
// declined when it restricts our window (server_max_window_bits below 15,
// which compress/flate cannot honour) or carries unknown parameters
// (RFC 7692 §5: a server must decline such offers).
func NegotiateDeflate(offers string) bool {
	for _, offer := range strings.Split(offers, ",") {
		params := strings.Split(offer, ";")
		if strings.TrimSpace(params[0]) != "permessage-deflate" {
			continue
		}
		ok := true
		for _, p := range params[1:] {
			name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
			value = strings.Trim(strings.TrimSpace(value), `"`)
			switch strings.TrimSpace(name) {
			case "server_no_context_takeover", "client_no_context_takeover", "client_max_window_bits":
			case "server_max_window_bits":
				if value != "15" {
					ok = false
				}
			default:
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// deflateTail is the empty stored block a sync flush ends with; RFC 7692
// §7.2.1 strips it from each message and the receiver puts it back.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

var writerPool = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

var readerPool = sync.Pool{New: func() any {
	return flate.NewReader(bytes.NewReader(nil))
}}

// Compressor compresses one outgoing message, possibly in fragments, without
// context takeover. The zero value is ready; it holds a pooled flate writer
// only between the first Write and Finish.
type Compressor struct {
	w   *flate.Writer
	out bytes.Buffer
}

// Write compresses data as the next part of the current message and returns
// the compressed bytes to send for it (valid until the next call). When
// final is set the message ends: the sync-flush tail is stripped and the
// writer goes back to the pool.
func (c *Compressor) Write(data []byte, final bool) ([]byte, error) {
	if c.w == nil {
		c.w = writerPool.Get().(*flate.Writer)
		c.w.Reset(&c.out)
	}
	c.out.Reset()
	if _, err := c.w.Write(data); err != nil {
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	out := c.out.Bytes()
	if final {
		out = bytes.TrimSuffix(out, deflateTail)
		if len(out) == 0 {
			// An empty message compresses to a single empty block.
			out = append(out, 0x00)
		}
		c.release()
	}
	return out, nil
}

// Release returns the pooled writer if a message was abandoned midway.
func (c *Compressor) release() {
	if c.w != nil {
		c.w.Reset(io.Discard)
		writerPool.Put(c.w)
		c.w = nil
	}
}

// Close abandons any message in progress.
func (c *Compressor) Close() {
	c.release()
	c.out = bytes.Buffer{}
}

// ErrTooBig is returned by Decompress when the output exceeds the limit.
var ErrTooBig = &ProtocolError{Code: CloseTooBig, Msg: "decompressed message too large"}

// Decompress inflates one complete compressed message (the concatenated
// payloads of its frames) into dst, refusing output beyond limit bytes so a
// small "deflate bomb" cannot exhaust memory.
func Decompress(dst, msg []byte, limit int) ([]byte, error) {
	r := readerPool.Get().(io.ReadCloser)
	defer readerPool.Put(r)
	src := io.MultiReader(bytes.NewReader(msg), bytes.NewReader(deflateTail))
	if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return dst, err
	}
	var buf [4096]byte
	for {
		n, err := r.Read(buf[:])
		if len(dst)+n > limit {
			return dst, ErrTooBig
		}
		dst = append(dst, buf[:n]...)
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			// The stream legitimately ends after the appended sync-flush
			// block without a final block: ErrUnexpectedEOF there is the
			// normal end of a permessage-deflate message.
			return dst, nil
		}
		if err != nil {
			return dst, &ProtocolError{Code: CloseInvalidPayload, Msg: "bad compressed data: " + err.Error()}
		}
	}
}
