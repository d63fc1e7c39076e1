package publish

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

var roundTripItems = []Item{
	{Channel: "a", HTTPStream: &HTTPStreamFormat{Content: []byte("hi\n")}},
	{Channel: "all", ID: "2", PrevID: "1", Meta: map[string]string{"sender": "alice", "b": "x"}, Size: 5, HasSize: true, NoSeq: true,
		HTTPResponse: &HTTPResponseFormat{Code: 201, Reason: "Created", Headers: []Header{{Name: "X-A", Value: "1"}, {Name: "X-A", Value: "2"}},
			Body: []byte("body\n"), ContentFilters: []string{FilterBuildID}},
		HTTPStream: &HTTPStreamFormat{Content: []byte("s"), ContentFilters: []string{}},
		WSMessage:  &WSMessageFormat{Type: MessageText, Content: []byte("w")}},
	{Channel: "bin", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte{0xff, 0xfe, 0}},
		HTTPStream: &HTTPStreamFormat{Content: []byte{0x80}},
		WSMessage:  &WSMessageFormat{Type: MessageBinary, Content: []byte{0, 1, 2}}},
	{Channel: "invalid utf8 text", WSMessage: &WSMessageFormat{Type: MessageText, Content: []byte{0xc3}}},
	{Channel: "binary utf8", WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte("plain")}},
	{Channel: "custom reason", HTTPResponse: &HTTPResponseFormat{Code: 418, Reason: "I'm a teapot", Body: []byte{}}},
	{Channel: "zero code", HTTPResponse: &HTTPResponseFormat{Code: 0, Reason: "Undefined Reason", Body: []byte("x")}},
	{Channel: "patch", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", BodyPatch: json.RawMessage(`[{"op":"replace","path":"/a","value":[1,2.5,"x",null,true]}]`)}},
	{Channel: "hints", HTTPResponse: &HTTPResponseFormat{Action: ActionHint}, HTTPStream: &HTTPStreamFormat{Action: ActionHint},
		WSMessage: &WSMessageFormat{Action: ActionHint}},
	{Channel: "closes", HTTPStream: &HTTPStreamFormat{Action: ActionClose},
		WSMessage: &WSMessageFormat{Action: ActionClose, Code: 4005, HasCode: true, Reason: "bye now"}},
	{Channel: "close no code", WSMessage: &WSMessageFormat{Action: ActionClose}},
	{Channel: "ping", WSMessage: &WSMessageFormat{Type: MessagePing}},
	{Channel: "pong", WSMessage: &WSMessageFormat{Type: MessagePong, Content: []byte("p")}},
	{Channel: "empty text", WSMessage: &WSMessageFormat{Type: MessageText}},
	{Channel: "", HTTPStream: &HTTPStreamFormat{Content: []byte("empty channel")}},
	{Channel: "empty meta", Meta: map[string]string{}, HTTPStream: &HTTPStreamFormat{Content: []byte("x")}},
}

func TestRoundTrip(t *testing.T) {
	for _, it := range roundTripItems {
		t.Run(it.Channel, func(t *testing.T) {
			encodings := map[string][]byte{
				"J":    append([]byte("J"), it.AppendJSON(nil)...),
				"T":    append([]byte("T"), it.AppendTnet(nil)...),
				"bare": it.AppendTnet(nil),
				"M":    append([]byte("M"), it.AppendMsgpack(nil)...),
			}
			for name, msg := range encodings {
				got, err := DecodeMessage(msg, "")
				if err != nil {
					t.Fatalf("%s: decode %q: %v", name, msg, err)
				}
				if !reflect.DeepEqual(normItem(got), normItem(it)) {
					t.Fatalf("%s: round trip of %q\n got  %s\n want %s", name, msg, dump([]Item{got}), dump([]Item{it}))
				}
			}
		})
	}

	// The batch forms.
	items, err := DecodeBody(AppendBodyJSON(nil, roundTripItems))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normItems(items), normItems(roundTripItems)) {
		t.Fatalf("body round trip:\n got  %s\n want %s", dump(items), dump(roundTripItems))
	}
	args, err := tnetstring.Decode(tnetstring.Encode(CommandArgs(roundTripItems)))
	if err != nil {
		t.Fatal(err)
	}
	if items, err = DecodeCommandArgs(args); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normItems(items), normItems(roundTripItems)) {
		t.Fatalf("command args round trip:\n got  %s\n want %s", dump(items), dump(roundTripItems))
	}
}

func TestEncodeJSONShape(t *testing.T) {
	tests := []struct {
		it   Item
		want string
	}{
		{Item{Channel: "pz", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte("x\n")},
			HTTPStream: &HTTPStreamFormat{Content: []byte("x\n")}, WSMessage: &WSMessageFormat{Content: []byte("x")}},
			`{"channel":"pz","formats":{"http-response":{"code":200,"body":"x\n"},"http-stream":{"content":"x\n"},"ws-message":{"content":"x"}}}`},
		{Item{Channel: "b", HTTPStream: &HTTPStreamFormat{Content: []byte{0xff}}},
			`{"channel":"b","formats":{"http-stream":{"content-bin":"/w=="}}}`},
		{Item{Channel: "h", WSMessage: &WSMessageFormat{Action: ActionHint}},
			`{"channel":"h","formats":{"ws-message":{"action":"hint"}}}`},
		{Item{Channel: "w", WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte("ab")}},
			`{"channel":"w","formats":{"ws-message":{"content-bin":"YWI="}}}`},
		{Item{Channel: "m", ID: "1", Meta: map[string]string{"z": "1", "a": "2"}, NoSeq: true, HTTPStream: &HTTPStreamFormat{}},
			`{"channel":"m","id":"1","formats":{"http-stream":{"content":""}},"meta":{"a":"2","z":"1"},"no-seq":true}`},
	}
	for _, tt := range tests {
		got := string(tt.it.AppendJSON(nil))
		if got != tt.want {
			t.Errorf("AppendJSON:\n got  %s\n want %s", got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("AppendJSON produced invalid JSON %s", got)
		}
		if m, err := json.Marshal(&tt.it); err != nil || string(m) != tt.want {
			t.Errorf("json.Marshal = %s, %v", m, err)
		}
	}
	if got := string(AppendBodyJSON(nil, nil)); got != `{"items":[]}` {
		t.Errorf("empty body = %s", got)
	}
}

func TestEncodeTnetShape(t *testing.T) {
	it := Item{Channel: "pz", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte{0xff}},
		WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte{1}}}
	v, err := tnetstring.Decode(it.AppendTnet(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := tnetstring.D("channel", tnetstring.S("pz"), "formats", tnetstring.D(
		"http-response", tnetstring.D("code", tnetstring.I(200), "body", tnetstring.B([]byte{0xff})),
		"ws-message", tnetstring.D("content-bin", tnetstring.B([]byte{1}))))
	if !v.Equal(want) {
		t.Fatalf("tnet = %v\nwant %v", v, want)
	}
}

func TestMsgpackStrAndBin(t *testing.T) {
	// {"channel": bin "c", "ws-message": {"content": bin 0xff}} with a bin key.
	msg := []byte("M\x82\xa7channel\xc4\x01c\xc4\x0aws-message\x81\xa7content\xc4\x01\xff")
	it, err := DecodeMessage(msg, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Item{Channel: "c", WSMessage: &WSMessageFormat{Type: MessageText, Content: []byte{0xff}}}
	if !reflect.DeepEqual(it, want) {
		t.Fatalf("got %s", dump([]Item{it}))
	}
	// Encoding picks bin for non-UTF-8 bytes.
	enc := (&Item{Channel: "c", HTTPStream: &HTTPStreamFormat{Content: []byte{0xff}}}).AppendMsgpack(nil)
	if !bytes.HasSuffix(enc, []byte{0xc4, 1, 0xff}) || !utf8.Valid(enc[2:9]) {
		t.Fatalf("unexpected msgpack % x", enc)
	}
}
