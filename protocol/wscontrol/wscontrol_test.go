package wscontrol

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

const cid = "e2a3a753-2f2e-42ed-aaa2-dc23cf3646f2"

func wire(t testing.TB, js string) []byte {
	t.Helper()
	v, err := tnetstring.FromJSON([]byte(js))
	if err != nil {
		t.Fatalf("FromJSON(%s): %v", js, err)
	}
	return tnetstring.Encode(v)
}

// tn wraps a payload in its length prefix and the given type byte.
func tn(payload string, kind byte) string {
	return strconv.Itoa(len(payload)) + ":" + payload + string(kind)
}

func tnl(payload string) string { return tn(payload, ']') }

func item(typ Type) Item { return Item{CID: []byte(cid), Type: typ} }

func TestVerifiedPackets(t *testing.T) {
	here := item(Here)
	here.URI = "ws://127.0.0.1:27999/wsoh"
	here.Route = "*,*,*,/wsoh"
	here.SetTTL(60)
	grip := item(Grip)
	grip.ReqID = []byte("0")
	grip.Message = []byte(`{"type": "subscribe", "channel": "test"}`)
	ack := item(Ack)
	ack.ReqID = []byte("0")
	closeIt := item(Close)
	closeIt.SetCode(4005)
	closeIt.Reason = "bye now"

	tests := []struct {
		name string
		js   string
		want Item
	}{
		// reference §4.5 (WS-over-HTTP session) and §5.7 (ws-message close).
		{"here", `{"items":[{"cid":"` + cid + `","type":"here","ttl":60,"uri":"ws://127.0.0.1:27999/wsoh","route":"*,*,*,/wsoh"}]}`, here},
		{"grip", `{"items":[{"cid":"` + cid + `","type":"grip","req-id":"0","message":"{\"type\": \"subscribe\", \"channel\": \"test\"}"}]}`, grip},
		{"ack", `{"items":[{"cid":"` + cid + `","type":"ack","req-id":"0"}]}`, ack},
		{"gone", `{"items":[{"cid":"` + cid + `","type":"gone"}]}`, item(Gone)},
		{"close", `{"items":[{"cid":"` + cid + `","type":"close","code":4005,"reason":"bye now"}]}`, closeIt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := wire(t, tt.js)
			var p Packet
			if err := Decode(in, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != 1 || !reflect.DeepEqual(p.Items[0], tt.want) {
				t.Fatalf("Decode = %+v, want %+v", p.Items, tt.want)
			}
			// Our encoding has the same keys and values.
			a, _ := tnetstring.Decode(p.Encode())
			b, _ := tnetstring.Decode(in)
			if !a.Equal(b) {
				t.Fatalf("re-encoded %v, captured %v", a, b)
			}
		})
	}
}

func TestAllFieldsRoundTrip(t *testing.T) {
	send := item(Send)
	send.ContentType = ContentBinary
	send.Message = []byte{0, 0xff, 'x'}
	send.Queue = true
	send.ReqID = []byte("17")
	kas := item(KeepAliveSetup)
	kas.SetTimeout(55)
	kas.KeepAliveMode = KeepAliveInterval
	here := item(Here)
	here.URI = "wss://example.com/ws?x=1"
	here.Route = "myroute"
	here.SeparateStats = true
	here.ChannelPrefix = "pre-"
	here.SetTTL(60)
	sub := item(Subscribe)
	sub.Channel = "implicit"
	sub.ReqID = []byte("1")
	empty := item(Send)
	empty.ContentType = ContentPing
	empty.Message = []byte{}
	in := Packet{Items: []Item{send, kas, here, sub, item(NeedKeepAlive), item(Cancel), item(Detach), item(KeepAlive), empty}}
	var out Packet
	if err := Decode(in.Encode(), &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v", in, out)
	}
	// Field order follows Pushpin's encoder; unset fields are omitted.
	got := string((&Packet{Items: []Item{send}}).Encode())
	want := "3:cid,36:" + cid + ",4:type,4:send,6:req-id,2:17,12:content-type,6:binary,7:message,3:\x00\xffx,5:queue,4:true!"
	if !strings.Contains(got, want) {
		t.Fatalf("send item encodes as %q", got)
	}
	if got := string((&Packet{}).Encode()); got != "11:5:items,0:]}" {
		t.Fatalf("empty packet = %q", got)
	}
}

func TestDecodeNormalisation(t *testing.T) {
	var p Packet
	in := wire(t, `{"items":[{"cid":"c","type":"keep-alive","ttl":-5,"timeout":-1,"content-type":"","x-unknown":[1]}],"other":1}`)
	if err := Decode(in, &p); err != nil {
		t.Fatal(err)
	}
	it := p.Items[0]
	if it.TTL != 0 || it.Has&HasTTL == 0 || it.Timeout != 0 || it.Has&HasTimeout == 0 || it.ContentType != "" {
		t.Fatalf("normalised item = %+v", it)
	}
	// A repeated key takes its last value.
	if err := Decode([]byte(tn("5:items,"+tnl(tn("3:cid,1:a,4:type,4:gone,3:cid,1:b,", '}')), '}')), &p); err != nil {
		t.Fatal(err)
	}
	if string(p.Items[0].CID) != "b" {
		t.Fatalf("cid = %q", p.Items[0].CID)
	}
	// Decode reuses the item slice.
	p.Items = make([]Item, 0, 4)
	base := &p.Items[:1][0]
	if err := Decode(wire(t, `{"items":[{"cid":"c","type":"gone"}]}`), &p); err != nil || &p.Items[0] != base {
		t.Fatalf("item slice not reused (%v)", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, js, raw, msg string }{
		{name: "not a dict", raw: "0:]", msg: "packet is a list, not a dict"},
		{name: "truncated", raw: "20:5:items,", msg: "exceeds"},
		{name: "trailing", raw: "11:5:items,0:]}x", msg: "1 trailing bytes"},
		{name: "no items", js: `{}`, msg: "packet has no items"},
		{name: "items dict", js: `{"items":{}}`, msg: "items must be of type list, not dict"},
		{name: "item string", js: `{"items":["x"]}`, msg: "items[0] must be of type dict, not string"},
		{name: "no cid", js: `{"items":[{"type":"gone"}]}`, msg: "items[0] has no cid"},
		{name: "cid int", js: `{"items":[{"cid":1,"type":"gone"}]}`, msg: "items[0].cid must be of type string, not int"},
		{name: "no type", js: `{"items":[{"cid":"c"}]}`, msg: "items[0] has no type"},
		{name: "unknown type", js: `{"items":[{"cid":"c","type":"gone"},{"cid":"c","type":"bogus"}]}`, msg: `items[1] has unknown type "bogus"`},
		{name: "type null", js: `{"items":[{"cid":"c","type":null}]}`, msg: "items[0].type must be of type string, not null"},
		{name: "queue string", js: `{"items":[{"cid":"c","type":"send","queue":"true"}]}`, msg: "items[0].queue must be of type bool, not string"},
		{name: "code string", js: `{"items":[{"cid":"c","type":"close","code":"4000"}]}`, msg: "items[0].code must be of type int, not string"},
		{name: "code float", js: `{"items":[{"cid":"c","type":"close","code":1.5}]}`, msg: "items[0].code must be of type int, not float"},
		{name: "ttl overflow", js: `{"items":[{"cid":"c","type":"here","ttl":4294967296}]}`, msg: "items[0].ttl: 4294967296 out of range"},
		{name: "message int", js: `{"items":[{"cid":"c","type":"grip","message":5}]}`, msg: "items[0].message must be of type string, not int"},
		{name: "separate-stats int", js: `{"items":[{"cid":"c","type":"here","separate-stats":1}]}`, msg: "items[0].separate-stats must be of type bool"},
		{name: "keep-alive-mode list", js: `{"items":[{"cid":"c","type":"keep-alive-setup","keep-alive-mode":[]}]}`, msg: "items[0].keep-alive-mode must be of type string"},
		{name: "bad inner element", raw: tn("5:items,"+tnl(tn("3:cid,1:c,1:x,", '}')), '}'), msg: "items[0]: tnetstring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.raw)
			if tt.js != "" {
				in = wire(t, tt.js)
			}
			var p Packet
			err := Decode(in, &p)
			if err == nil {
				t.Fatalf("Decode(%q) succeeded: %+v", in, p.Items)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q, want ErrInvalid mentioning %q", err, tt.msg)
			}
		})
	}
}

func TestTypeNames(t *testing.T) {
	for typ := Here; typ <= Ack; typ++ {
		got, ok := parseType([]byte(typ.String()))
		if !ok || got != typ {
			t.Errorf("parseType(%q) = %v, %v", typ.String(), got, ok)
		}
	}
	if Type(0).String() != "type(0)" || Type(200).String() != "type(200)" {
		t.Error("invalid types must not have wire names")
	}
}

func TestParseControlMessage(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		in   string
		want ControlMessage
		err  string
	}{
		// Accepted messages (reference §5.7).
		{name: "subscribe", in: `{"type": "subscribe", "channel": "test"}`, want: ControlMessage{Type: MsgSubscribe, Channel: "test"}},
		{name: "subscribe filters", in: `{"type":"subscribe","channel":"c","filters":["skip-self","skip-users"]}`,
			want: ControlMessage{Type: MsgSubscribe, Channel: "c", Filters: []string{"skip-self", "skip-users"}}},
		{name: "unsubscribe", in: `{"type":"unsubscribe","channel":"c","filters":7}`, want: ControlMessage{Type: MsgUnsubscribe, Channel: "c"}},
		{name: "detach", in: `{"type":"detach"}`, want: ControlMessage{Type: MsgDetach}},
		{name: "session", in: `{"type":"session","id":"s1"}`, want: ControlMessage{Type: MsgSession, SessionID: "s1"}},
		{name: "session clear", in: `{"type":"session"}`, want: ControlMessage{Type: MsgSession}},
		{name: "set-meta", in: `{"type":"set-meta","name":"user","value":"alice"}`, want: ControlMessage{Type: MsgSetMeta, MetaName: "user", MetaValue: str("alice")}},
		{name: "set-meta empty value", in: `{"type":"set-meta","name":"user","value":""}`, want: ControlMessage{Type: MsgSetMeta, MetaName: "user", MetaValue: str("")}},
		{name: "set-meta delete", in: `{"type":"set-meta","name":"user"}`, want: ControlMessage{Type: MsgSetMeta, MetaName: "user"}},
		{name: "keep-alive", in: `{"type":"keep-alive","content":"{}","timeout":30,"mode":"interval"}`,
			want: ControlMessage{Type: MsgKeepAlive, ContentType: ContentText, Content: []byte("{}"), Timeout: 30, Mode: "interval"}},
		{name: "keep-alive disable", in: `{"type":"keep-alive","timeout":"x"}`, want: ControlMessage{Type: MsgKeepAlive, ContentType: ContentText}},
		{name: "timeout not a number reads 0", in: `{"type":"keep-alive","content":"x","timeout":"abc"}`,
			want: ControlMessage{Type: MsgKeepAlive, ContentType: ContentText, Content: []byte("x")}},
		{name: "content-bin with spaces", in: `{"type":"keep-alive","content-bin":"A A E"}`,
			want: ControlMessage{Type: MsgKeepAlive, ContentType: ContentText, Content: []byte{0, 1}}},
		{name: "keep-alive bin stays text", in: `{"type":"keep-alive","content-bin":"AAH/"}`,
			want: ControlMessage{Type: MsgKeepAlive, ContentType: ContentText, Content: []byte{0, 1, 0xff}}},
		{name: "keep-alive bin wins", in: `{"type":"keep-alive","message-type":"binary","content":"no","content-bin":"A AE"}`,
			want: ControlMessage{Type: MsgKeepAlive, ContentType: ContentBinary, Content: []byte{0, 1}}},
		{name: "keep-alive ping empty", in: `{"type":"keep-alive","message-type":"ping","content":""}`,
			want: ControlMessage{Type: MsgKeepAlive, ContentType: ContentPing, Content: []byte{}}},
		{name: "send-delayed", in: `{"type":"send-delayed","content":"hi","timeout":2.6,"mode":5}`,
			want: ControlMessage{Type: MsgSendDelayed, ContentType: ContentText, Content: []byte("hi"), Timeout: 3}},
		{name: "timeout numeric string", in: `{"type":"send-delayed","content":"hi","timeout":" 7 "}`,
			want: ControlMessage{Type: MsgSendDelayed, ContentType: ContentText, Content: []byte("hi"), Timeout: 7}},
		{name: "timeout bool", in: `{"type":"send-delayed","content":"hi","timeout":true}`,
			want: ControlMessage{Type: MsgSendDelayed, ContentType: ContentText, Content: []byte("hi"), Timeout: 1}},
		{name: "flush-delayed", in: `{"type":"flush-delayed"}`, want: ControlMessage{Type: MsgFlushDelayed}},
		{name: "array", in: `[1]`, err: "grip control packet is not an object"},

		// Rejected, with the handler's texts.
		{name: "close", in: `{"type":"close"}`, err: "'type' contains unknown value: close"},
		{name: "no type", in: `{"channel":"c"}`, err: "grip control object does not contain 'type'"},
		{name: "type int", in: `{"type":1}`, err: "grip control object contains 'type' with wrong type"},
		{name: "type null", in: `{"type":null}`, err: "grip control object contains 'type' with wrong type"},
		{name: "no channel", in: `{"type":"subscribe"}`, err: "grip control object does not contain 'channel'"},
		{name: "channel null", in: `{"type":"subscribe","channel":null}`, err: "grip control object contains 'channel' with wrong type"},
		{name: "empty channel", in: `{"type":"unsubscribe","channel":""}`, err: "grip control object contains 'channel' with invalid value"},
		{name: "filters string", in: `{"type":"subscribe","channel":"c","filters":"skip-self"}`, err: "grip control object contains 'filters' with wrong type"},
		// JSON null is the wrong type even for optional fields
		// (verified against pushpin-handler 1.36).
		{name: "session id null", in: `{"type":"session","id":null}`, err: "grip control object contains 'id' with wrong type"},
		{name: "meta value null", in: `{"type":"set-meta","name":"n","value":null}`, err: "grip control object contains 'value' with wrong type"},
		{name: "filters null", in: `{"type":"subscribe","channel":"c","filters":null}`, err: "grip control object contains 'filters' with wrong type"},
		{name: "filter null", in: `{"type":"subscribe","channel":"c","filters":[null]}`, err: "filters contains value with wrong type"},
		{name: "mode null", in: `{"type":"keep-alive","mode":null}`, err: "grip control object contains 'mode' with wrong type"},
		{name: "filter int", in: `{"type":"subscribe","channel":"c","filters":["a",1]}`, err: "filters contains value with wrong type"},
		{name: "session id int", in: `{"type":"session","id":5}`, err: "grip control object contains 'id' with wrong type"},
		{name: "meta no name", in: `{"type":"set-meta","value":"v"}`, err: "grip control object does not contain 'name'"},
		{name: "meta empty name", in: `{"type":"set-meta","name":""}`, err: "grip control object contains 'name' with invalid value"},
		{name: "meta value int", in: `{"type":"set-meta","name":"n","value":1}`, err: "grip control object contains 'value' with wrong type"},
		{name: "bad message-type", in: `{"type":"keep-alive","message-type":"close"}`, err: "grip control object contains 'message-type' with unknown value"},
		{name: "message-type int", in: `{"type":"keep-alive","message-type":1}`, err: "grip control object contains 'message-type' with wrong type"},
		{name: "content int", in: `{"type":"keep-alive","content":1}`, err: "grip control object contains 'content' with wrong type"},
		{name: "content null", in: `{"type":"send-delayed","content":null}`, err: "grip control object contains 'content' with wrong type"},
		{name: "content-bin list", in: `{"type":"keep-alive","content-bin":[]}`, err: "grip control object contains 'content-bin' with wrong type"},
		{name: "timeout list", in: `{"type":"keep-alive","content":"x","timeout":[]}`, err: "grip control object contains 'timeout' with wrong type"},
		{name: "timeout null", in: `{"type":"keep-alive","content":"x","timeout":null}`, err: "grip control object contains 'timeout' with wrong type"},
		{name: "timeout negative", in: `{"type":"keep-alive","content":"x","timeout":-1}`, err: "grip control object contains 'timeout' with invalid value"},
		{name: "timeout huge", in: `{"type":"keep-alive","content":"x","timeout":1e300}`, err: "grip control object contains 'timeout' with invalid value"},
		{name: "mode int", in: `{"type":"keep-alive","mode":1}`, err: "grip control object contains 'mode' with wrong type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseControlMessage([]byte(tt.in))
			if tt.err != "" {
				var me *MessageError
				if !errors.As(err, &me) || me.Msg != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			// AppendJSON writes a message that parses back the same,
			// except the content-bin quirk, which it avoids.
			back, err := ParseControlMessage(got.AppendJSON(nil))
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("AppendJSON %s parses as %+v, %v", got.AppendJSON(nil), back, err)
			}
		})
	}
	for _, bad := range []string{``, `{`, `"subscribe"`, `12`, `null`, `{"type":"detach"} x`} {
		if _, err := ParseControlMessage([]byte(bad)); err != ErrNotJSON {
			t.Errorf("ParseControlMessage(%q) = %v, want ErrNotJSON", bad, err)
		}
	}
}

func TestControlMessageDefaults(t *testing.T) {
	ka := ControlMessage{Type: MsgKeepAlive}
	sd := ControlMessage{Type: MsgSendDelayed}
	if ka.EffectiveTimeout() != 55 || sd.EffectiveTimeout() != 1 || (ControlMessage{Type: MsgKeepAlive, Timeout: 9}).EffectiveTimeout() != 9 {
		t.Fatal("default timeouts")
	}
	if ka.KeepAliveMode() != KeepAliveIdle || (ControlMessage{Mode: "interval"}).KeepAliveMode() != KeepAliveInterval ||
		(ControlMessage{Mode: "bogus"}).KeepAliveMode() != KeepAliveIdle {
		t.Fatal("keep-alive modes")
	}
	bin := ControlMessage{Type: MsgKeepAlive, ContentType: ContentBinary, Content: []byte{0xff, 0}, Timeout: 20}
	if got := string(bin.AppendJSON(nil)); got != `{"type":"keep-alive","message-type":"binary","content-bin":"/wA=","timeout":20}` {
		t.Fatalf("AppendJSON = %s", got)
	}
	for mt := MsgSubscribe; mt <= MsgFlushDelayed; mt++ {
		if strings.HasPrefix(mt.String(), "type(") {
			t.Errorf("type %d has no name", mt)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, js := range []string{
		`{"items":[{"cid":"` + cid + `","type":"here","ttl":60,"uri":"ws://127.0.0.1:27999/wsoh","route":"*,*,*,/wsoh"}]}`,
		`{"items":[{"cid":"c","type":"send","content-type":"text","message":"hello","queue":true,"req-id":"3"}]}`,
		`{"items":[{"cid":"c","type":"close","code":4005,"reason":"bye now"},{"cid":"d","type":"ack","req-id":"0"}]}`,
		`{"items":[]}`, `{"items":[{"cid":"c"}]}`,
	} {
		f.Add(wire(f, js))
	}
	f.Add([]byte("0:]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		if err := Decode(data, &p); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Encoding is a fixed point after one decode.
		enc := p.Encode()
		var q Packet
		if err := Decode(enc, &q); err != nil {
			t.Fatalf("re-decode of %q failed: %v", enc, err)
		}
		if enc2 := q.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%q\n%q", enc, enc2)
		}
	})
}

func FuzzParseControlMessage(f *testing.F) {
	for _, s := range []string{`{"type": "subscribe", "channel": "test"}`, `{"type":"close"}`,
		`{"type":"keep-alive","content-bin":"AAH/","timeout":30,"mode":"interval"}`,
		`{"type":"set-meta","name":"n","value":null}`, `{"type":"send-delayed","content":"x","timeout":"2"}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseControlMessage(data)
		if err != nil {
			var me *MessageError
			if err != ErrNotJSON && !errors.As(err, &me) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		back, err := ParseControlMessage(m.AppendJSON(nil))
		if err != nil {
			t.Fatalf("AppendJSON output %s rejected: %v", m.AppendJSON(nil), err)
		}
		if m.Type != back.Type || m.Channel != back.Channel || !bytes.Equal(m.Content, back.Content) || m.Timeout != back.Timeout {
			t.Fatalf("round trip changed %+v to %+v", m, back)
		}
	})
}

func BenchmarkDecodeSend(b *testing.B) {
	in := (&Packet{Items: []Item{{CID: []byte(cid), Type: Send, ContentType: ContentText,
		Message: bytes.Repeat([]byte("x"), 200), ReqID: []byte("12"), Queue: true}}}).Encode()
	var p Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := Decode(in, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSend(b *testing.B) {
	p := Packet{Items: []Item{{CID: []byte(cid), Type: Send, ContentType: ContentText,
		Message: bytes.Repeat([]byte("x"), 200), ReqID: []byte("12"), Queue: true}}}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.Append(buf[:0])
	}
}

func BenchmarkDecodeKeepAliveBatch(b *testing.B) {
	items := make([]Item, MaxKeepAliveBatch)
	for i := range items {
		items[i] = Item{CID: []byte(cid), Type: KeepAlive}
		items[i].SetTTL(SessionTTL)
	}
	in := (&Packet{Items: items}).Encode()
	p := Packet{Items: make([]Item, 0, MaxKeepAliveBatch)}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := Decode(in, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// Packets captured from Debian's pushpin-handler 1.36 on its ws-control out
// socket, answering the items of TestVerifiedPackets, a keep-alive control
// message, an unknown cid, a keep-alive request and ws-message publishes.
func TestCapturedFromHandler(t *testing.T) {
	tests := []struct {
		raw  string
		want []string // one summary per item
	}{
		{"88:5:items,76:72:6:req-id,1:0,4:type,3:ack,3:cid,36:e2a3a753-2f2e-42ed-aaa2-dc23cf3646f2,}]}", []string{"ack req=0"}},
		{"212:5:items,199:72:6:req-id,1:1,4:type,3:ack,3:cid,36:e2a3a753-2f2e-42ed-aaa2-dc23cf3646f2,}118:15:keep-alive-mode,8:interval,4:type,16:keep-alive-setup,7:timeout,2:30#3:cid,36:e2a3a753-2f2e-42ed-aaa2-dc23cf3646f2,}]}",
			[]string{"ack req=1", "keep-alive-setup timeout=30 mode=interval"}},
		{"53:5:items,41:37:4:type,6:cancel,3:cid,11:unknown-cid,}]}", []string{"cancel"}},
		{"115:5:items,102:98:4:type,4:send,7:message,2:ka,3:cid,36:e2a3a753-2f2e-42ed-aaa2-dc23cf3646f2,12:content-type,4:text,}]}", []string{"send text ka"}},
		{"110:5:items,98:94:6:reason,7:bye now,4:type,5:close,3:cid,36:e2a3a753-2f2e-42ed-aaa2-dc23cf3646f2,4:code,4:4005#}]}", []string{"close 4005 bye now"}},
	}
	for _, tt := range tests {
		var p Packet
		if err := Decode([]byte(tt.raw), &p); err != nil {
			t.Fatalf("Decode(%q): %v", tt.raw, err)
		}
		var got []string
		for _, it := range p.Items {
			s := it.Type.String()
			switch it.Type {
			case Ack:
				s += " req=" + string(it.ReqID)
			case KeepAliveSetup:
				s += " timeout=" + strconv.Itoa(it.Timeout) + " mode=" + it.KeepAliveMode
			case Send:
				s += " " + it.ContentType + " " + string(it.Message)
			case Close:
				s += " " + strconv.Itoa(it.Code) + " " + it.Reason
			}
			got = append(got, s)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		if enc := p.Encode(); len(enc) != len(tt.raw) {
			t.Errorf("re-encoded %q, captured %q", enc, tt.raw)
		}
	}
}
