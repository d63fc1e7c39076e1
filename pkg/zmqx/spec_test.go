package zmqx

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pebbe/zmq4"
)

func TestParseSpecs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: "ipc://run/pushpin-condure-out", want: []string{"ipc://run/pushpin-condure-out"}},
		{in: "tcp://127.0.0.1:5560,ipc:///tmp/x", want: []string{"tcp://127.0.0.1:5560", "ipc:///tmp/x"}},
		{in: " tcp://a:1 ,  tcp://b:2 ", want: []string{"tcp://a:1", "tcp://b:2"}},
		{in: "tcp://a:1,tcp://a:1", want: []string{"tcp://a:1", "tcp://a:1"}}, // duplicates are kept, libzmq decides
		{in: "inproc://x", want: []string{"inproc://x"}},
		{in: "ipc://@abstract", want: []string{"ipc://@abstract"}},
		{in: "tcp://a:1,", wantErr: true},
		{in: ",tcp://a:1", wantErr: true},
		{in: "tcp://a:1,,tcp://b:2", wantErr: true},
		{in: "127.0.0.1:5560", wantErr: true},
		{in: "tcp://", wantErr: true},
		{in: "://x", wantErr: true},
		{in: "TCP://a:1", wantErr: true},
		{in: "t cp://a:1", wantErr: true},
		{in: strings.Repeat("tcp://h:1,", 1000) + "tcp://h:1", want: slices.Repeat([]string{"tcp://h:1"}, 1001)},
	}
	for _, tt := range tests {
		got, err := ParseSpecs(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseSpecs(%.40q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ParseSpecs(%.40q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseIPCMode(t *testing.T) {
	tests := []struct {
		in      string
		perm    os.FileMode
		set     bool
		wantErr bool
	}{
		{in: "", set: false},
		{in: "777", perm: 0o777, set: true},
		{in: "0660", perm: 0o660, set: true},
		{in: " 600 ", perm: 0o600, set: true},
		{in: "0", perm: 0, set: true},
		{in: "4777", perm: 0o777, set: true}, // like Pushpin, only the rwx bits apply
		{in: "1770", perm: 0o770, set: true},
		{in: "8", wantErr: true},
		{in: "778", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "0x1ff", wantErr: true},
		{in: "rwx", wantErr: true},
		{in: "77777777777777777", wantErr: true},
	}
	for _, tt := range tests {
		m, err := ParseIPCMode(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseIPCMode(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		perm, set := m.Perm()
		if perm != tt.perm || set != tt.set {
			t.Errorf("ParseIPCMode(%q) = %v/%v, want %v/%v", tt.in, perm, set, tt.perm, tt.set)
		}
	}
	if s := (IPCMode{}).String(); s != "unset" {
		t.Errorf("zero IPCMode String = %q", s)
	}
	if s := IPCModeOf(0o660).String(); s != "0660" {
		t.Errorf("IPCModeOf(0660).String() = %q", s)
	}
}

// rawSocket makes a caller-owned socket that is closed at cleanup (before the
// context is closed, as Context.Close requires).
func rawSocket(t *testing.T, zc *Context, typ zmq4.Type, opts ...SocketOption) *zmq4.Socket {
	t.Helper()
	s, err := zc.NewSocket(typ, opts...)
	if err != nil {
		t.Fatalf("NewSocket(%v): %v", typ, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBindFirstOnly(t *testing.T) {
	zc := newTestContext(t)
	dir := t.TempDir()
	first := filepath.Join(dir, "first")
	second := filepath.Join(dir, "second")
	s := rawSocket(t, zc, zmq4.PULL)
	bound, err := BindFirst(s, []string{"ipc://" + first, "ipc://" + second}, IPCMode{})
	if err != nil {
		t.Fatalf("BindFirst: %v", err)
	}
	if bound != "ipc://"+first {
		t.Errorf("bound = %q, want ipc://%s", bound, first)
	}
	if _, err := os.Stat(first); err != nil {
		t.Errorf("first spec not bound: %v", err)
	}
	if _, err := os.Stat(second); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second spec was bound (stat err %v); only the first must be", err)
	}
}

func TestBindResolvesWildcardPort(t *testing.T) {
	zc := newTestContext(t)
	s := rawSocket(t, zc, zmq4.PULL)
	bound, err := BindFirst(s, []string{"tcp://127.0.0.1:*"}, IPCMode{})
	if err != nil {
		t.Fatalf("BindFirst: %v", err)
	}
	if !strings.HasPrefix(bound, "tcp://127.0.0.1:") || strings.HasSuffix(bound, ":*") {
		t.Errorf("bound = %q, want a concrete port", bound)
	}
}

func TestSetupErrors(t *testing.T) {
	zc := newTestContext(t)
	s := rawSocket(t, zc, zmq4.PULL)
	if _, err := Setup(s, Endpoint{Bind: true}); !errors.Is(err, ErrNoSpecs) {
		t.Errorf("bind with no specs: err = %v, want ErrNoSpecs", err)
	}
	if _, err := Setup(s, Endpoint{}); !errors.Is(err, ErrNoSpecs) {
		t.Errorf("connect with no specs: err = %v, want ErrNoSpecs", err)
	}
	if _, err := Setup(s, Endpoint{Bind: true, Specs: []string{"nonsense"}}); err == nil {
		t.Error("bind to malformed spec succeeded")
	}
	if _, err := Setup(s, Endpoint{Specs: []string{"tcp://127.0.0.1:1", "bogus://x"}}); err == nil {
		t.Error("connect to unknown transport succeeded")
	}
	if _, err := Setup(s, Endpoint{Bind: true, Specs: []string{"tcp://256.1.1.1:1"}}); err == nil {
		t.Error("bind to invalid address succeeded")
	}
}

func TestIPCFileModeApplied(t *testing.T) {
	zc := newTestContext(t)
	for _, perm := range []os.FileMode{0o600, 0o660, 0o777} {
		path := filepath.Join(t.TempDir(), "sock")
		s := rawSocket(t, zc, zmq4.PULL)
		if _, err := BindFirst(s, []string{"ipc://" + path}, IPCModeOf(perm)); err != nil {
			t.Fatalf("BindFirst: %v", err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != perm {
			t.Errorf("mode = %04o, want %04o", got, perm)
		}
	}
}

func TestIPCCreatesParentDirs(t *testing.T) {
	zc := newTestContext(t)
	path := filepath.Join(t.TempDir(), "a", "b", "c", "sock")
	s := rawSocket(t, zc, zmq4.PULL)
	if _, err := BindFirst(s, []string{"ipc://" + path}, IPCMode{}); err != nil {
		t.Fatalf("BindFirst: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		t.Errorf("%s is %v, want a socket", path, fi.Mode())
	}
}

func TestIPCStaleFileRemoved(t *testing.T) {
	zc := newTestContext(t)
	path := filepath.Join(t.TempDir(), "stale")
	// Leave a socket file behind with nothing listening, as a crashed
	// process does.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale file not left behind: %v", err)
	}

	s := rawSocket(t, zc, zmq4.PULL)
	if _, err := BindFirst(s, []string{"ipc://" + path}, IPCMode{}); err != nil {
		t.Fatalf("BindFirst over stale file: %v", err)
	}
	// The endpoint works: a PUSH can reach it.
	push := rawSocket(t, zc, zmq4.PUSH)
	if err := push.Connect("ipc://" + path); err != nil {
		t.Fatal(err)
	}
	if _, err := push.SendBytes([]byte("hi"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRcvtimeo(testTimeout); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RecvBytes(0); err != nil || string(got) != "hi" {
		t.Fatalf("recv = %q, %v", got, err)
	}
}

func TestIPCInUseRefused(t *testing.T) {
	zc := newTestContext(t)
	path := filepath.Join(t.TempDir(), "busy")
	a := rawSocket(t, zc, zmq4.PULL)
	if _, err := BindFirst(a, []string{"ipc://" + path}, IPCMode{}); err != nil {
		t.Fatal(err)
	}
	b := rawSocket(t, zc, zmq4.PULL)
	if _, err := BindFirst(b, []string{"ipc://" + path}, IPCMode{}); !errors.Is(err, ErrIPCInUse) {
		t.Fatalf("second bind: err = %v, want ErrIPCInUse", err)
	}
}

func TestIPCRegularFileNotDeleted(t *testing.T) {
	zc := newTestContext(t)
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := rawSocket(t, zc, zmq4.PULL)
	if _, err := BindFirst(s, []string{"ipc://" + path}, IPCMode{}); err == nil {
		t.Fatal("bind over a regular file succeeded")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Errorf("regular file changed: %q, %v", b, err)
	}
}

func TestConnectAll(t *testing.T) {
	zc := newTestContext(t)
	var specs []string
	var pushes []*zmq4.Socket
	for range 3 {
		p := rawSocket(t, zc, zmq4.PUSH)
		ep, err := BindFirst(p, []string{"tcp://127.0.0.1:*"}, IPCMode{})
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, ep)
		pushes = append(pushes, p)
	}
	pull := rawSocket(t, zc, zmq4.PULL)
	if err := ConnectAll(pull, specs); err != nil {
		t.Fatal(err)
	}
	for i, p := range pushes {
		if _, err := p.SendBytes([]byte{byte('a' + i)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := pull.SetRcvtimeo(testTimeout); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range pushes {
		b, err := pull.RecvBytes(0)
		if err != nil {
			t.Fatalf("recv: %v (got %q so far)", err, got)
		}
		got = append(got, string(b))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("received %q from the connected specs, want a b c", got)
	}
}

func TestSocketOptions(t *testing.T) {
	zc := newTestContext(t)
	s := rawSocket(t, zc, zmq4.SUB,
		RcvHWM(PublishInHWM), SndHWM(PublishSubSndHWM), TCPKeepalive(PushInSubKeepalive), Subscribe(""))
	check := func(name string, got int, err error, want int) {
		t.Helper()
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", name, got, err, want)
		}
	}
	v, err := s.GetRcvhwm()
	check("rcvhwm", v, err, 101000)
	v, err = s.GetSndhwm()
	check("sndhwm", v, err, 0)
	v, err = s.GetTcpKeepalive()
	check("keepalive", v, err, 1)
	v, err = s.GetTcpKeepaliveIdle()
	check("keepalive idle", v, err, 30)
	v, err = s.GetTcpKeepaliveCnt()
	check("keepalive cnt", v, err, 6)
	v, err = s.GetTcpKeepaliveIntvl()
	check("keepalive intvl", v, err, 5)
	if l, err := s.GetLinger(); err != nil || l != 0 {
		t.Errorf("linger = %v, %v; want 0", l, err)
	}

	r := rawSocket(t, zc, zmq4.ROUTER, Identity("pushpin-proxy_1"), HWM(StreamHWM), RouterMandatory(), Immediate())
	if id, err := r.GetIdentity(); err != nil || id != "pushpin-proxy_1" {
		t.Errorf("identity = %q, %v", id, err)
	}
	v, err = r.GetSndhwm()
	check("router sndhwm", v, err, StreamHWM)
	v, err = r.GetRcvhwm()
	check("router rcvhwm", v, err, StreamHWM)

	if _, err := zc.NewSocket(zmq4.DEALER, Identity("")); err == nil {
		t.Error("empty identity accepted")
	}
}
