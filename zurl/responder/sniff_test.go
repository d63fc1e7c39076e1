package responder

import (
	"bytes"
	"testing"
)

// frame builds a server (unmasked) frame header for a payload length.
func frame(op byte, n int) []byte {
	h := []byte{0x80 | op}
	switch {
	case n < 126:
		h = append(h, byte(n))
	case n < 65536:
		h = append(h, 126, byte(n>>8), byte(n))
	default:
		h = append(h, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(h, bytes.Repeat([]byte("x"), n)...)
}

func TestSniffFrames(t *testing.T) {
	head := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
	tests := []struct {
		name   string
		stream []byte
		max    int
		big    bool
	}{
		{"small frames", cat(head, frame(1, 10), frame(9, 3), frame(2, 200)), 1000, false},
		{"exactly max", cat(head, frame(2, 1000)), 1000, false},
		{"over max", cat(head, frame(2, 1001)), 1000, true},
		{"16-bit length over", cat(head, frame(1, 70000)), 65536, true},
		{"64-bit length", cat(head, frame(1, 70000)), 100000, false},
		{"control frames do not count", cat(head, frame(9, 125)), 10, false},
		{"continuation counts", cat(head, frame(0, 11)), 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Feed in every split: the state machine must not depend on
			// how reads are cut.
			for _, step := range []int{1, 3, 7, len(tt.stream)} {
				c := &sniffConn{maxFrame: int64(tt.max), inHead: true, headCap: 64 * 1024}
				big := false
				for i := 0; i < len(tt.stream) && !big; i += step {
					big = c.observe(tt.stream[i:min(i+step, len(tt.stream))])
				}
				if big != tt.big {
					t.Fatalf("step %d: too large = %v, want %v", step, big, tt.big)
				}
				if !big && !bytes.Equal(c.recordedHead(), head) {
					t.Fatalf("step %d: head %q", step, c.recordedHead())
				}
			}
		})
	}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func FuzzSniff(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 OK\r\n\r\n\x81\x05hello\x89\x00"), 100)
	f.Add([]byte("HTTP/1.1 101 OK\r\n\r\n\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff"), 100)
	f.Add([]byte("no head at all"), 1)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		c := &sniffConn{maxFrame: int64(max), inHead: true, headCap: 1024}
		for i := 0; i < len(b); i += 5 {
			c.observe(b[i:min(i+5, len(b))])
			if c.hdrLen >= len(c.hdr) {
				t.Fatalf("header buffer overflow: %d", c.hdrLen)
			}
		}
	})
}
