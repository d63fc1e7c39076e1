//go:build e2e

package runner

import (
	"testing"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/stats"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
	"github.com/pushpin-go/pushpin/test/harness"
)

// zsock returns a ZeroMQ socket (default context, no linger) closed at
// the end of the test.
func zsock(t *testing.T, typ zmq4.Type) *zmq4.Socket {
	t.Helper()
	s, err := zmq4.NewSocket(typ)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func streamItem(channel, content string) publish.Item {
	return publish.Item{Channel: channel, HTTPStream: &publish.HTTPStreamFormat{Content: []byte(content)}}
}

// TestPublishInputs publishes to one held stream through each of the
// handler's inputs: the HTTP control API, a ZeroMQ PUSH, a ZeroMQ PUB
// connected to the handler's bound SUB, and the ZRPC command socket.
func TestPublishInputs(t *testing.T) {
	e := startOurs(t, nil, nil)
	e.origin.Handle("/p", harness.GripHold("stream", "pub", "text/plain", "open\n"))
	s := openStream(t, e.HTTPURL()+"/p")
	if _, err := s.ReadUntil("open\n", wait); err != nil {
		t.Fatal(err)
	}
	e.waitSubscribers(t, "pub", stats.ModeStream, 1)

	expect := func(what, want string) {
		t.Helper()
		if got, err := s.ReadUntil(want, wait); err != nil || got != want {
			t.Fatalf("%s: got %q, want %q (%v)", what, got, want, err)
		}
	}

	harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("pub", "http\n"))
	expect("HTTP control API", "http\n")

	harness.PublishZMQ(t, e.PushInSpec(), harness.HTTPStreamItem("pub", "push json\n"))
	expect("ZMQ PUSH (J)", "push json\n")
	push := zsock(t, zmq4.PUSH)
	if err := push.Connect(e.PushInSpec()); err != nil {
		t.Fatal(err)
	}
	it := streamItem("pub", "push tnetstring\n")
	if _, err := push.SendBytes(append([]byte("T"), it.AppendTnet(nil)...), 0); err != nil {
		t.Fatal(err)
	}
	expect("ZMQ PUSH (T)", "push tnetstring\n")

	// A PUB connecting to the handler's bound SUB: an XPUB, to see the
	// handler's subscription arrive before publishing.
	xpub := zsock(t, zmq4.XPUB)
	if err := xpub.SetRcvtimeo(wait); err != nil {
		t.Fatal(err)
	}
	if err := xpub.Connect(e.PushInSubSpec()); err != nil {
		t.Fatal(err)
	}
	waitSubscription(t, xpub, "pub")
	body := publish.Item{HTTPStream: &publish.HTTPStreamFormat{Content: []byte("pub bind\n")}}
	if _, err := xpub.SendMessage("pub", append([]byte("J"), body.AppendJSON(nil)...)); err != nil {
		t.Fatal(err)
	}
	expect("ZMQ PUB to the bound SUB", "pub bind\n")

	dealer := zsock(t, zmq4.DEALER)
	if err := dealer.SetRcvtimeo(wait); err != nil {
		t.Fatal(err)
	}
	if err := dealer.Connect(e.CommandSpec()); err != nil {
		t.Fatal(err)
	}
	req := zrpc.Request{ID: "1", Method: "publish", Args: publish.CommandArgs([]publish.Item{streamItem("pub", "command\n")})}
	if _, err := dealer.SendMessage("", req.Encode()); err != nil {
		t.Fatal(err)
	}
	frames, err := dealer.RecvMessageBytes(0)
	if err != nil {
		t.Fatalf("command reply: %v", err)
	}
	resp, err := zrpc.DecodeResponse(frames[len(frames)-1])
	if err != nil || !resp.Success || resp.ID != "1" {
		t.Fatalf("command reply: %+v %v", resp, err)
	}
	expect("command socket", "command\n")
}

// waitSubscription reads an XPUB's subscription messages until the one
// for topic arrives.
func waitSubscription(t *testing.T, xpub *zmq4.Socket, topic string) {
	t.Helper()
	for range 100 {
		b, err := xpub.RecvBytes(0)
		if err != nil {
			t.Fatalf("no subscription to %q from the handler: %v", topic, err)
		}
		if len(b) > 0 && b[0] == 1 && string(b[1:]) == topic {
			return
		}
	}
	t.Fatalf("no subscription to %q among 100 messages", topic)
}

// TestPublishSubConnect: with push_in_sub_connect=true the handler's SUB
// connects to the publisher's bound PUB.
func TestPublishSubConnect(t *testing.T) {
	xpub := zsock(t, zmq4.XPUB)
	if err := xpub.SetRcvtimeo(wait); err != nil {
		t.Fatal(err)
	}
	e := startOurs(t, nil, func(c *harness.Config) {
		// Bind the port the harness allocated for the handler's SUB.
		if err := xpub.Bind(c.PushInSubSpec()); err != nil {
			t.Fatal(err)
		}
		c.Extra = map[string]map[string]string{"handler": {"push_in_sub_connect": "true"}}
	})
	e.origin.Handle("/c", harness.GripHold("stream", "conn", "text/plain", "open\n"))
	s := openStream(t, e.HTTPURL()+"/c")
	if _, err := s.ReadUntil("open\n", wait); err != nil {
		t.Fatal(err)
	}
	waitSubscription(t, xpub, "conn")
	body := publish.Item{HTTPStream: &publish.HTTPStreamFormat{Content: []byte("pub connect\n")}}
	if _, err := xpub.SendMessage("conn", body.AppendTnet(nil)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadUntil("pub connect\n", wait); err != nil || got != "pub connect\n" {
		t.Fatalf("PUB with a connecting SUB: %q %v", got, err)
	}
}
