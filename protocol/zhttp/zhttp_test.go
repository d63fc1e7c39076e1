package zhttp

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// condureRequest is the first packet condure 1.9.1 sent for
// `curl http://127.0.0.1:27100/simple?a=b` (reference §2.9.1), byte for byte.
const condureRequest = "T300:4:from,7:condure,2:id,5:0-0-0,3:seq,1:0#3:ext,15:5:multi,4:true!}" +
	"6:method,3:GET,3:uri,33:http://127.0.0.1:27100/simple?a=b," +
	"7:headers,82:26:4:Host,15:127.0.0.1:27100,]29:10:User-Agent,11:curl/7.88.1,]15:6:Accept,3:*/*,]]" +
	"7:credits,4:8192#6:stream,4:true!12:peer-address,9:127.0.0.1,9:peer-port,5:55110#}"

func TestCondureRequestExactBytes(t *testing.T) {
	var p Packet
	f, err := Decode([]byte(condureRequest), &p)
	if err != nil {
		t.Fatal(err)
	}
	if f != FormatT {
		t.Fatalf("format %c", f)
	}
	want := Packet{
		From: []byte("condure"), ID: []byte("0-0-0"), Multi: true, Method: "GET",
		URI:     "http://127.0.0.1:27100/simple?a=b",
		Headers: []Header{{"Host", "127.0.0.1:27100"}, {"User-Agent", "curl/7.88.1"}, {"Accept", "*/*"}},
		Stream:  true, PeerAddress: "127.0.0.1",
	}
	want.SetSeq(0)
	want.SetCredits(8192)
	want.SetPeerPort(55110)
	assertPacket(t, &p, &want)
	if got := AppendT(nil, &p); string(got) != condureRequest {
		t.Fatalf("re-encoded bytes differ:\n got %q\nwant %q", got, condureRequest)
	}
}

func assertPacket(t *testing.T, got, want *Packet) {
	t.Helper()
	g, w := got.MarshalTnet(nil), want.MarshalTnet(nil)
	gv, _ := tnetstring.Decode(g)
	wv, _ := tnetstring.Decode(w)
	if !gv.Equal(wv) {
		t.Fatalf("packet mismatch:\n got %v\nwant %v", gv, wv)
	}
}

// Packets from the verified flows of reference §2.9, written as JSON-like
// tnetstring values, must decode and survive re-encoding.
func TestReferenceFlows(t *testing.T) {
	S, I, T, L, D := tnetstring.S, tnetstring.I, tnetstring.T, tnetstring.L, tnetstring.D
	tests := []struct {
		name  string
		in    tnetstring.Value
		check func(*Packet) bool
	}{
		{"streamed response start", D("id", S("1-0-0"), "seq", I(0), "code", I(200), "reason", S("OK"),
			"headers", L(L(S("Content-Type"), S("text/plain"))), "more", T(true)),
			func(p *Packet) bool { return p.Code == 200 && p.More && p.Has&HasCode != 0 && len(p.Headers) == 1 }},
		{"credit", D("from", S("condure"), "id", S("1-0-0"), "seq", I(1), "ext", D("multi", T(true)), "type", S("credit"), "credits", I(7)),
			func(p *Packet) bool { return p.Type == Credit && p.Credits == 7 && p.Multi }},
		{"end of body", D("id", S("1-0-0"), "seq", I(3), "body", S("")),
			func(p *Packet) bool { return p.Body != nil && len(p.Body) == 0 && !p.More }},
		{"ws text", D("seq", I(1), "content-type", S("text"), "body", S("hello")),
			func(p *Packet) bool { return p.ContentType == ContentText && string(p.Body) == "hello" }},
		{"ws close", D("seq", I(6), "type", S("close"), "code", I(4001), "body", S("bye")),
			func(p *Packet) bool { return p.Type == Close && p.Code == 4001 && string(p.Body) == "bye" }},
		{"ws rejected", D("type", S("error"), "condition", S("rejected"), "code", I(403), "reason", S("Forbidden"),
			"headers", L(), "body", S("no")),
			func(p *Packet) bool { return p.Type == Error && p.Condition == CondRejected && p.Code == 403 }},
		{"zurl request", D("from", S("pushpin-proxy_7601"), "id", S("u"), "seq", I(0), "method", S("GET"),
			"uri", S("http://127.0.0.1:27999/plain?x=1"), "headers", L(), "connect-host", S("127.0.0.1"),
			"connect-port", I(28080), "ignore-policies", T(true), "stream", T(true), "credits", I(200000), "ext", D("multi", T(true)),
			"max-size", I(1000000), "timeout", I(5000), "follow-redirects", T(true), "ignore-tls-errors", T(true), "trust-connect-host", T(true)),
			func(p *Packet) bool {
				return p.ConnectHost == "127.0.0.1" && p.ConnectPort == 28080 && p.IgnorePolicies && p.MaxSize == 1000000 &&
					p.Timeout == 5000 && p.FollowRedirects && p.IgnoreTLSErrors && p.TrustConnectHost
			}},
		{"peer-port as string", D("peer-port", S("1234")), func(p *Packet) bool { return p.PeerPort == 1234 && p.Has&HasPeerPort != 0 }},
		{"condure max_size spelling", D("max_size", I(10)), func(p *Packet) bool { return p.MaxSize == 10 }},
		{"multi ids", D("from", S("condure"), "id", L(D("id", S("a"), "seq", I(4)), D("id", S("b"), "seq", I(9))), "type", S("keep-alive")),
			func(p *Packet) bool {
				return len(p.IDs) == 2 && string(p.IDs[1].ID) == "b" && p.IDs[1].Seq == 9 && p.Type == KeepAlive
			}},
		{"user-data and passthrough", D("user-data", D("x", L(I(1))), "passthrough", D("route", S("*,*,*,*"), "trusted", T(true))),
			func(p *Packet) bool {
				v, _ := p.Passthrough.Get("route")
				return string(v.Str) == "*,*,*,*" && !p.UserData.IsZero()
			}},
		{"duplicate key last wins", tnetstring.Value{Kind: tnetstring.Dict, Dict: []tnetstring.Pair{
			{Key: []byte("seq"), Value: I(1)}, {Key: []byte("seq"), Value: I(2)}}},
			func(p *Packet) bool { return p.Seq == 2 }},
		{"unknown keys ignored", D("old-from", S("x"), "zzz", L()), func(p *Packet) bool { return p.Has == 0 }},
		{"handoff", D("type", S("handoff-proceed")), func(p *Packet) bool { return p.Type == HandoffProceed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := append([]byte("T"), tnetstring.Encode(tt.in)...)
			var p Packet
			if _, err := Decode(msg, &p); err != nil {
				t.Fatal(err)
			}
			if !tt.check(&p) {
				t.Fatalf("unexpected decode: %+v", p)
			}
			var q Packet
			if _, err := Decode(AppendT(nil, &p), &q); err != nil {
				t.Fatal(err)
			}
			assertPacket(t, &q, &p)
			// The JSON form carries the same packet.
			var j Packet
			jm := AppendJSON(nil, &p)
			if _, err := Decode(jm, &j); err != nil {
				t.Fatalf("J round trip %s: %v", jm, err)
			}
			assertPacket(t, &j, &p)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	S, I, T, L, D := tnetstring.S, tnetstring.I, tnetstring.T, tnetstring.L, tnetstring.D
	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"empty", nil, "empty message"},
		{"bad format byte", []byte("X0:}"), "unknown format byte"},
		{"not a dict", []byte("T1:a,"), "not a dict"},
		{"truncated", []byte("T10:4:from,"), "exceeds"},
		{"trailing", []byte("T0:}x"), "trailing"},
		{"credits string", tm(D("credits", S("5"))), "credits must be of type int"},
		{"more not bool", tm(D("more", I(1))), "more must be of type bool"},
		{"from not string", tm(D("from", I(1))), "from must be of type string"},
		{"unknown type", tm(D("type", S("bogus"))), "unknown type"},
		{"headers not list", tm(D("headers", S("x"))), "headers must be of type list"},
		{"header of three", tm(D("headers", L(L(S("a"), S("b"), S("c"))))), "more than two"},
		{"header of one", tm(D("headers", L(L(S("a"))))), "name and a value"},
		{"header int", tm(D("headers", L(L(S("a"), I(1))))), "header item must be of type string"},
		{"ext not dict", tm(D("ext", T(true))), "ext must be of type dict"},
		{"multi id without id", tm(D("id", L(D("seq", I(1))))), "without id"},
		{"bad peer-port", tm(D("peer-port", S("x"))), "not a number"},
		{"bad json", []byte("J{"), "json"},
		{"json array", []byte("J[]"), "not a dict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			_, err := Decode(tt.msg, &p)
			if err == nil {
				t.Fatal("decode succeeded")
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func tm(v tnetstring.Value) []byte { return append([]byte("T"), tnetstring.Encode(v)...) }

func TestFraming(t *testing.T) {
	p := Packet{From: []byte("h1"), ID: []byte("0-0-0"), Type: KeepAlive, Multi: true}
	p.SetSeq(0)
	pub := AppendPubMessage(nil, []byte("condure"), &p)
	addr, msg, err := SplitPubMessage(pub)
	if err != nil || string(addr) != "condure" || msg[0] != 'T' {
		t.Fatalf("SplitPubMessage = %q %q %v", addr, msg, err)
	}
	if !bytes.HasPrefix(pub, PubTopic([]byte("condure"))) {
		t.Fatal("PUB frame does not start with the SUB topic")
	}
	frames := RouterMessage([]byte("zurl-1"), msg)
	frames[0] = []byte("peer") // what the receiving ROUTER sees
	sender, m2, err := ParseRouterMessage(frames)
	if err != nil || string(sender) != "peer" || !bytes.Equal(m2, msg) {
		t.Fatalf("ParseRouterMessage = %q %v", sender, err)
	}
	if _, _, err := ParseRouterMessage([][]byte{[]byte("a"), msg}); err == nil {
		t.Fatal("two-frame router message accepted")
	}
	if _, _, err := ParseRouterMessage([][]byte{[]byte("a"), []byte("x"), msg}); err == nil {
		t.Fatal("router message without delimiter accepted")
	}
	if d, err := ParseDealerMessage([][]byte{nil, msg}); err != nil || !bytes.Equal(d, msg) {
		t.Fatalf("ParseDealerMessage: %v", err)
	}
	if _, _, err := SplitPubMessage([]byte("noaddress")); err == nil {
		t.Fatal("pub message without space accepted")
	}
}

func TestEmptyHeadersOnResponseStart(t *testing.T) {
	p := Packet{ID: []byte("x")}
	p.SetCode(200)
	p.Reason = "OK"
	v, _ := tnetstring.Decode(p.MarshalTnet(nil))
	if h, ok := v.Get("headers"); !ok || h.Kind != tnetstring.List {
		t.Fatalf("response start without headers list: %v", v)
	}
	q := Packet{ID: []byte("x"), Type: Credit}
	q.SetCredits(5)
	v, _ = tnetstring.Decode(q.MarshalTnet(nil))
	if _, ok := v.Get("headers"); ok {
		t.Fatalf("credit packet carries headers: %v", v)
	}
}

func TestResetReuse(t *testing.T) {
	var p Packet
	if err := DecodeT([]byte(condureRequest[1:]), &p); err != nil {
		t.Fatal(err)
	}
	if err := DecodeT(tnetstring.Encode(tnetstring.D("id", tnetstring.S("z"))), &p); err != nil {
		t.Fatal(err)
	}
	if p.Method != "" || len(p.Headers) != 0 || p.Has != 0 || string(p.ID) != "z" {
		t.Fatalf("Reset left state behind: %+v", p)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(condureRequest))
	f.Add([]byte(`J{"from":"a","id":"b","seq":0,"type":"keep-alive","user-data":{"x":[1,2.5,null]}}`))
	f.Add(tm(tnetstring.D("id", tnetstring.L(tnetstring.D("id", tnetstring.S("a"), "seq", tnetstring.I(1))))))
	f.Add([]byte("T0:}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		format, err := Decode(data, &p)
		if err != nil {
			return
		}
		enc := Append(nil, format, &p)
		var q Packet
		if _, err := Decode(enc, &q); err != nil {
			t.Fatalf("re-decode of %q failed: %v", enc, err)
		}
		if format == FormatT {
			assertPacket(t, &q, &p)
		}
	})
}

func BenchmarkDecodeRequest(b *testing.B) {
	msg := []byte(condureRequest)
	var p Packet
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeStreamChunk(b *testing.B) {
	p := Packet{From: []byte("handler"), ID: []byte("1-0-0"), Body: bytes.Repeat([]byte("x"), 1024), More: true}
	p.SetSeq(5)
	msg := AppendT(nil, &p)
	var q Packet
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg, &q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeStreamChunk(b *testing.B) {
	p := Packet{From: []byte("handler"), ID: []byte("1-0-0"), Body: bytes.Repeat([]byte("x"), 1024), More: true}
	p.SetSeq(5)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPubMessage(buf[:0], []byte("condure"), &p)
	}
}
