//go:build e2e

package handler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
	"github.com/pushpin-go/pushpin/test/harness"
)

func zsock(t *testing.T, typ zmq4.Type) *zmq4.Socket {
	t.Helper()
	s, err := zmq4.NewSocket(typ)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetLinger(0)
	t.Cleanup(func() { s.Close() })
	return s
}

func streamItem(channel, content string) publish.Item {
	return publish.Item{Channel: channel, HTTPStream: &publish.HTTPStreamFormat{Content: []byte(content)}}
}

// TestPublishZMQ publishes over PUSH (J, T, bare tnetstring), the command
// socket and a PUB connecting to the handler's bound SUB.
func TestPublishZMQ(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		e.origin.Handle("/z", harness.GripHold("stream", "z", "text/plain", ""))
		s := openStream(t, e, "/z")
		settle(t, e, "z")

		push := zsock(t, zmq4.PUSH)
		if err := push.Connect(e.PushInSpec()); err != nil {
			t.Fatal(err)
		}
		it := streamItem("z", "json\n")
		push.SendBytes(append([]byte("J"), it.AppendJSON(nil)...), 0)
		it = streamItem("z", "tnet\n")
		push.SendBytes(append([]byte("T"), it.AppendTnet(nil)...), 0)
		it = streamItem("z", "bare\n")
		push.SendBytes(it.AppendTnet(nil), 0)
		if _, err := s.ReadUntil("bare\n", wait); err != nil {
			t.Fatalf("push: %v", err)
		}

		dealer := zsock(t, zmq4.DEALER)
		if err := dealer.Connect(e.CommandSpec()); err != nil {
			t.Fatal(err)
		}
		req := zrpc.Request{ID: "c1", Method: "publish", Args: publish.CommandArgs([]publish.Item{streamItem("z", "command\n")})}
		dealer.SendMessage("", req.Encode())
		_ = dealer.SetRcvtimeo(wait)
		frames, err := dealer.RecvMessageBytes(0)
		if err != nil {
			t.Fatalf("command reply: %v", err)
		}
		resp, err := zrpc.DecodeResponse(frames[len(frames)-1])
		if err != nil || !resp.Success {
			t.Fatalf("command reply: %v %+v", err, resp)
		}
		got1, err := s.ReadUntil("command\n", wait)
		if err != nil {
			t.Fatalf("command: %v", err)
		}

		// PUB → bound SUB: an XPUB sees the handler's subscription first.
		xpub := zsock(t, zmq4.XPUB)
		if err := xpub.Connect(e.PushInSubSpec()); err != nil {
			t.Fatal(err)
		}
		_ = xpub.SetRcvtimeo(wait)
		sub, err := xpub.RecvBytes(0)
		if err != nil {
			t.Fatalf("no subscription from the handler: %v", err)
		}
		it = publish.Item{HTTPStream: &publish.HTTPStreamFormat{Content: []byte("pub\n")}}
		xpub.SendMessage("z", append([]byte("J"), it.AppendJSON(nil)...))
		got2, err := s.ReadUntil("pub\n", wait)
		if err != nil {
			t.Fatalf("pub: %v", err)
		}
		res[implName(t)] = fmt.Sprintf("%q %q %q", got1, sub, got2)
	})
	res.check(t)
}

// TestPublishSubConnect: push_in_sub_connect=true, the handler connects to
// our PUB and subscribes only channels that have subscribers.
func TestPublishSubConnect(t *testing.T) {
	res := results{}
	var xpub *zmq4.Socket
	configure := func(c *harness.Config) {
		// Our PUB (an XPUB, to see subscriptions) binds the port the
		// harness allocated for the handler's SUB; the handler connects.
		xpub = zsock(t, zmq4.XPUB)
		if err := xpub.Bind(c.PushInSubSpec()); err != nil {
			t.Fatal(err)
		}
		_ = xpub.SetRcvtimeo(wait)
		c.Extra = map[string]map[string]string{"handler": {"push_in_sub_connect": "true"}}
	}
	both(t, configure, func(t *testing.T, e *env) {
		e.origin.Handle("/c", harness.GripHold("stream", "conn", "text/plain", ""))
		s := openStream(t, e, "/c")
		sub, err := xpub.RecvBytes(0)
		if err != nil {
			t.Fatalf("no subscription: %v", err)
		}
		settle(t, e, "conn")
		it := publish.Item{HTTPStream: &publish.HTTPStreamFormat{Content: []byte("via connect\n")}}
		xpub.SendMessage("conn", it.AppendTnet(nil))
		got, err := s.ReadUntil("via connect\n", wait)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		s.Close()
		// The subscription goes away with the last subscriber.
		deadline := time.Now().Add(wait)
		var unsub []byte
		for time.Now().Before(deadline) {
			b, err := xpub.RecvBytes(0)
			if err == nil && len(b) > 0 && b[0] == 0 {
				unsub = b
				break
			}
		}
		res[implName(t)] = fmt.Sprintf("%q %q %q", sub, got, unsub)
	})
	res.check(t)
}

// TestCommandSocket covers get-zmq-uris, recover and unknown methods.
func TestCommandSocket(t *testing.T) {
	res := results{}
	both(t, nil, func(t *testing.T, e *env) {
		dealer := zsock(t, zmq4.DEALER)
		if err := dealer.Connect(e.CommandSpec()); err != nil {
			t.Fatal(err)
		}
		_ = dealer.SetRcvtimeo(wait)
		call := func(method string, args tnetstring.Value) string {
			req := zrpc.Request{ID: "x", Method: method, Args: args}
			dealer.SendMessage("", req.Encode())
			frames, err := dealer.RecvMessageBytes(0)
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			resp, err := zrpc.DecodeResponse(frames[len(frames)-1])
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			return fmt.Sprintf("%v %s %v", resp.Success, resp.Condition, resp.Value)
		}
		out := call("get-zmq-uris", tnetstring.Value{})
		out += " | " + call("recover", tnetstring.Value{})
		out += " | " + call("nope", tnetstring.Value{})
		out += " | " + call("publish", tnetstring.D("items", tnetstring.L(tnetstring.D("channel", tnetstring.S("x")))))
		out += " | " + call("conncheck", tnetstring.D("ids", tnetstring.L(tnetstring.S("condure:nope"))))
		out += " | " + call("refresh", tnetstring.D("cid", tnetstring.S("nope")))
		res[implName(t)] = out
	})
	if len(res) == 2 {
		// get-zmq-uris names the instance's own ports; compare the rest.
		for k, v := range res {
			if i := indexOf(v, " | "); i >= 0 {
				v = v[i:]
			}
			// Beyond Pushpin, our error text names the bad item.
			res[k] = strings.Replace(v, " (item 0)", "", 1)
		}
	}
	res.check(t)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
