package publish

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

func body(items ...string) string { return `{"items":[` + strings.Join(items, ",") + `]}` }

func TestDecodeBodyFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Item
	}{
		{"empty batch", `{"items":[]}`, []Item{}},
		{"minimal stream", body(`{"channel":"a","formats":{"http-stream":{"content":"hi\n"}}}`),
			[]Item{{Channel: "a", HTTPStream: &HTTPStreamFormat{Content: []byte("hi\n")}}}},
		{"formats directly in item", body(`{"channel":"a","http-stream":{"content":"x"},"ws-message":{"content":"y"}}`),
			[]Item{{Channel: "a", HTTPStream: &HTTPStreamFormat{Content: []byte("x")},
				WSMessage: &WSMessageFormat{Type: MessageText, Content: []byte("y")}}}},
		{"formats key wins over direct keys", body(`{"channel":"a","formats":{"http-stream":{"content":"x"}},"ws-message":{"content":"y"}}`),
			[]Item{{Channel: "a", HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}}},
		{"formats with only unknown keys", body(`{"channel":"a","formats":{"sse":{}}}`),
			[]Item{{Channel: "a"}}},
		{"all item fields", body(`{"channel":"c","id":"2","prev-id":"1","meta":{"sender":"alice","skip_users":"bob,carol"},"size":10,"no-seq":true,"formats":{"http-stream":{"content":"x"}}}`),
			[]Item{{Channel: "c", ID: "2", PrevID: "1", Meta: map[string]string{"sender": "alice", "skip_users": "bob,carol"},
				Size: 10, HasSize: true, NoSeq: true, HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}}},
		{"no-seq false", body(`{"channel":"c","no-seq":false,"http-stream":{"content":"x"}}`),
			[]Item{{Channel: "c", HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}}},
		{"size zero", body(`{"channel":"c","size":0,"http-stream":{"content":"x"}}`),
			[]Item{{Channel: "c", HasSize: true, HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}}},
		{"size as numeric string and float", body(`{"channel":"c","size":"12","http-stream":{"content":"x"}}`, `{"channel":"d","size":2.5,"http-stream":{"content":"x"}}`),
			[]Item{{Channel: "c", Size: 12, HasSize: true, HTTPStream: &HTTPStreamFormat{Content: []byte("x")}},
				{Channel: "d", Size: 3, HasSize: true, HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}}},
		{"duplicate keys last wins", body(`{"channel":"a","channel":"b","meta":{"k":1,"k":"v"},"http-stream":{"content":"x"}}`),
			[]Item{{Channel: "b", Meta: map[string]string{"k": "v"}, HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}}},
		{"empty channel accepted", body(`{"channel":"","http-stream":{"content":"x"}}`),
			[]Item{{HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}}},

		// http-response
		{"response defaults", body(`{"channel":"a","http-response":{"body":"hello\n"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte("hello\n")}}}},
		{"response code default reason", body(`{"channel":"a","http-response":{"code":404,"body":""}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 404, Reason: "Not Found", Body: []byte{}}}}},
		{"response unknown code reason", body(`{"channel":"a","http-response":{"code":299,"body":"x"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 299, Reason: "Undefined Reason", Body: []byte("x")}}}},
		{"response code bounds", body(`{"channel":"a","http-response":{"code":0,"body":"x"}}`, `{"channel":"a","http-response":{"code":999,"reason":"Odd","body":"x"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 0, Reason: "Undefined Reason", Body: []byte("x")}},
				{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 999, Reason: "Odd", Body: []byte("x")}}}},
		{"response empty reason means default", body(`{"channel":"a","http-response":{"code":201,"reason":"","body":"x"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 201, Reason: "Created", Body: []byte("x")}}}},
		{"headers object", body(`{"channel":"a","http-response":{"headers":{"X-B":"2","X-A":"1","X-B":"3"},"body":"x"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK",
				Headers: []Header{{Name: "X-A", Value: "1"}, {Name: "X-B", Value: "3"}}, Body: []byte("x")}}}},
		{"headers list keeps order and repeats", body(`{"channel":"a","http-response":{"headers":[["Set-Cookie","a=1"],["Set-Cookie","b=2"],["X","y"]],"body":"x"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK",
				Headers: []Header{{Name: "Set-Cookie", Value: "a=1"}, {Name: "Set-Cookie", Value: "b=2"}, {Name: "X", Value: "y"}}, Body: []byte("x")}}}},
		{"empty headers", body(`{"channel":"a","http-response":{"headers":{},"body":"x"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Headers: []Header{}, Body: []byte("x")}}}},
		{"body-bin base64", body(`{"channel":"a","http-response":{"body-bin":"AP8K"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte{0, 0xff, '\n'}}}}},
		{"body-bin lenient base64", body(`{"channel":"a","http-response":{"body-bin":"aGVs\nbG8"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte("hello")}}}},
		{"body-bin wins over body", body(`{"channel":"a","http-response":{"body":"plain","body-bin":"Ymlu"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte("bin")}}}},
		{"body wins over body-patch", body(`{"channel":"a","http-response":{"body":"plain","body-patch":[]}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte("plain")}}}},
		{"body-patch raw", body(`{"channel":"a","http-response":{"body-patch":[ {"op":"add","path":"/a","value":1.5} ]}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK",
				BodyPatch: json.RawMessage(`[{"op":"add","path":"/a","value":1.5}]`)}}}},
		{"body-patch not validated at parse", body(`{"channel":"a","http-response":{"body-patch":[1,"x"]}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", BodyPatch: json.RawMessage(`[1,"x"]`)}}}},
		{"content filters", body(`{"channel":"a","http-response":{"body":"x","content-filters":["build-id","var-subst"]}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte("x"),
				ContentFilters: []string{FilterBuildID, FilterVarSubst}}}}},
		{"empty content filters are present", body(`{"channel":"a","http-stream":{"content":"x","content-filters":[]}}`),
			[]Item{{Channel: "a", HTTPStream: &HTTPStreamFormat{Content: []byte("x"), ContentFilters: []string{}}}}},
		{"response hint ignores the rest", body(`{"channel":"a","http-response":{"action":"hint","code":"bogus"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Action: ActionHint}}}},
		{"response close accepted", body(`{"channel":"a","http-response":{"action":"close"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Action: ActionClose}}}},
		{"explicit send", body(`{"channel":"a","http-response":{"action":"send","body":"x"}}`),
			[]Item{{Channel: "a", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte("x")}}}},

		// http-stream
		{"stream content-bin", body(`{"channel":"a","http-stream":{"content-bin":"AAE="}}`),
			[]Item{{Channel: "a", HTTPStream: &HTTPStreamFormat{Content: []byte{0, 1}}}}},
		{"stream close", body(`{"channel":"a","http-stream":{"action":"close"}}`),
			[]Item{{Channel: "a", HTTPStream: &HTTPStreamFormat{Action: ActionClose}}}},
		{"stream hint", body(`{"channel":"a","http-stream":{"action":"hint"}}`),
			[]Item{{Channel: "a", HTTPStream: &HTTPStreamFormat{Action: ActionHint}}}},

		// ws-message
		{"ws content-bin defaults to binary", body(`{"channel":"a","ws-message":{"content-bin":"AAE="}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte{0, 1}}}}},
		{"ws explicit type wins", body(`{"channel":"a","ws-message":{"type":"text","content-bin":"aGk="}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Type: MessageText, Content: []byte("hi")}}}},
		{"ws content-bin wins over content", body(`{"channel":"a","ws-message":{"content":"t","content-bin":"Yg=="}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte("b")}}}},
		{"ws binary content", body(`{"channel":"a","ws-message":{"type":"binary","content":"raw"}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte("raw")}}}},
		{"ws ping without content", body(`{"channel":"a","ws-message":{"type":"ping"}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Type: MessagePing}}}},
		{"ws pong with content", body(`{"channel":"a","ws-message":{"type":"pong","content":"p"}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Type: MessagePong, Content: []byte("p")}}}},
		{"ws close with code and reason", body(`{"channel":"a","ws-message":{"action":"close","code":4005,"reason":"bye now"}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Action: ActionClose, Code: 4005, HasCode: true, Reason: "bye now"}}}},
		{"ws close bare", body(`{"channel":"a","ws-message":{"action":"close"}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Action: ActionClose}}}},
		{"ws hint parsed and ignored", body(`{"channel":"a","ws-message":{"action":"hint","type":"bogus"}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Action: ActionHint}}}},
		{"ws close ignores type", body(`{"channel":"a","ws-message":{"action":"close","type":"bogus"}}`),
			[]Item{{Channel: "a", WSMessage: &WSMessageFormat{Action: ActionClose}}}},
		{"unicode content", body(`{"channel":"ch\u00e9","http-stream":{"content":"\u2603\n"}}`),
			[]Item{{Channel: "ché", HTTPStream: &HTTPStreamFormat{Content: []byte("☃\n")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBody([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeBody: %v", err)
			}
			if !reflect.DeepEqual(normItems(got), normItems(tt.want)) {
				t.Fatalf("got  %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

func TestDecodeBodyErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		kind    ErrorKind
		index   int
		detail  string
		pushpin string // full PushpinText when it is not "Invalid format: "+detail
		ours    string // substring of Error()
	}{
		{name: "empty", in: ``, kind: KindSyntax, index: -1, pushpin: "Body is not valid JSON."},
		{name: "garbage", in: `{"items":`, kind: KindSyntax, index: -1, pushpin: "Body is not valid JSON."},
		{name: "trailing data", in: `{"items":[]} x`, kind: KindSyntax, index: -1, pushpin: "Body is not valid JSON."},
		{name: "scalar top level", in: `"items"`, kind: KindSyntax, index: -1, pushpin: "Body is not valid JSON."},
		{name: "number top level", in: `5`, kind: KindSyntax, index: -1, pushpin: "Body is not valid JSON."},
		{name: "array top level", in: `[]`, kind: KindNotObject, index: -1, pushpin: "Invalid format."},
		{name: "no items", in: `{}`, kind: KindInvalid, index: -1, detail: "object does not contain 'items'"},
		{name: "items wrong type", in: `{"items":{}}`, kind: KindInvalid, index: -1, detail: "object contains 'items' with wrong type"},
		{name: "items null", in: `{"items":null}`, kind: KindInvalid, index: -1, detail: "object contains 'items' with wrong type"},
		{name: "item not object", in: body(`5`), kind: KindInvalid, index: 0, detail: "publish item object is not an object"},
		{name: "no channel", in: body(`{"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object does not contain 'channel'", ours: "item 0: publish item object does not contain 'channel'"},
		{name: "channel wrong type", in: body(`{"channel":5,"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'channel' with wrong type"},
		{name: "channel null", in: body(`{"channel":null,"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'channel' with wrong type"},
		{name: "id wrong type", in: body(`{"channel":"a","id":1,"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'id' with wrong type"},
		{name: "json null id is wrong type", in: body(`{"channel":"a","id":null,"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'id' with wrong type"},
		{name: "prev-id wrong type", in: body(`{"channel":"a","prev-id":[],"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'prev-id' with wrong type"},
		{name: "formats wrong type", in: body(`{"channel":"a","formats":[]}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'formats' with wrong type"},
		{name: "no formats", in: body(`{"channel":"a"}`), kind: KindInvalid, index: 0, detail: "no formats specified"},
		{name: "empty formats", in: body(`{"channel":"a","formats":{}}`), kind: KindInvalid, index: 0, detail: "no formats specified"},
		{name: "bad item index", in: body(`{"channel":"a","http-stream":{"content":"x"}}`, `{"channel":"b","http-stream":{"content":"x"}}`,
			`{"channel":"c","http-stream":{"content":"x"}}`, `{"channel":"d","ws-message":{"type":"bogus","content":"x"}}`),
			kind: KindInvalid, index: 3, detail: "'ws-message' contains 'type' with unknown value",
			ours: `item 3: 'ws-message' contains 'type' with unknown value ("bogus"`},
		{name: "format not object", in: body(`{"channel":"a","http-response":"x"}`), kind: KindInvalid, index: 0,
			detail: "'http-response' is not an object"},
		{name: "json null format is not an object", in: body(`{"channel":"a","http-stream":null}`), kind: KindInvalid, index: 0,
			detail: "'http-stream' is not an object"},
		{name: "unknown action", in: body(`{"channel":"a","http-stream":{"action":"refresh"}}`), kind: KindInvalid, index: 0,
			detail: "", pushpin: "Invalid format: ", ours: `item 0: 'http-stream' contains 'action' with unknown value "refresh"`},
		{name: "action wrong type", in: body(`{"channel":"a","http-stream":{"action":1}}`), kind: KindInvalid, index: 0,
			detail: "'http-stream' contains 'action' with wrong type"},
		{name: "code wrong type", in: body(`{"channel":"a","http-response":{"code":"abc","body":""}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'code' with wrong type"},
		{name: "code bool", in: body(`{"channel":"a","http-response":{"code":true,"body":""}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'code' with wrong type"},
		{name: "code negative", in: body(`{"channel":"a","http-response":{"code":-1,"body":""}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'code' with invalid value"},
		{name: "code too big", in: body(`{"channel":"a","http-response":{"code":1000,"body":""}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'code' with invalid value"},
		{name: "code huge", in: body(`{"channel":"a","http-response":{"code":4294967496,"body":""}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'code' with invalid value"},
		{name: "reason wrong type", in: body(`{"channel":"a","http-response":{"reason":1,"body":""}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'reason' with wrong type"},
		{name: "headers wrong type", in: body(`{"channel":"a","http-response":{"headers":"x","body":""}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'headers' with wrong type"},
		{name: "headers element wrong type", in: body(`{"channel":"a","http-response":{"headers":["x"],"body":""}}`), kind: KindInvalid, index: 0,
			detail: "headers contains element with wrong type"},
		{name: "headers pair too long", in: body(`{"channel":"a","http-response":{"headers":[["a","b","c"]],"body":""}}`), kind: KindInvalid, index: 0,
			detail: "headers contains list with wrong number of elements"},
		{name: "header name wrong type", in: body(`{"channel":"a","http-response":{"headers":[[1,"b"]],"body":""}}`), kind: KindInvalid, index: 0,
			detail: "header contains name element with wrong type"},
		{name: "header value wrong type", in: body(`{"channel":"a","http-response":{"headers":[["a",1]],"body":""}}`), kind: KindInvalid, index: 0,
			detail: "header contains value element with wrong type"},
		{name: "header object value wrong type", in: body(`{"channel":"a","http-response":{"headers":{"X-A":1},"body":""}}`), kind: KindInvalid, index: 0,
			detail: "headers contains 'X-A' with wrong type"},
		{name: "content-filters wrong type", in: body(`{"channel":"a","http-response":{"content-filters":"skip-self","body":""}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'content-filters' with wrong type"},
		{name: "content-filters element", in: body(`{"channel":"a","http-stream":{"content-filters":[1],"content":""}}`), kind: KindInvalid, index: 0,
			detail: "content-filters contains element with wrong type"},
		{name: "no body", in: body(`{"channel":"a","http-response":{}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' does not contain 'body', 'body-bin', or 'body-patch'"},
		{name: "body wrong type", in: body(`{"channel":"a","http-response":{"body":5}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'body' with wrong type"},
		{name: "body-bin wrong type", in: body(`{"channel":"a","http-response":{"body-bin":5}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'body-bin' with wrong type"},
		{name: "body-patch wrong type", in: body(`{"channel":"a","http-response":{"body-patch":{}}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' contains 'body-patch' with wrong type"},
		{name: "no content", in: body(`{"channel":"a","http-stream":{}}`), kind: KindInvalid, index: 0,
			detail: "'http-stream' does not contain 'content' or 'content-bin'"},
		{name: "content wrong type", in: body(`{"channel":"a","http-stream":{"content":{}}}`), kind: KindInvalid, index: 0,
			detail: "'http-stream' contains 'content' with wrong type"},
		{name: "content-bin wrong type", in: body(`{"channel":"a","http-stream":{"content-bin":null}}`), kind: KindInvalid, index: 0,
			detail: "'http-stream' contains 'content-bin' with wrong type"},
		{name: "ws no content", in: body(`{"channel":"a","ws-message":{}}`), kind: KindInvalid, index: 0,
			detail: "'ws-message' does not contain 'content' or 'content-bin'"},
		{name: "ws binary no content", in: body(`{"channel":"a","ws-message":{"type":"binary"}}`), kind: KindInvalid, index: 0,
			detail: "'ws-message' does not contain 'content' or 'content-bin'"},
		{name: "ws type wrong type", in: body(`{"channel":"a","ws-message":{"type":1,"content":""}}`), kind: KindInvalid, index: 0,
			detail: "'ws-message' contains 'type' with wrong type"},
		{name: "ws content-bin wrong type", in: body(`{"channel":"a","ws-message":{"content-bin":[]}}`), kind: KindInvalid, index: 0,
			detail: "'ws-message' contains 'content-bin' with wrong type"},
		{name: "ws close code wrong type", in: body(`{"channel":"a","ws-message":{"action":"close","code":{}}}`), kind: KindInvalid, index: 0,
			detail: "'ws-message' contains 'code' with wrong type"},
		{name: "ws close code negative", in: body(`{"channel":"a","ws-message":{"action":"close","code":-5}}`), kind: KindInvalid, index: 0,
			detail: "'ws-message' contains 'code' with invalid value"},
		{name: "ws close reason wrong type", in: body(`{"channel":"a","ws-message":{"action":"close","reason":1}}`), kind: KindInvalid, index: 0,
			detail: "'ws-message' contains 'reason' with wrong type"},
		{name: "meta wrong type", in: body(`{"channel":"a","meta":[],"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'meta' with wrong type"},
		{name: "meta value wrong type", in: body(`{"channel":"a","meta":{"user":1},"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "'meta' contains 'user' with wrong type"},
		{name: "size wrong type", in: body(`{"channel":"a","size":"big","http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'size' with wrong type"},
		{name: "size negative", in: body(`{"channel":"a","size":-1,"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'size' with invalid value"},
		{name: "no-seq wrong type", in: body(`{"channel":"a","no-seq":1,"http-stream":{"content":"x"}}`), kind: KindInvalid, index: 0,
			detail: "publish item object contains 'no-seq' with wrong type"},
		{name: "check order: formats before meta", in: body(`{"channel":"a","meta":5,"http-stream":{}}`), kind: KindInvalid, index: 0,
			detail: "'http-stream' does not contain 'content' or 'content-bin'"},
		{name: "check order: response before stream", in: body(`{"channel":"a","http-stream":{},"http-response":{}}`), kind: KindInvalid, index: 0,
			detail: "'http-response' does not contain 'body', 'body-bin', or 'body-patch'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := DecodeBody([]byte(tt.in))
			if err == nil {
				t.Fatalf("DecodeBody succeeded: %s", dump(items))
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if pe.Kind != tt.kind || pe.Index != tt.index || pe.Detail != tt.detail {
				t.Fatalf("got kind=%d index=%d detail=%q, want kind=%d index=%d detail=%q",
					pe.Kind, pe.Index, pe.Detail, tt.kind, tt.index, tt.detail)
			}
			want := tt.pushpin
			if want == "" {
				want = "Invalid format: " + tt.detail
			}
			if got := pe.PushpinText(); got != want {
				t.Fatalf("PushpinText = %q, want %q", got, want)
			}
			if tt.ours != "" && !strings.Contains(pe.Error(), tt.ours) {
				t.Fatalf("Error() = %q, want it to contain %q", pe.Error(), tt.ours)
			}
			if pe.Error() == "" || strings.HasSuffix(pe.Error(), ": ") {
				t.Fatalf("Error() = %q says nothing", pe.Error())
			}
		})
	}
}

func TestDecodeMessage(t *testing.T) {
	tnetItem := tnetstring.Encode(tnetstring.D(
		"channel", tnetstring.S("t"),
		"formats", tnetstring.D(
			"http-stream", tnetstring.D("content", tnetstring.B([]byte{0xff, 0})),
			"ws-message", tnetstring.D("content-bin", tnetstring.B([]byte{1, 2})),
		)))
	mp := (&Item{Channel: "m", WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte{9}}}).AppendMsgpack(nil)
	tests := []struct {
		name    string
		msg     []byte
		channel string
		want    Item
	}{
		{"J prefix", []byte(`J{"channel":"j","http-stream":{"content":"x"}}`), "",
			Item{Channel: "j", HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}},
		{"T prefix", append([]byte("T"), tnetItem...), "",
			Item{Channel: "t", HTTPStream: &HTTPStreamFormat{Content: []byte{0xff, 0}},
				WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte{1, 2}}}},
		{"bare tnetstring", tnetItem, "",
			Item{Channel: "t", HTTPStream: &HTTPStreamFormat{Content: []byte{0xff, 0}},
				WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte{1, 2}}}},
		{"trailing bytes after tnetstring ignored", append(append([]byte{}, tnetItem...), "junk"...), "",
			Item{Channel: "t", HTTPStream: &HTTPStreamFormat{Content: []byte{0xff, 0}},
				WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte{1, 2}}}},
		{"M prefix", append([]byte("M"), mp...), "",
			Item{Channel: "m", WSMessage: &WSMessageFormat{Type: MessageBinary, Content: []byte{9}}}},
		{"SUB topic overrides channel", []byte(`J{"channel":"j","http-stream":{"content":"x"}}`), "topic",
			Item{Channel: "topic", HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}},
		{"SUB topic makes channel optional", []byte(`J{"http-stream":{"content":"x"}}`), "topic",
			Item{Channel: "topic", HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}},
		{"SUB topic skips channel type check", []byte(`J{"channel":5,"http-stream":{"content":"x"}}`), "topic",
			Item{Channel: "topic", HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}},
		{"pushpin-publish tnetstring", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("pz"), "formats", tnetstring.D(
			"http-stream", tnetstring.D("content", tnetstring.S("8 cli zmq push\n")),
			"ws-message", tnetstring.D("content", tnetstring.S("8 cli zmq push")),
			"http-response", tnetstring.D("body", tnetstring.S("8 cli zmq push\n"), "code", tnetstring.I(200))))), "",
			Item{Channel: "pz", HTTPStream: &HTTPStreamFormat{Content: []byte("8 cli zmq push\n")},
				WSMessage:    &WSMessageFormat{Content: []byte("8 cli zmq push")},
				HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte("8 cli zmq push\n")}}},
		{"tnetstring body-bin is not read", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"),
			"http-response", tnetstring.D("body-bin", tnetstring.S("AAAA"), "body", tnetstring.S("raw")))), "",
			Item{Channel: "c", HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Body: []byte("raw")}}},
		{"tnetstring content-bin not read for stream", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"),
			"http-stream", tnetstring.D("content-bin", tnetstring.S("AAAA"), "content", tnetstring.S("raw")))), "",
			Item{Channel: "c", HTTPStream: &HTTPStreamFormat{Content: []byte("raw")}}},
		{"tnetstring null optional fields are absent", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"),
			"id", tnetstring.N(), "meta", tnetstring.N(), "ws-message", tnetstring.N(),
			"http-stream", tnetstring.D("action", tnetstring.N(), "content", tnetstring.S("x")))), "",
			Item{Channel: "c", HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}},
		{"tnetstring int code and bytes code", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"),
			"http-response", tnetstring.D("code", tnetstring.S("201"), "body", tnetstring.S("")),
			"ws-message", tnetstring.D("action", tnetstring.S("close"), "code", tnetstring.I(1000)))), "",
			Item{Channel: "c", HTTPResponse: &HTTPResponseFormat{Code: 201, Reason: "Created", Body: []byte{}},
				WSMessage: &WSMessageFormat{Action: ActionClose, Code: 1000, HasCode: true}}},
		{"tnetstring float size", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"), "size", tnetstring.F(7),
			"http-stream", tnetstring.D("content", tnetstring.S("x")))), "",
			Item{Channel: "c", Size: 7, HasSize: true, HTTPStream: &HTTPStreamFormat{Content: []byte("x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeMessage(tt.msg, tt.channel)
			if err != nil {
				t.Fatalf("DecodeMessage: %v", err)
			}
			if !reflect.DeepEqual(normItem(got), normItem(tt.want)) {
				t.Fatalf("got  %s\nwant %s", dump([]Item{got}), dump([]Item{tt.want}))
			}
		})
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	tests := []struct {
		name   string
		msg    []byte
		kind   ErrorKind
		src    Source
		detail string
		log    string
	}{
		{"empty", nil, KindSyntax, SourceTnet, "", "received message with invalid format (tnetstring parse failed)"},
		{"J only", []byte("J"), KindSyntax, SourceJSON, "", "received message with invalid format (json parse failed)"},
		{"J bad json", []byte("J{"), KindSyntax, SourceJSON, "", "received message with invalid format (json parse failed)"},
		{"J array", []byte("J[]"), KindNotObject, SourceJSON, "", "received message with invalid format (not a valid json object)"},
		{"T truncated", []byte("T10:abc,"), KindSyntax, SourceTnet, "", "received message with invalid format (tnetstring parse failed)"},
		{"unknown prefix", []byte("X{}"), KindSyntax, SourceTnet, "", "received message with invalid format (tnetstring parse failed)"},
		{"tnet list", []byte("0:]"), KindInvalid, SourceTnet, "publish item object is not an object",
			"received message with invalid format: publish item object is not an object"},
		{"tnet no body", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"), "http-response", tnetstring.D())), KindInvalid, SourceTnet,
			"'http-response' does not contain 'body' or 'body-patch'", ""},
		{"tnet only body-bin", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"), "http-response", tnetstring.D("body-bin", tnetstring.S("")))), KindInvalid, SourceTnet,
			"'http-response' does not contain 'body' or 'body-patch'", ""},
		{"tnet no content", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"), "http-stream", tnetstring.D())), KindInvalid, SourceTnet,
			"'http-stream' does not contain 'content'", ""},
		{"tnet null channel", tnetstring.Encode(tnetstring.D("channel", tnetstring.N(), "http-stream", tnetstring.D("content", tnetstring.S("x")))), KindInvalid, SourceTnet,
			"publish item object contains 'channel' with wrong type", ""},
		{"tnet null format inside formats", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"), "formats", tnetstring.D("http-stream", tnetstring.N()))), KindInvalid, SourceTnet,
			"'http-stream' is not an object", ""},
		{"tnet only null direct formats", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"), "http-stream", tnetstring.N())), KindInvalid, SourceTnet,
			"no formats specified", ""},
		{"tnet null code", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"), "http-response", tnetstring.D("code", tnetstring.N(), "body", tnetstring.S("")))), KindInvalid, SourceTnet,
			"'http-response' contains 'code' with wrong type", ""},
		{"tnet ws content-bin int", tnetstring.Encode(tnetstring.D("channel", tnetstring.S("c"), "ws-message", tnetstring.D("content-bin", tnetstring.I(1)))), KindInvalid, SourceTnet,
			"'ws-message' contains 'content-bin' with wrong type", ""},
		{"M truncated", []byte("M\x81"), KindSyntax, SourceMsgpack, "", "received message with invalid format (msgpack parse failed)"},
		{"M array", []byte("M\x90"), KindInvalid, SourceMsgpack, "publish item object is not an object", ""},
		{"M huge string length", []byte("M\x81\xdb\xff\xff\xff\xff"), KindSyntax, SourceMsgpack, "", ""},
		{"M huge map count", []byte("M\xdf\xff\xff\xff\xff"), KindSyntax, SourceMsgpack, "", ""},
		{"M trailing", append([]byte("M"), append((&Item{Channel: "a", HTTPStream: &HTTPStreamFormat{}}).AppendMsgpack(nil), 0xc0)...), KindSyntax, SourceMsgpack, "", ""},
		{"M ext type", []byte("M\xd4\x01\x00"), KindSyntax, SourceMsgpack, "", ""},
		{"M int key", []byte("M\x81\x01\x01"), KindSyntax, SourceMsgpack, "", ""},
		{"M no body", []byte("M\x82\xa7channel\xa1c\xadhttp-response\x80"), KindInvalid, SourceMsgpack,
			"'http-response' does not contain 'body', 'body-bin', or 'body-patch'", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, err := DecodeMessage(tt.msg, "")
			if err == nil {
				t.Fatalf("DecodeMessage succeeded: %s", dump([]Item{it}))
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not *Error", err)
			}
			if pe.Kind != tt.kind || pe.Source != tt.src || pe.Detail != tt.detail || pe.Index != -1 {
				t.Fatalf("got kind=%d src=%v index=%d detail=%q (%v)", pe.Kind, pe.Source, pe.Index, pe.Detail, err)
			}
			if tt.log != "" && pe.LogText() != tt.log {
				t.Fatalf("LogText = %q, want %q", pe.LogText(), tt.log)
			}
		})
	}
}

func TestDecodeCommandArgs(t *testing.T) {
	args := tnetstring.D("items", tnetstring.L(
		tnetstring.D("channel", tnetstring.S("a"), "formats", tnetstring.D("http-stream", tnetstring.D("content", tnetstring.S("x")))),
		tnetstring.D("channel", tnetstring.S("b"), "formats", tnetstring.D("ws-message", tnetstring.D("action", tnetstring.S("close")))),
	))
	items, err := DecodeCommandArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{
		{Channel: "a", HTTPStream: &HTTPStreamFormat{Content: []byte("x")}},
		{Channel: "b", WSMessage: &WSMessageFormat{Action: ActionClose}},
	}
	if !reflect.DeepEqual(normItems(items), normItems(want)) {
		t.Fatalf("got %s", dump(items))
	}

	for _, tc := range []struct {
		args tnetstring.Value
		text string
	}{
		{tnetstring.D(), "Invalid format: object does not contain 'items'"},
		{tnetstring.D("items", tnetstring.S("x")), "Invalid format: object contains 'items' with wrong type"},
		{tnetstring.D("items", tnetstring.L(tnetstring.D("channel", tnetstring.S("a")))), "Invalid format: no formats specified"},
	} {
		_, err := DecodeCommandArgs(tc.args)
		var pe *Error
		if !errors.As(err, &pe) || pe.PushpinText() != tc.text {
			t.Fatalf("DecodeCommandArgs(%v) = %v, want %q", tc.args, err, tc.text)
		}
	}
}

func TestErrorRendering(t *testing.T) {
	e := &Error{Kind: KindInvalid, Index: 2, Detail: "no formats specified"}
	if got := e.Error(); got != "item 2: no formats specified" {
		t.Fatalf("Error() = %q", got)
	}
	if got := e.LogText(); got != "received message with invalid format: no formats specified" {
		t.Fatalf("LogText() = %q", got)
	}
	syn := &Error{Kind: KindSyntax, Source: SourceJSON, Index: -1, Err: errors.New("boom")}
	if got := syn.Error(); got != "invalid JSON: boom" || !errors.Is(syn, syn.Err) {
		t.Fatalf("syntax Error() = %q", got)
	}
}

func TestStatusText(t *testing.T) {
	for code, want := range map[int]string{
		200: "OK", 202: "Accepted", 226: "IM Used", 306: "Reserved", 404: "Not Found",
		413: "Request Entity Too Large", 418: "Undefined Reason", 451: "Undefined Reason",
		508: "Loop Detected", 0: "Undefined Reason", 999: "Undefined Reason", -1: "Undefined Reason",
	} {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestDecodeBase64(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a2E=", "ka"},
		{"a2E", "ka"},
		{"aGVsbG8=", "hello"},
		{"aGVs bG8\r\n", "hello"},
		{"a2E=a2E=", "ka\x1a\xd8"}, // data after padding is still decoded, bit-continuous, as in Qt
		{"====", ""},
		{"!!!", ""},
		{"QQ", "A"},
		{"Q", ""},
		{"_-", ""}, // base64url characters are not part of the standard alphabet
	}
	for _, tt := range tests {
		if got := string(DecodeBase64([]byte(tt.in))); got != tt.want {
			t.Errorf("DecodeBase64(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseQtInt(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"55", 55, true}, {" 7 ", 7, true}, {"+3", 3, true}, {"-3", -3, true}, {"0", 0, true},
		{"007", 7, true}, {"2147483647", 2147483647, true}, {"-2147483648", -2147483648, true},
		{"2147483648", 0, false}, {"99999999999999999999", 0, false}, {"", 0, false}, {" ", 0, false},
		{"+", 0, false}, {"1.5", 0, false}, {"1e3", 0, false}, {"0x10", 0, false}, {"1 2", 0, false}, {"abc", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseQtInt(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseQtInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// normItem maps empty byte slices to nil so equality ignores how an empty
// payload was represented.
func normItem(it Item) Item {
	norm := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	if f := it.HTTPResponse; f != nil {
		c := *f
		c.Body = norm(c.Body)
		it.HTTPResponse = &c
	}
	if f := it.HTTPStream; f != nil {
		c := *f
		c.Content = norm(c.Content)
		it.HTTPStream = &c
	}
	if f := it.WSMessage; f != nil {
		c := *f
		c.Content = norm(c.Content)
		it.WSMessage = &c
	}
	return it
}

func normItems(items []Item) []Item {
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = normItem(it)
	}
	return out
}

func dump(items []Item) string {
	var b []byte
	for i := range items {
		b = items[i].AppendJSON(b)
		b = append(b, ' ')
	}
	return string(b)
}

func TestToInt(t *testing.T) {
	tests := []struct {
		v    tnetstring.Value
		want int
		err  error
	}{
		{tnetstring.I(200), 200, nil},
		{tnetstring.I(-7), -7, nil},
		{tnetstring.F(2.5), 3, nil},
		{tnetstring.F(-2.5), -3, nil},
		{tnetstring.S(" 42 "), 42, nil},
		{tnetstring.S("+1"), 1, nil},
		{tnetstring.S("abc"), 0, ErrWrongType},
		{tnetstring.S(""), 0, ErrWrongType},
		{tnetstring.T(true), 0, ErrWrongType},
		{tnetstring.N(), 0, ErrWrongType},
		{tnetstring.L(), 0, ErrWrongType},
		{tnetstring.I(1 << 40), 0, ErrOutOfRange},
		{tnetstring.F(1e30), 0, ErrOutOfRange},
	}
	for _, tt := range tests {
		got, err := ToInt(tt.v)
		if got != tt.want || err != tt.err {
			t.Errorf("ToInt(%v) = %d, %v; want %d, %v", tt.v, got, err, tt.want, tt.err)
		}
	}
}

func TestParseHeadersExported(t *testing.T) {
	h, err := ParseHeaders(tnetstring.L(tnetstring.L(tnetstring.S("A"), tnetstring.S("1"))), "'x'")
	if err != nil || len(h) != 1 || h[0] != (Header{Name: "A", Value: "1"}) {
		t.Fatalf("ParseHeaders = %v, %v", h, err)
	}
	_, err = ParseHeaders(tnetstring.I(1), "'x'")
	var pe *Error
	if !errors.As(err, &pe) || pe.Detail != "'x' contains 'headers' with wrong type" {
		t.Fatalf("ParseHeaders error = %v", err)
	}
}
