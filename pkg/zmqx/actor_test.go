package zmqx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pebbe/zmq4"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// newTestContext returns a Context closed at cleanup, after checking that
// closing it leaves no goroutine behind.
func newTestContext(t testing.TB) *Context {
	t.Helper()
	base := runtime.NumGoroutine()
	zc, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		closed := make(chan error, 1)
		go func() { closed <- zc.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("Context.Close: %v", err)
			}
		case <-time.After(testTimeout):
			t.Fatal("Context.Close did not return")
		}
		waitGoroutines(t, base)
	})
	return zc
}

// waitGoroutines waits (bounded) for the goroutine count to fall back to
// base.
func waitGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left, want <= %d:\n%s", n, base, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// collector is a Handler that copies messages into a channel.
type collector struct {
	ch chan [][]byte
}

func newCollector(n int) *collector { return &collector{ch: make(chan [][]byte, n)} }

func (c *collector) handle(_ *Actor, msg [][]byte) {
	// The outer slice is reused by the actor; the frames may be kept.
	c.ch <- append([][]byte(nil), msg...)
}

func (c *collector) next(t *testing.T) [][]byte {
	t.Helper()
	select {
	case m := <-c.ch:
		return m
	case <-time.After(testTimeout):
		t.Fatal("timed out waiting for a message")
		return nil
	}
}

// none asserts that no message is waiting right now.
func (c *collector) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-c.ch:
		t.Fatalf("unexpected message %q", m)
	default:
	}
}

func startActor(t *testing.T, ctx context.Context, zc *Context, cfg Config) *Actor {
	t.Helper()
	a, err := NewActor(ctx, zc, cfg)
	if err != nil {
		t.Fatalf("NewActor(%s): %v", cfg.Name, err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("actor %s: %v", a.Name(), err)
		}
	})
	return a
}

func msg(parts ...string) [][]byte {
	m := make([][]byte, len(parts))
	for i, p := range parts {
		m[i] = []byte(p)
	}
	return m
}

func equalMsg(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestPushPull(t *testing.T) {
	zc := newTestContext(t)
	ctx := t.Context()
	got := newCollector(100)
	pull := startActor(t, ctx, zc, Config{
		Name: "pull", Type: zmq4.PULL, Handler: got.handle,
		Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}},
		Options:  []SocketOption{RcvHWM(ZhttpInHWM)},
	})
	push := startActor(t, ctx, zc, Config{
		Name: "push", Type: zmq4.PUSH,
		Endpoint: Endpoint{Specs: []string{pull.Endpoint()}},
		Options:  []SocketOption{SndHWM(ZhttpOutHWM)},
	})
	const n = 50
	for i := range n {
		// Multipart, with an empty frame, as ZHTTP/ZRPC envelopes have.
		if err := push.Send(ctx, msg("part", "", strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		m := got.next(t)
		if want := msg("part", "", strconv.Itoa(i)); !equalMsg(m, want) {
			t.Fatalf("message %d = %q, want %q", i, m, want)
		}
	}
}

func TestRouterDealerBothWays(t *testing.T) {
	zc := newTestContext(t)
	ctx := t.Context()
	const n = 500
	fromDealer := newCollector(n + 1)
	router := startActor(t, ctx, zc, Config{
		Name: "router", Type: zmq4.ROUTER, Handler: fromDealer.handle,
		Endpoint: Endpoint{Bind: true, Specs: []string{"ipc://" + filepath.Join(t.TempDir(), "router")}},
		Options:  []SocketOption{Identity("router-id"), HWM(StreamHWM), RouterMandatory()},
	})
	fromRouter := newCollector(n)
	dealer := startActor(t, ctx, zc, Config{
		Name: "dealer", Type: zmq4.DEALER, Handler: fromRouter.handle,
		Endpoint: Endpoint{Specs: []string{router.Endpoint()}},
		Options:  []SocketOption{Identity("dealer-id"), HWM(StreamHWM)},
	})

	// The router can address the dealer only once the dealer's identity is
	// known to it.
	if err := dealer.Send(ctx, msg("", "hello")); err != nil {
		t.Fatal(err)
	}
	if m := fromDealer.next(t); !equalMsg(m, msg("dealer-id", "", "hello")) {
		t.Fatalf("router got %q", m)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	// Owner: this test; both senders run at once and are waited for below.
	wg.Go(func() {
		for i := range n {
			if err := dealer.Send(ctx, msg("", "d"+strconv.Itoa(i))); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for i := range n {
			if err := router.Send(ctx, msg("dealer-id", "", "r"+strconv.Itoa(i))); err != nil {
				errs <- err
				return
			}
		}
	})
	for i := range n {
		if m := fromDealer.next(t); !equalMsg(m, msg("dealer-id", "", "d"+strconv.Itoa(i))) {
			t.Fatalf("router message %d = %q", i, m)
		}
	}
	for i := range n {
		if m := fromRouter.next(t); !equalMsg(m, msg("", "r"+strconv.Itoa(i))) {
			t.Fatalf("dealer message %d = %q", i, m)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if d := router.Dropped(); d != 0 {
		t.Errorf("router dropped %d", d)
	}
}

func TestRouterMandatoryUnknownPeerDropped(t *testing.T) {
	zc := newTestContext(t)
	ctx := t.Context()
	drops := make(chan string, 1)
	router := startActor(t, ctx, zc, Config{
		Name: "router", Type: zmq4.ROUTER, Handler: func(*Actor, [][]byte) {},
		Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}},
		Options:  []SocketOption{RouterMandatory()},
		OnDrop: func(m [][]byte, err error) {
			if !isErrno(err, syscall.EHOSTUNREACH) {
				t.Errorf("drop error = %v", err)
			}
			drops <- string(m[0])
		},
	})
	if err := router.Send(ctx, msg("nobody", "", "x")); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-drops:
		if id != "nobody" {
			t.Errorf("dropped message for %q", id)
		}
	case <-time.After(testTimeout):
		t.Fatal("OnDrop not called")
	}
	if d := router.Dropped(); d != 1 {
		t.Errorf("Dropped = %d, want 1", d)
	}
}

func TestPubSubFilterAndDynamicSubscriptions(t *testing.T) {
	zc := newTestContext(t)
	ctx := t.Context()
	pub := startActor(t, ctx, zc, Config{
		Name: "pub", Type: zmq4.PUB,
		Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}},
		Options:  []SocketOption{SndHWM(StreamHWM)},
	})
	got := newCollector(1000)
	sub := startActor(t, ctx, zc, Config{
		Name: "sub", Type: zmq4.SUB, Handler: got.handle,
		Endpoint: Endpoint{Specs: []string{pub.Endpoint()}},
		Options:  []SocketOption{RcvHWM(StreamHWM), Subscribe("a ")},
	})

	// publishUntil publishes probe messages until one on topic arrives,
	// since subscriptions reach the PUB asynchronously. It returns the
	// messages received before that one.
	seq := 0
	publishUntil := func(topic string) []string {
		t.Helper()
		deadline := time.Now().Add(testTimeout)
		var before []string
		for time.Now().Before(deadline) {
			seq++
			want := topic + "probe-" + strconv.Itoa(seq)
			if err := pub.Send(ctx, msg(want)); err != nil {
				t.Fatal(err)
			}
			wait := time.After(20 * time.Millisecond)
		recv:
			for {
				select {
				case m := <-got.ch:
					if string(m[0]) == want {
						return before
					}
					before = append(before, string(m[0]))
				case <-wait:
					break recv
				}
			}
		}
		t.Fatalf("no message on %q arrived", topic)
		return nil
	}

	publishUntil("a ")
	// Filter: "b" is not subscribed. The single PUB→SUB pipe keeps order, so
	// had "b 1" been delivered it would arrive before "a 2".
	if err := pub.Send(ctx, msg("b 1")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Send(ctx, msg("a 2")); err != nil {
		t.Fatal(err)
	}
	if m := got.next(t); string(m[0]) != "a 2" {
		t.Fatalf("got %q, want \"a 2\" (the \"b\" topic is not subscribed)", m)
	}

	// Subscribe at run time, through the owner.
	if err := sub.Subscribe(ctx, "b "); err != nil {
		t.Fatal(err)
	}
	publishUntil("b ")
	if err := pub.Send(ctx, msg("a 3")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Send(ctx, msg("b 4")); err != nil {
		t.Fatal(err)
	}
	if m := got.next(t); string(m[0]) != "a 3" {
		t.Fatalf("got %q, want \"a 3\"", m)
	}
	if m := got.next(t); string(m[0]) != "b 4" {
		t.Fatalf("got %q, want \"b 4\"", m)
	}

	// Unsubscribe "a ": once it has reached the PUB, an "a" message sent
	// just before a "b" marker no longer arrives.
	if err := sub.Unsubscribe(ctx, "a "); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testTimeout)
	for {
		if time.Now().After(deadline) {
			t.Fatal("unsubscribe never took effect")
		}
		if err := pub.Send(ctx, msg("a gone?")); err != nil {
			t.Fatal(err)
		}
		if before := publishUntil("b "); len(before) == 0 {
			break
		}
	}
	got.none(t)

	if err := sub.Subscribe(ctx, ""); err != nil {
		t.Fatal(err)
	}
	publishUntil("c ")
}

func TestSubscribeFromHandlerViaPost(t *testing.T) {
	zc := newTestContext(t)
	ctx := t.Context()
	pub := startActor(t, ctx, zc, Config{
		Name: "pub", Type: zmq4.PUB,
		Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}},
	})
	got := newCollector(1000)
	subscribed := false
	handler := func(a *Actor, m [][]byte) {
		// The handler learns of a new topic and subscribes without waiting
		// on the owner it is running on.
		if string(m[0]) == "ctl add-x" && !subscribed {
			subscribed = true
			if err := a.Post(func(s *zmq4.Socket) error { return s.SetSubscribe("x ") }); err != nil {
				t.Errorf("Post: %v", err)
			}
		}
		got.handle(a, m)
	}
	sub, err := NewActor(ctx, zc, Config{
		Name: "sub", Type: zmq4.SUB, Handler: handler,
		Endpoint: Endpoint{Specs: []string{pub.Endpoint()}},
		Options:  []SocketOption{Subscribe("ctl ")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	deadline := time.Now().Add(testTimeout)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatal("x topic never arrived")
		}
		if err := pub.Send(ctx, msg("ctl add-x")); err != nil {
			t.Fatal(err)
		}
		if err := pub.Send(ctx, msg("x "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got.ch:
			if string(m[0][:2]) == "x " {
				return
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestTrySendErrFull(t *testing.T) {
	for _, typ := range []zmq4.Type{zmq4.PUSH, zmq4.DEALER} {
		t.Run(typ.String(), func(t *testing.T) {
			zc := newTestContext(t)
			ctx := t.Context()
			cfg := Config{
				Name: "full", Type: typ, QueueSize: 2,
				// Bound with no peer: the socket refuses every message
				// (EAGAIN), so the queue backs up.
				Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}},
				Options:  []SocketOption{SndHWM(1)},
			}
			if typ == zmq4.DEALER {
				cfg.Handler = func(*Actor, [][]byte) {}
			}
			a := startActor(t, ctx, zc, cfg)
			// The owner takes one message, is refused (EAGAIN) and keeps
			// it; the queue then holds 2 more. Fill until 3 are accepted,
			// tolerating ErrFull while the owner has not yet taken the
			// first one.
			accepted := 0
			deadline := time.Now().Add(testTimeout)
			for accepted < 3 {
				if time.Now().After(deadline) {
					t.Fatalf("only %d messages accepted", accepted)
				}
				switch err := a.TrySend(msg("m")); {
				case err == nil:
					accepted++
				case errors.Is(err, ErrFull):
					time.Sleep(time.Millisecond)
				default:
					t.Fatal(err)
				}
			}
			if err := a.TrySend(msg("m")); !errors.Is(err, ErrFull) {
				t.Fatalf("TrySend on full queue: err = %v, want ErrFull", err)
			}
			sctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			if err := a.Send(sctx, msg("m")); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Send on full queue: err = %v, want DeadlineExceeded", err)
			}
			if n := a.QueueLen(); n != 2 {
				t.Errorf("QueueLen = %d, want 2", n)
			}
		})
	}
}

// TestBackpressureDeliversInOrder sends more messages than the socket's HWM
// before any peer exists; once the peer appears, everything arrives, in
// order, through the EAGAIN/retry path.
func TestBackpressureDeliversInOrder(t *testing.T) {
	for _, typ := range []zmq4.Type{zmq4.PUSH, zmq4.DEALER} {
		t.Run(typ.String(), func(t *testing.T) {
			zc := newTestContext(t)
			ctx := t.Context()
			path := "ipc://" + filepath.Join(t.TempDir(), "late")
			cfg := Config{
				Name: "sender", Type: typ, QueueSize: 4,
				Endpoint: Endpoint{Specs: []string{path}},
				Options:  []SocketOption{SndHWM(2)},
			}
			if typ == zmq4.DEALER {
				cfg.Handler = func(*Actor, [][]byte) {}
			}
			sender := startActor(t, ctx, zc, cfg)
			const n = 200
			sent := make(chan error, 1)
			// Owner: this test, which reads sent below.
			go func() {
				for i := range n {
					if err := sender.Send(ctx, msg(strconv.Itoa(i))); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			// Wait (bounded) until the sender is stuck on the full socket.
			deadline := time.Now().Add(testTimeout)
			for sender.QueueLen() < 4 {
				if time.Now().After(deadline) {
					t.Fatal("sender queue never filled")
				}
				time.Sleep(time.Millisecond)
			}

			got := newCollector(n)
			rtype := zmq4.PULL
			if typ == zmq4.DEALER {
				rtype = zmq4.ROUTER
			}
			startActor(t, ctx, zc, Config{
				Name: "receiver", Type: rtype, Handler: got.handle,
				Endpoint: Endpoint{Bind: true, Specs: []string{path}},
			})
			for i := range n {
				m := got.next(t)
				body := m[len(m)-1]
				if string(body) != strconv.Itoa(i) {
					t.Fatalf("message %d = %q", i, m)
				}
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestActorErrors(t *testing.T) {
	zc := newTestContext(t)
	ctx := t.Context()
	ep := Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}}

	bad := []Config{
		{Name: "pull-no-handler", Type: zmq4.PULL, Endpoint: ep},
		{Name: "push-with-handler", Type: zmq4.PUSH, Endpoint: ep, Handler: func(*Actor, [][]byte) {}},
		{Name: "stream", Type: zmq4.STREAM, Endpoint: ep, Handler: func(*Actor, [][]byte) {}},
		{Name: "negative-queue", Type: zmq4.PUSH, Endpoint: ep, QueueSize: -1},
		{Name: "bad-endpoint", Type: zmq4.PUSH, Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://nope"}}},
		{Name: "no-specs", Type: zmq4.PUSH},
		{Name: "bad-option", Type: zmq4.PUSH, Endpoint: ep, Options: []SocketOption{Identity("")}},
	}
	for _, cfg := range bad {
		if a, err := NewActor(ctx, zc, cfg); err == nil {
			a.Close()
			t.Errorf("NewActor(%s) succeeded", cfg.Name)
		}
	}

	pull := startActor(t, ctx, zc, Config{Name: "pull", Type: zmq4.PULL, Endpoint: ep, Handler: func(*Actor, [][]byte) {}})
	if err := pull.TrySend(msg("x")); !errors.Is(err, ErrCannotSend) {
		t.Errorf("TrySend on PULL: %v", err)
	}
	if err := pull.Subscribe(ctx, "x"); !errors.Is(err, ErrNotSub) {
		t.Errorf("Subscribe on PULL: %v", err)
	}
	push := startActor(t, ctx, zc, Config{Name: "push", Type: zmq4.PUSH, Endpoint: Endpoint{Specs: []string{pull.Endpoint()}}})
	if err := push.Send(ctx, nil); !errors.Is(err, ErrEmptyMessage) {
		t.Errorf("Send(nil): %v", err)
	}
	if err := push.TrySend([][]byte{}); !errors.Is(err, ErrEmptyMessage) {
		t.Errorf("TrySend(empty): %v", err)
	}

	// A failing Do op reports its error without stopping the actor; a
	// failing Post op stops it.
	boom := errors.New("boom")
	if err := push.Do(ctx, func(*zmq4.Socket) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Do: %v", err)
	}
	if err := push.Send(ctx, msg("still alive")); err != nil {
		t.Errorf("Send after failed Do: %v", err)
	}
	victim, err := NewActor(ctx, zc, Config{Name: "victim", Type: zmq4.PUSH, Endpoint: Endpoint{Specs: []string{pull.Endpoint()}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Post(func(*zmq4.Socket) error { return boom }); err != nil {
		t.Fatal(err)
	}
	if err := victim.Wait(); !errors.Is(err, boom) {
		t.Errorf("Wait after failing Post = %v, want boom", err)
	}
	if err := victim.Send(ctx, msg("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send on stopped actor: %v", err)
	}
	if err := victim.Do(ctx, func(*zmq4.Socket) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Do on stopped actor: %v", err)
	}
	if err := victim.Post(func(*zmq4.Socket) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Post on stopped actor: %v", err)
	}
}

func TestShutdownNoLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	zc, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	var actors []*Actor
	add := func(cfg Config) *Actor {
		a, err := NewActor(ctx, zc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		actors = append(actors, a)
		return a
	}
	nop := func(*Actor, [][]byte) {}
	router := add(Config{Name: "router", Type: zmq4.ROUTER, Handler: nop,
		Endpoint: Endpoint{Bind: true, Specs: []string{"ipc://" + filepath.Join(dir, "r")}, IPCMode: IPCModeOf(0o700)}})
	add(Config{Name: "dealer", Type: zmq4.DEALER, Handler: nop, Endpoint: Endpoint{Specs: []string{router.Endpoint()}}})
	pub := add(Config{Name: "pub", Type: zmq4.PUB, Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}}})
	add(Config{Name: "sub", Type: zmq4.SUB, Handler: nop, Endpoint: Endpoint{Specs: []string{pub.Endpoint()}}})
	pull := add(Config{Name: "pull", Type: zmq4.PULL, Handler: nop, Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}}})
	// A PUSH stuck on a full socket must still stop promptly.
	stuck := add(Config{Name: "stuck", Type: zmq4.PUSH, Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}}})
	for range 3 {
		if err := stuck.TrySend(msg("x")); err != nil && !errors.Is(err, ErrFull) {
			t.Fatal(err)
		}
	}
	_ = pull

	cancel()
	for _, a := range actors {
		select {
		case <-a.Done():
			if err := a.Wait(); err != nil {
				t.Errorf("actor %s: %v", a.Name(), err)
			}
		case <-time.After(testTimeout):
			t.Fatalf("actor %s did not stop", a.Name())
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- zc.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Context.Close hung")
	}
	waitGoroutines(t, base)
}

func TestContextCloseStopsActors(t *testing.T) {
	base := runtime.NumGoroutine()
	zc, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewActor(context.Background(), zc, Config{Name: "router", Type: zmq4.ROUTER, Handler: func(*Actor, [][]byte) {},
		Endpoint: Endpoint{Bind: true, Specs: []string{"tcp://127.0.0.1:*"}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewActor(context.Background(), zc, Config{Name: "push", Type: zmq4.PUSH,
		Endpoint: Endpoint{Specs: []string{a.Endpoint()}}})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- zc.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Context.Close hung")
	}
	for _, x := range []*Actor{a, b} {
		if err := x.Wait(); err != nil {
			t.Errorf("%s: %v", x.Name(), err)
		}
	}
	if err := zc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := NewActor(context.Background(), zc, Config{Type: zmq4.PUSH,
		Endpoint: Endpoint{Specs: []string{"tcp://127.0.0.1:1"}}}); !errors.Is(err, ErrClosed) {
		t.Errorf("NewActor after Close: %v", err)
	}
	if _, err := zc.NewSocket(zmq4.PUSH); !errors.Is(err, ErrClosed) {
		t.Errorf("NewSocket after Close: %v", err)
	}
	waitGoroutines(t, base)
}

// echo starts a ROUTER that sends every message straight back and a DEALER
// talking to it; it returns the dealer and the channel of its replies.
func echoPair(tb testing.TB, zc *Context, ctx context.Context, spec string) (*Actor, chan []byte) {
	tb.Helper()
	router, err := NewActor(ctx, zc, Config{
		Name: "echo-router", Type: zmq4.ROUTER,
		Endpoint: Endpoint{Bind: true, Specs: []string{spec}},
		Options:  []SocketOption{HWM(StreamHWM), RouterMandatory()},
		Handler: func(a *Actor, m [][]byte) {
			// m's outer slice is reused: copy it before queueing.
			if err := a.TrySend(append([][]byte(nil), m...)); err != nil {
				tb.Errorf("echo: %v", err)
			}
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	replies := make(chan []byte, 1024)
	dealer, err := NewActor(ctx, zc, Config{
		Name: "dealer", Type: zmq4.DEALER,
		Endpoint: Endpoint{Specs: []string{router.Endpoint()}},
		Options:  []SocketOption{Identity("bench-dealer"), HWM(StreamHWM)},
		Handler:  func(_ *Actor, m [][]byte) { replies <- m[1] },
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		dealer.Close()
		router.Close()
	})
	return dealer, replies
}

func TestEchoRoundTrip(t *testing.T) {
	zc := newTestContext(t)
	ctx := t.Context()
	dealer, replies := echoPair(t, zc, ctx, "tcp://127.0.0.1:*")
	for i := range 20 {
		body := fmt.Sprintf("ping %d", i)
		if err := dealer.Send(ctx, msg("", body)); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-replies:
			if string(r) != body {
				t.Fatalf("reply %q, want %q", r, body)
			}
		case <-time.After(testTimeout):
			t.Fatal("no echo")
		}
	}
}

// BenchmarkRoundTrip measures one DEALER→ROUTER→DEALER round trip through
// two actors over ipc, one message in flight at a time.
func BenchmarkRoundTrip(b *testing.B) {
	zc := newTestContext(b)
	ctx := b.Context()
	dealer, replies := echoPair(b, zc, ctx, "ipc://"+filepath.Join(b.TempDir(), "echo"))
	payload := bytes.Repeat([]byte("x"), 200)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if err := dealer.Send(ctx, [][]byte{nil, payload}); err != nil {
			b.Fatal(err)
		}
		<-replies
	}
}

// BenchmarkPipelined measures throughput with up to 256 round trips in
// flight.
func BenchmarkPipelined(b *testing.B) {
	zc := newTestContext(b)
	ctx := b.Context()
	dealer, replies := echoPair(b, zc, ctx, "ipc://"+filepath.Join(b.TempDir(), "echo"))
	payload := bytes.Repeat([]byte("x"), 200)
	const window = 256
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	inflight := 0
	for b.Loop() {
		for inflight >= window {
			<-replies
			inflight--
		}
		if err := dealer.Send(ctx, [][]byte{nil, payload}); err != nil {
			b.Fatal(err)
		}
		inflight++
	}
	for ; inflight > 0; inflight-- {
		<-replies
	}
}

// BenchmarkPushPull measures one-way throughput PUSH actor → PULL actor.
func BenchmarkPushPull(b *testing.B) {
	zc := newTestContext(b)
	ctx := b.Context()
	var received atomic.Int64
	pull, err := NewActor(ctx, zc, Config{
		Name: "pull", Type: zmq4.PULL,
		Endpoint: Endpoint{Bind: true, Specs: []string{"ipc://" + filepath.Join(b.TempDir(), "pp")}},
		Handler:  func(*Actor, [][]byte) { received.Add(1) },
	})
	if err != nil {
		b.Fatal(err)
	}
	push, err := NewActor(ctx, zc, Config{Name: "push", Type: zmq4.PUSH, Endpoint: Endpoint{Specs: []string{pull.Endpoint()}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		push.Close()
		pull.Close()
	})
	payload := [][]byte{bytes.Repeat([]byte("x"), 200)}
	b.ReportAllocs()
	b.SetBytes(200)
	var n int64
	for b.Loop() {
		if err := push.Send(ctx, payload); err != nil {
			b.Fatal(err)
		}
		n++
	}
	deadline := time.Now().Add(testTimeout)
	for received.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", received.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMessageInFlightAtStart starts receivers whose first message arrives
// while the actor is starting: the sender connects and queues it before the
// receiver binds. (An edge lost between the owner's first ZMQ_EVENTS read
// and the start of the ZMQ_FD watcher would leave the actor asleep; see
// watchSignal. The window is narrow, so this test rarely hits it; running
// the ROUTER/DEALER test a few hundred times did, before the fix.)
func TestMessageInFlightAtStart(t *testing.T) {
	zc := newTestContext(t)
	ctx := t.Context()
	dir := t.TempDir()
	for i := range 100 {
		spec := "ipc://" + filepath.Join(dir, strconv.Itoa(i))
		push := rawSocket(t, zc, zmq4.PUSH)
		// Retry the not-yet-bound endpoint often, so the message lands
		// during the actor's start.
		if err := push.SetReconnectIvl(time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := push.Connect(spec); err != nil {
			t.Fatal(err)
		}
		if _, err := push.SendBytes([]byte(strconv.Itoa(i)), 0); err != nil {
			t.Fatal(err)
		}
		got := newCollector(1)
		pull, err := NewActor(ctx, zc, Config{
			Name: "pull", Type: zmq4.PULL, Handler: got.handle,
			Endpoint: Endpoint{Bind: true, Specs: []string{spec}},
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got.ch:
			if string(m[0]) != strconv.Itoa(i) {
				t.Fatalf("got %q, want %d", m, i)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("start %d: message never delivered", i)
		}
		if err := pull.Close(); err != nil {
			t.Fatal(err)
		}
		push.Close()
	}
}
