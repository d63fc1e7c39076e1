package zrpc

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// The get-zmq-uris exchange captured against pushpin-handler (reference §4.1).
const (
	verifiedRequest  = "40:2:id,7:probe-1,6:method,12:get-zmq-uris,}"
	verifiedResponse = "161:2:id,7:probe-1,5:value,116:7:command,21:tcp://127.0.0.1:25563,11:publish-sub,21:tcp://127.0.0.1:25562,12:publish-pull,21:tcp://127.0.0.1:25560,}7:success,4:true!}"
)

func TestVerifiedGetZMQURIs(t *testing.T) {
	req := Request{ID: "probe-1", Method: MethodGetZMQURIs}
	if got := string(req.Encode()); got != verifiedRequest {
		t.Fatalf("request = %q, want %q", got, verifiedRequest)
	}
	dreq, err := DecodeRequest([]byte(verifiedRequest))
	if err != nil || dreq.ID != "probe-1" || dreq.Method != "get-zmq-uris" || !dreq.Args.IsZero() {
		t.Fatalf("DecodeRequest = %+v, %v", dreq, err)
	}

	resp, err := DecodeResponse([]byte(verifiedResponse))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != "probe-1" || !resp.Success || resp.Err() != nil {
		t.Fatalf("response = %+v", resp)
	}
	uris, err := ParseZMQURIs(resp.Value)
	if err != nil {
		t.Fatal(err)
	}
	want := ZMQURIs{Command: "tcp://127.0.0.1:25563", PublishPull: "tcp://127.0.0.1:25560", PublishSub: "tcp://127.0.0.1:25562"}
	if uris != want {
		t.Fatalf("uris = %+v, want %+v", uris, want)
	}
	// Our encoding differs from the capture only in dict order (Qt hash
	// order on the wire): same length, same value.
	enc := Success("probe-1", want.Value()).Encode()
	if len(enc) != len(verifiedResponse) {
		t.Fatalf("re-encoded length %d, want %d: %q", len(enc), len(verifiedResponse), enc)
	}
	a, _ := tnetstring.Decode(enc)
	b, _ := tnetstring.Decode([]byte(verifiedResponse))
	if !a.Equal(b) {
		t.Fatalf("re-encoded %q differs from capture", enc)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		enc  string
	}{
		{"method only", Request{Method: "recover"}, dict("6:method,7:recover,")},
		{"with args", Request{ID: "1", Method: "refresh", Args: tnetstring.D("cid", tnetstring.S("abc"))},
			dict("2:id,1:1,6:method,7:refresh,4:args," + dict("3:cid,3:abc,"))},
		{"empty args dict", Request{ID: "x", Method: "m", Args: tnetstring.Value{Kind: tnetstring.Dict}},
			dict("2:id,1:x,6:method,1:m,4:args,0:}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := tt.req.Encode()
			if string(enc) != tt.enc {
				t.Fatalf("Encode = %q, want %q", enc, tt.enc)
			}
			got, err := DecodeRequest(enc)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.req.ID || got.Method != tt.req.Method || !got.Args.Equal(tt.req.Args) {
				t.Fatalf("round trip = %+v, want %+v", got, tt.req)
			}
		})
	}
}

func TestResponseRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		resp Response
		enc  string
	}{
		{"success null", Success("1", tnetstring.Value{}), dict("2:id,1:1,7:success,4:true!5:value,0:~")},
		{"success value", Success("1", tnetstring.D("accepted", tnetstring.T(true))),
			dict("2:id,1:1,7:success,4:true!5:value," + dict("8:accepted,4:true!"))},
		{"failure bare", Failure("2", CondMethodNotFound, tnetstring.Value{}),
			dict("2:id,1:2,7:success,5:false!9:condition,16:method-not-found,")},
		{"failure text", FailureText("3", CondBadFormat, "bad header"),
			dict("2:id,1:3,7:success,5:false!9:condition,10:bad-format,5:value,10:bad header,")},
		{"no id", Failure("", CondBadRequest, tnetstring.Value{}), dict("7:success,5:false!9:condition,11:bad-request,")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := tt.resp.Encode()
			if string(enc) != tt.enc {
				t.Fatalf("Encode = %q, want %q", enc, tt.enc)
			}
			got, err := DecodeResponse(enc)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.resp
			if want.Success && want.Value.IsZero() {
				want.Value = tnetstring.N()
			}
			if got.ID != want.ID || got.Success != want.Success || got.Condition != want.Condition || !got.Value.Equal(want.Value) {
				t.Fatalf("round trip = %+v, want %+v", got, want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	reqTests := []struct{ name, in, msg string }{
		{"empty", "", "unexpected end"},
		{"not a dict", "3:abc,", "not a dict"},
		{"trailing", "0:}x", "trailing"},
		{"no method", "0:}", "no method"},
		{"method int", dict("6:method,1:1#"), "\"method\" must be of type string, not int"},
		{"id int", dict("2:id,1:1#6:method,1:m,"), "\"id\" must be of type string, not int"},
		{"args list", dict("6:method,1:m,4:args,0:]"), "\"args\" must be of type dict, not list"},
		{"truncated", "40:2:id,7:probe-1,6:method,12:get-zmq-uris}", "exceeds"},
	}
	for _, tt := range reqTests {
		t.Run("request "+tt.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tt.in))
			checkInvalid(t, err, tt.msg)
		})
	}
	respTests := []struct{ name, in, msg string }{
		{"no success", "0:}", "no success"},
		{"success string", dict("7:success,3:yes,"), "\"success\" must be of type bool, not string"},
		{"success without value", dict("7:success,4:true!"), "has no value"},
		{"failure without condition", dict("7:success,5:false!"), "no condition"},
		{"condition int", dict("7:success,5:false!9:condition,1:1#"), "\"condition\" must be of type string, not int"},
		{"id list", dict("2:id,0:]7:success,4:true!"), "\"id\" must be of type string, not list"},
	}
	for _, tt := range respTests {
		t.Run("response "+tt.name, func(t *testing.T) {
			_, err := DecodeResponse([]byte(tt.in))
			checkInvalid(t, err, tt.msg)
		})
	}
}

// dict wraps a dict payload in its length prefix and type byte.
func dict(payload string) string { return strconv.Itoa(len(payload)) + ":" + payload + "}" }

func checkInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("decode succeeded, want error containing %q", msg)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not mention %q", err, msg)
	}
}

func TestDuplicateKeyLastWins(t *testing.T) {
	r, err := DecodeRequest([]byte(dict("6:method,1:a,6:method,1:b,")))
	if err != nil || r.Method != "b" {
		t.Fatalf("got %+v, %v", r, err)
	}
}

func TestConditionErrors(t *testing.T) {
	err := FailureText("1", CondBadFormat, "Grip-Hold must be set").Err()
	if !errors.Is(err, ErrBadFormat) || errors.Is(err, ErrBadRequest) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	if err.Error() != "zrpc: bad-format: Grip-Hold must be set" {
		t.Fatalf("Error() = %q", err)
	}
	var ce *ConditionError
	if !errors.As(err, &ce) || ce.Condition != CondBadFormat {
		t.Fatalf("errors.As = %v", ce)
	}
	if Success("1", tnetstring.N()).Err() != nil {
		t.Fatal("success has an error")
	}
	if ErrItemNotFound.Error() != "zrpc: item-not-found" {
		t.Fatalf("Error() = %q", ErrItemNotFound)
	}
}

func TestRequestArgsMustBeDict(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Encode with list args did not panic")
		}
	}()
	Request{Method: "m", Args: tnetstring.L()}.Encode()
}

func TestClientFraming(t *testing.T) {
	frames := ClientMessage([]byte(verifiedRequest))
	if len(frames) != 2 || len(frames[0]) != 0 || string(frames[1]) != verifiedRequest {
		t.Fatalf("ClientMessage = %q", frames)
	}
	msg, err := ParseClientMessage([][]byte{nil, []byte("x")})
	if err != nil || string(msg) != "x" {
		t.Fatalf("ParseClientMessage = %q, %v", msg, err)
	}
	for _, bad := range [][][]byte{nil, {[]byte("")}, {[]byte("a"), []byte("x")}, {nil, []byte("x"), []byte("y")}} {
		if _, err := ParseClientMessage(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseClientMessage(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestServerFraming(t *testing.T) {
	tests := []struct {
		name   string
		frames [][]byte
		env    [][]byte
		msg    string
		err    string
	}{
		{"dealer client", [][]byte{[]byte("\x00k\x8bEg"), {}, []byte("req")}, [][]byte{[]byte("\x00k\x8bEg")}, "req", ""},
		{"req through broker", [][]byte{[]byte("hop2"), []byte("hop1"), {}, []byte("req")}, [][]byte{[]byte("hop2"), []byte("hop1")}, "req", ""},
		{"no delimiter", [][]byte{[]byte("id"), []byte("req")}, nil, "", "no empty delimiter"},
		{"no routing id", [][]byte{{}, []byte("req")}, nil, "", "no routing id"},
		{"two content frames", [][]byte{[]byte("id"), {}, []byte("a"), []byte("b")}, nil, "", "2 frames after"},
		{"nothing after delimiter", [][]byte{[]byte("id"), {}}, nil, "", "0 frames after"},
		{"empty", nil, nil, "", "no empty delimiter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, msg, err := ParseServerMessage(tt.frames)
			if tt.err != "" {
				checkInvalid(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(msg) != tt.msg || len(env) != len(tt.env) {
				t.Fatalf("got env %q msg %q", env, msg)
			}
			for i := range env {
				if !bytes.Equal(env[i], tt.env[i]) {
					t.Fatalf("env[%d] = %q, want %q", i, env[i], tt.env[i])
				}
			}
			reply := env.Reply([]byte("resp"))
			want := append(append([][]byte{}, tt.env...), []byte{}, []byte("resp"))
			if len(reply) != len(want) {
				t.Fatalf("reply = %q", reply)
			}
			for i := range want {
				if !bytes.Equal(reply[i], want[i]) {
					t.Fatalf("reply[%d] = %q, want %q", i, reply[i], want[i])
				}
			}
		})
	}
}

func TestCommandArgs(t *testing.T) {
	ca := ConncheckArgs{IDs: []string{"condure:1-0-0", "e2a3a753-2f2e-42ed-aaa2-dc23cf3646f2"}}
	got, err := ParseConncheckArgs(ca.Value())
	if err != nil || len(got.IDs) != 2 || got.IDs[1] != ca.IDs[1] {
		t.Fatalf("conncheck round trip = %+v, %v", got, err)
	}
	if ids, err := ParseConncheckResult(ConncheckResult([]string{"a"})); err != nil || len(ids) != 1 || ids[0] != "a" {
		t.Fatalf("conncheck result = %v, %v", ids, err)
	}
	for _, bad := range []tnetstring.Value{{}, tnetstring.D("ids", tnetstring.S("a")), tnetstring.D("ids", tnetstring.L(tnetstring.I(1)))} {
		if _, err := ParseConncheckArgs(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseConncheckArgs(%v) = %v", bad, err)
		}
	}

	for _, ra := range []RefreshArgs{{CID: "c1"}, {Channel: "news"}} {
		got, err := ParseRefreshArgs(ra.Value())
		if err != nil || got != ra {
			t.Fatalf("refresh round trip = %+v, %v", got, err)
		}
	}
	if got, _ := ParseRefreshArgs(tnetstring.D("channel", tnetstring.S("x"), "cid", tnetstring.S("c"))); got.CID != "c" || got.Channel != "" {
		t.Fatalf("cid must win over channel, got %+v", got)
	}
	for _, bad := range []tnetstring.Value{{}, tnetstring.D("cid", tnetstring.I(1)), tnetstring.D("channel", tnetstring.N())} {
		if _, err := ParseRefreshArgs(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRefreshArgs(%v) = %v", bad, err)
		}
	}

	if u, err := ParseZMQURIs(ZMQURIs{Command: "ipc://x"}.Value()); err != nil || u.Command != "ipc://x" || u.PublishSub != "" {
		t.Fatalf("zmq uris = %+v, %v", u, err)
	}
	if _, err := ParseZMQURIs(tnetstring.D("command", tnetstring.I(1))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ParseZMQURIs accepted an int")
	}
	if _, err := ParseZMQURIs(tnetstring.N()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ParseZMQURIs accepted null")
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{verifiedRequest, dict("6:method,7:recover,"), dict("2:id,1:1,6:method,7:refresh,4:args," + dict("3:cid,3:abc,")),
		dict("6:method,1:1#"), "0:}", dict("6:method,1:m,4:args,0:]")} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		r2, err := DecodeRequest(r.Encode())
		if err != nil {
			t.Fatalf("re-decode failed: %v", err)
		}
		if r2.ID != r.ID || r2.Method != r.Method || !r2.Args.Equal(r.Args) {
			t.Fatalf("round trip changed %+v to %+v", r, r2)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{verifiedResponse, dict("2:id,1:1,7:success,4:true!5:value,0:~"),
		dict("2:id,1:3,7:success,5:false!9:condition,10:bad-format,5:value,10:bad header,"), dict("7:success,4:true!")} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResponse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		r2, err := DecodeResponse(r.Encode())
		if err != nil {
			t.Fatalf("re-decode failed: %v", err)
		}
		if r2.ID != r.ID || r2.Success != r.Success || r2.Condition != r.Condition || !r2.Value.Equal(r.Value) {
			t.Fatalf("round trip changed %+v to %+v", r, r2)
		}
	})
}

func FuzzParseServerMessage(f *testing.F) {
	f.Add([]byte("id"), []byte(""), []byte("req"))
	f.Add([]byte(""), []byte("x"), []byte(""))
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		env, msg, err := ParseServerMessage([][]byte{a, b, c})
		if err != nil {
			return
		}
		reply := env.Reply(msg)
		if len(reply) != 3 || len(reply[1]) != 0 {
			t.Fatalf("reply %q does not echo a one-hop envelope", reply)
		}
	})
}

// Responses captured from Debian's pushpin-handler 1.36 (command, inspect
// and accept sockets) with a DEALER probe.
func TestCapturedResponses(t *testing.T) {
	tests := []struct {
		raw       string
		id        string
		success   bool
		condition string
		value     string // tnetstring.Value.String() of the value; "" = absent
	}{
		{"55:2:id,2:c2,7:success,5:false!9:condition,11:bad-request,}", "c2", false, CondBadRequest, ""},
		{"60:2:id,2:c5,7:success,5:false!9:condition,16:method-not-found,}", "c5", false, CondMethodNotFound, ""},
		{"38:2:id,2:c6,7:success,4:true!5:value,0:~}", "c6", true, "", "null"},
		{"122:2:id,2:c7,7:success,5:false!9:condition,11:bad-request,5:value,55:Invalid format: object contains 'items' with wrong type,}",
			"c7", false, CondBadRequest, `"Invalid format: object contains 'items' with wrong type"`},
		// A request without id gets a response without id.
		{"28:7:success,4:true!5:value,0:~}", "", true, "", "null"},
		{"125:2:id,2:i1,7:success,4:true!5:value,86:8:no-proxy,5:false!11:sharing-key,48:auto|http://127.0.0.1:27999/link2|lk; last-id=p1,}}",
			"i1", true, "", `{"no-proxy":false,"sharing-key":"auto|http://127.0.0.1:27999/link2|lk; last-id=p1"}`},
		{"120:2:id,2:a1,7:success,5:false!9:condition,10:bad-format,5:value,54:Grip-Hold must be set to either 'response' or 'stream',}",
			"a1", false, CondBadFormat, `"Grip-Hold must be set to either 'response' or 'stream'"`},
		{"57:2:id,2:a3,7:success,4:true!5:value,18:8:accepted,4:true!}}", "a3", true, "", `{"accepted":true}`},
	}
	for _, tt := range tests {
		r, err := DecodeResponse([]byte(tt.raw))
		if err != nil {
			t.Fatalf("DecodeResponse(%q): %v", tt.raw, err)
		}
		val := ""
		if !r.Value.IsZero() {
			val = r.Value.String()
		}
		if r.ID != tt.id || r.Success != tt.success || r.Condition != tt.condition || val != tt.value {
			t.Errorf("DecodeResponse(%q) = %+v", tt.raw, r)
		}
		// Re-encoding yields the same value and length.
		enc := r.Encode()
		a, _ := tnetstring.Decode(enc)
		b, _ := tnetstring.Decode([]byte(tt.raw))
		if len(enc) != len(tt.raw) || !a.Equal(b) {
			t.Errorf("re-encoded %q, captured %q", enc, tt.raw)
		}
	}
}
