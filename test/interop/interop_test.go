// Package interop proves our protocol packages (protocol/zhttp,
// protocol/tnetstring, pkg/zmqx) against Pushpin's real components before
// any daemon of ours exists: the tests play the ZHTTP responder behind
// Debian's standalone condure and the initiator in front of Debian's zurl,
// and check every packet the real binaries send against our reading of the
// protocol (reference §2.9). They are skipped when Debian's binaries are not
// installed.
//
// The tests run against Debian's binaries. Set INTEROP_OURS to a
// comma-separated list of components (condure, zurl) to run them against our
// binaries from $PUSHPIN_GO_BIN too (`make build` first): the same
// assertions then hold our daemons to the behaviour of Pushpin's.
//
// Run with -record to store the first packets condure and zurl send under
// testdata/captures, a corpus for the zhttp decoder.
package interop

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/test/harness"
)

var record = flag.Bool("record", false, "write captured packets to testdata/captures")

// wait bounds every single expectation; the real components answer in
// milliseconds, so this only matters when something is broken.
const wait = 5 * time.Second

// forImpls runs fn as a subtest for Debian's component and, when
// INTEROP_OURS names it, for ours.
func forImpls(t *testing.T, c harness.Component, fn func(t *testing.T, impl harness.Impl)) {
	impls := []harness.Impl{harness.Debian}
	for _, name := range strings.Split(os.Getenv("INTEROP_OURS"), ",") {
		if strings.TrimSpace(name) == c.String() {
			impls = append(impls, harness.Ours)
		}
	}
	for _, impl := range impls {
		t.Run(impl.String(), func(t *testing.T) { fn(t, impl) })
	}
}

// capture writes raw under testdata/captures/name when -record is given.
func capture(t *testing.T, name string, raw []byte) {
	t.Helper()
	if !*record || !strings.HasSuffix(t.Name(), "/"+harness.Debian.String()) {
		return
	}
	dir := filepath.Join("testdata", "captures")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// seqCheck follows one direction of a session: each packet's seq must be
// the next number (reference §2.4).
type seqCheck struct {
	t    *testing.T
	name string
	next int
}

func (s *seqCheck) check(p *zhttp.Packet) {
	s.t.Helper()
	if p.Has&zhttp.HasSeq == 0 {
		s.t.Errorf("%s: packet without seq", s.name)
		return
	}
	if p.Seq != s.next {
		s.t.Errorf("%s: seq %d, want %d", s.name, p.Seq, s.next)
	}
	s.next = p.Seq + 1
}

// outSeq numbers the packets we send in one session.
type outSeq struct{ n int }

func (o *outSeq) stamp(p *zhttp.Packet) *zhttp.Packet {
	p.SetSeq(o.n)
	o.n++
	return p
}

func header(p *zhttp.Packet, name string) string {
	v, _ := p.Header(name)
	return v
}

// pattern returns n deterministic bytes, so a reassembled body can be
// compared byte for byte.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%23)
	}
	return b
}

func equalBody(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes, want %d (equal prefix %d)", what, len(got), len(want), commonPrefix(got, want))
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestCapturesDecode decodes every recorded capture with our codec, so the
// corpus stays valid input for it (runs without the Debian binaries).
func TestCapturesDecode(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "captures", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no captures recorded (run with -record)")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var p zhttp.Packet
		if _, err := zhttp.Decode(raw, &p); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		// Re-encoding and decoding again must give the same packet.
		var q zhttp.Packet
		if _, err := zhttp.Decode(zhttp.AppendT(nil, &p), &q); err != nil {
			t.Errorf("%s: re-encoded packet does not decode: %v", f, err)
		}
	}
}

// session follows one ZHTTP session from our side: it numbers what we send
// and checks the seq of every packet the peer sends for it, counting the
// credits the peer grants and the keep-alives it sends on the way.
type session struct {
	t    *testing.T
	peer *harness.ZPeer
	// id is the session id; to is the peer's address (its "from"): where
	// our packets go.
	id, to []byte
	// send delivers one of our packets (via PUB for a responder, via the
	// ROUTER for an initiator).
	send func(p *zhttp.Packet) error

	out outSeq
	in  seqCheck

	credits    int // total credits granted by the peer
	keepAlives int
	start      time.Time
}

// sendPacket stamps p with our id and the next seq, and sends it.
func (s *session) sendPacket(p zhttp.Packet) {
	s.t.Helper()
	p.ID = s.id
	s.out.stamp(&p)
	if err := s.send(&p); err != nil {
		s.t.Fatalf("send %s packet: %v", typeName(p.Type), err)
	}
}

func typeName(t zhttp.Type) string {
	if t == zhttp.Data {
		return "data"
	}
	return t.String()
}

// next returns the next packet of the session that match accepts.
// keep-alive and credit packets that match rejects are accounted and
// skipped; any other rejected packet fails the test.
func (s *session) next(what string, match func(*zhttp.Packet) bool) harness.ZMessage {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		m, err := s.peer.Recv(time.Until(deadline))
		if err != nil {
			s.t.Fatalf("waiting for %s: %v", what, err)
		}
		if m.Err != nil {
			s.t.Fatalf("waiting for %s: malformed packet: %v", what, &m)
		}
		p := &m.Packet
		if string(p.ID) != string(s.id) {
			s.t.Fatalf("waiting for %s: packet for another session: %v", what, &m)
		}
		s.in.check(p)
		if p.Has&zhttp.HasCredits != 0 && p.Type != zhttp.Error {
			s.credits += p.Credits
		}
		if p.Type == zhttp.KeepAlive {
			s.keepAlives++
		}
		if s.start.IsZero() {
			s.start = time.Now()
		}
		s.t.Logf("+%v ← %s seq %d %s credits %d body %d bytes more %v", time.Since(s.start).Round(time.Millisecond), m.Via, p.Seq, typeName(p.Type), p.Credits, len(p.Body), p.More)
		if match(p) {
			return m
		}
		if p.Type != zhttp.KeepAlive && p.Type != zhttp.Credit {
			s.t.Fatalf("waiting for %s: unexpected packet %v", what, &m)
		}
	}
}

// nextType returns the next packet of type typ.
func (s *session) nextType(typ zhttp.Type) harness.ZMessage {
	s.t.Helper()
	return s.next(typeName(typ), func(p *zhttp.Packet) bool { return p.Type == typ })
}

// waitCredits reads until the peer has granted at least n credits in
// total, and fails if it grants more.
func (s *session) waitCredits(n int) {
	s.t.Helper()
	if s.credits < n {
		// Accounting happens before match is called, so match sees the
		// running total including the packet it is shown.
		s.next(fmt.Sprintf("credits (have %d, want %d)", s.credits, n), func(*zhttp.Packet) bool { return s.credits >= n })
	}
	if s.credits != n {
		s.t.Errorf("peer granted %d credits, want exactly %d", s.credits, n)
	}
}
