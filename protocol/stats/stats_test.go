package stats

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

const from = "pushpin-handler_7602"

// Captured with a SUB probe on the handler's stats socket (reference §8.1).
var verified = []struct {
	name string
	msg  string
	want Packet
}{
	{"conn", "conn T107:12:peer-address,9:127.0.0.1,4:type,4:http,3:ttl,3:120#4:from,20:pushpin-handler_7602,2:id,13:condure:1-0-b,}",
		&Conn{Common: Common{From: from}, ID: "condure:1-0-b", ConnType: ConnHTTP, PeerAddress: "127.0.0.1", TTL: 120}},
	{"sub", "sub T94:11:subscribers,1:1#4:mode,6:stream,3:ttl,2:60#4:from,20:pushpin-handler_7602,7:channel,4:test,}",
		&Sub{Common: Common{From: from}, Mode: ModeStream, Channel: "test", TTL: 60, Subscribers: 1}},
	{"message", "message T87:5:count,1:1#9:transport,11:http-stream,4:from,20:pushpin-handler_7602,7:channel,4:test,}",
		&Message{Common: Common{From: from}, Channel: "test", Count: 1, Transport: TransportHTTPStream}},
	{"activity", "activity T43:5:count,1:2#4:from,20:pushpin-handler_7602,}",
		&Activity{Common: Common{From: from}, Count: 2}},
}

func TestVerifiedPackets(t *testing.T) {
	for _, tt := range verified {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode([]byte(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tt.want) {
				t.Fatalf("Decode = %+v, want %+v", p, tt.want)
			}
			// Same keys and values as the capture; only the (Qt hash)
			// order may differ, so lengths match.
			enc := Encode(tt.want)
			if len(enc) != len(tt.msg) || !bytes.HasPrefix(enc, []byte(tt.name+" T")) {
				t.Fatalf("Encode = %q, capture %q", enc, tt.msg)
			}
			a, _ := tnetstring.Decode(enc[len(tt.name)+2:])
			b, _ := tnetstring.Decode([]byte(tt.msg[len(tt.name)+2:]))
			if !a.Equal(b) {
				t.Fatalf("Encode = %q, capture %q", enc, tt.msg)
			}
		})
	}
}

func TestVerifiedJSONReport(t *testing.T) {
	// §8.1's report, as the handler writes it with stats_format=json.
	msg := `report J{"connections":2,"minutes":2,"received":1,"sent":1,"http-response-sent":0,"duration":4737,"client-content-bytes-sent":40,"client-header-bytes-sent":119,"from":"pushpin-handler_7602"}`
	p, err := Decode([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	want := &Report{Common: Common{From: from}, Connections: 2, Minutes: 2, Received: 1, Sent: 1, Duration: 4737,
		ClientContentBytesSent: 40, ClientHeaderBytesSent: 119}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("Decode = %+v", p)
	}
}

func TestRoundTrip(t *testing.T) {
	full := &Report{Common: Common{From: "pushpin-proxy_1", Route: "r1"}, Connections: 1, Minutes: 2, Received: 3, Sent: 4,
		HTTPResponseSent: 5, HasBlocks: true, BlocksReceived: 6, BlocksSent: 7, Duration: 10000,
		ClientHeaderBytesReceived: 8, ClientHeaderBytesSent: 9, ClientContentBytesReceived: 10, ClientContentBytesSent: 11,
		ClientMessagesReceived: 12, ClientMessagesSent: 13, ServerHeaderBytesReceived: 14, ServerHeaderBytesSent: 15,
		ServerContentBytesReceived: 16, ServerContentBytesSent: 17, ServerMessagesReceived: 18, ServerMessagesSent: 19}
	packets := []Packet{
		&Activity{Common: Common{From: "x", Route: "r"}, Count: 0},
		&Counts{Common: Common{From: "pushpin-proxy_1"}, RequestsReceived: 5},
		&Counts{},
		&Message{Common: Common{From: "h"}, Channel: "c", ItemID: "id-1", Count: 3, Transport: TransportWSMessage, HasBlocks: true, Blocks: 0},
		&Conn{Common: Common{From: "h"}, ID: "e2a3a753-2f2e-42ed-aaa2-dc23cf3646f2", ConnType: ConnWS, PeerAddress: "::1", SSL: true, TTL: 120},
		&Conn{Common: Common{From: "h"}, ID: "condure:1-0-b", Unavailable: true},
		&Sub{Mode: ModeResponse, Channel: "c", Unavailable: true},
		&Sub{Mode: ModeWS, Channel: "c", TTL: 60},
		full,
		&Report{},
	}
	for _, p := range packets {
		for _, f := range []Format{FormatT, FormatJ} {
			msg := Append(nil, f, p)
			got, err := Decode(msg)
			if err != nil {
				t.Fatalf("Decode(%q): %v", msg, err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Fatalf("%q decodes as %+v, want %+v", msg, got, p)
			}
		}
	}
	// Optional fields are omitted when unset.
	for _, tt := range []struct {
		p    Packet
		want string
	}{
		{&Counts{}, "counts T0:}"},
		{&Activity{Count: -3}, "activity T" + tn("5:count,1:0#")},
		{&Conn{ID: "a:1", Unavailable: true, ConnType: ConnHTTP, TTL: 5}, "conn T" + tn("2:id,3:a:1,11:unavailable,4:true!")},
		{&Sub{Mode: "stream", Channel: "c", TTL: 60, Subscribers: 2}, "sub T" + tn("4:mode,6:stream,7:channel,1:c,3:ttl,2:60#11:subscribers,1:2#")},
	} {
		if got := string(Encode(tt.p)); got != tt.want {
			t.Errorf("Encode(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
	if got := string(Append(nil, FormatJ, &Message{Channel: "c", Count: 1, Transport: "http-response"})); got != `message J{"channel":"c","count":1,"transport":"http-response"}` {
		t.Errorf("JSON message = %s", got)
	}
}

// tn wraps a dict payload in its length prefix and type byte.
func tn(payload string) string { return strconv.Itoa(len(payload)) + ":" + payload + "}" }

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, msg, err string }{
		{"no separator", "activity", "no type separator"},
		{"no payload", "activity ", "activity message has no payload"},
		{"bad format", "activity X{}", "unknown format 'X'"},
		{"bad tnetstring", "activity T5:count", "activity: tnetstring"},
		{"bad json", "activity J{", "activity: json"},
		{"not a dict", "activity T0:]", "activity payload is a list, not a dict"},
		{"unknown type", "conn-max T0:}", `unknown packet type "conn-max"`},
		{"activity no count", "activity T0:}", "activity: missing count"},
		{"activity negative", `activity J{"count":-1}`, "count -1 is negative"},
		{"activity string count", `activity J{"count":"1"}`, "count must be of type int, not string"},
		{"activity float count", `activity J{"count":1.5}`, "count must be of type int, not float"},
		{"from int", `activity J{"count":1,"from":1}`, "from must be of type string, not int"},
		{"route list", `counts J{"route":[]}`, "route must be of type string, not list"},
		{"counts negative", `counts J{"requests-received":-2}`, "requests-received -2 is negative"},
		{"message no channel", `message J{"count":1,"transport":"ws-message"}`, "missing channel"},
		{"message no transport", `message J{"channel":"c","count":1}`, "missing transport"},
		{"message blocks string", `message J{"channel":"c","count":1,"transport":"t","blocks":"2"}`, "blocks must be of type int"},
		{"message item-id int", `message J{"channel":"c","count":1,"transport":"t","item-id":5}`, "item-id must be of type string"},
		{"conn no id", `conn J{"type":"http","ttl":1}`, "missing id"},
		{"conn bad type", `conn J{"id":"a","type":"tcp","ttl":1}`, `type "tcp" is neither "http" nor "ws"`},
		{"conn no ttl", `conn J{"id":"a","type":"ws"}`, "missing ttl"},
		{"conn bad address", `conn J{"id":"a","type":"ws","ttl":1,"peer-address":"example.com"}`, `peer-address "example.com" is not an IP address`},
		{"conn unavailable string", `conn J{"id":"a","unavailable":"true"}`, "unavailable must be of type bool"},
		{"conn ssl int", `conn J{"id":"a","type":"ws","ttl":1,"ssl":1}`, "ssl must be of type bool"},
		{"sub no mode", `sub J{"channel":"c","ttl":1}`, "missing mode"},
		{"sub negative subscribers", `sub J{"mode":"ws","channel":"c","ttl":1,"subscribers":-1}`, "subscribers -1 is negative"},
		{"report string", `report J{"sent":"1"}`, "sent must be of type int, not string"},
		{"report overflow", `report J{"duration":9999999999}`, "duration 9999999999 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.msg))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Decode(%q) = %v, want ErrInvalid mentioning %q", tt.msg, err, tt.err)
			}
		})
	}
	// A disconnected conn or unsubscribed sub needs no ttl; unavailable
	// false means connected.
	if p, err := Decode([]byte(`conn J{"id":"a","unavailable":true}`)); err != nil || !p.(*Conn).Unavailable {
		t.Fatalf("disconnected conn = %+v, %v", p, err)
	}
	if _, err := Decode([]byte(`conn J{"id":"a","unavailable":false}`)); err == nil {
		t.Fatal("connected conn without type accepted")
	}
}

func TestReportArgs(t *testing.T) {
	r := &Report{Common: Common{From: "pushpin-handler_1"}, Connections: 3, Duration: 10000}
	got, err := ParseReportArgs(ReportArgs(r))
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("ParseReportArgs = %+v, %v", got, err)
	}
	if _, err := ParseReportArgs(tnetstring.D()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("missing stats accepted: %v", err)
	}
	if _, err := ParseReportArgs(tnetstring.D("stats", tnetstring.L())); !errors.Is(err, ErrInvalid) {
		t.Fatalf("list stats accepted: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	if len(Metrics) != 5 || Metrics[0].Name != "request_received" || Metrics[1].Type != "gauge" {
		t.Fatalf("Metrics = %+v", Metrics)
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range verified {
		f.Add([]byte(v.msg))
	}
	f.Add([]byte(`report J{"connections":2,"minutes":2,"duration":4737,"blocks-sent":1}`))
	f.Add([]byte(`conn J{"id":"a","unavailable":true}`))
	f.Add([]byte(`counts T0:}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, f := range []Format{FormatT, FormatJ} {
			if f == FormatJ && !utf8.Valid(Encode(p)) {
				continue // JSON cannot carry non-UTF-8 strings
			}
			msg := Append(nil, f, p)
			q, err := Decode(msg)
			if err != nil {
				t.Fatalf("re-decode of %q failed: %v", msg, err)
			}
			if !reflect.DeepEqual(norm(p), norm(q)) {
				t.Fatalf("round trip changed %+v to %+v", p, q)
			}
		}
	})
}

// norm clears what encoding legitimately drops: fields of a disconnected
// conn or an unsubscribed sub, and a non-positive counts value.
func norm(p Packet) Packet {
	switch x := p.(type) {
	case *Conn:
		c := *x
		if c.Unavailable {
			c.ConnType, c.PeerAddress, c.SSL, c.TTL = "", "", false, 0
		}
		return &c
	case *Sub:
		s := *x
		if s.Unavailable {
			s.TTL, s.Subscribers = 0, 0
		}
		return &s
	}
	return p
}

// Messages captured from Debian's pushpin-handler 1.36 with
// stats_format=json (keys come out sorted, Qt's QJsonObject order).
func TestCapturedJSON(t *testing.T) {
	tests := []struct {
		msg  string
		want Packet
	}{
		{`report J{"client-content-bytes-received":0,"client-content-bytes-sent":0,"client-header-bytes-received":0,"client-header-bytes-sent":0,"client-messages-received":0,"client-messages-sent":0,"connections":2,"duration":999,"from":"pushpin-handler_6896","http-response-sent":0,"minutes":0,"received":2,"sent":2,"server-content-bytes-received":0,"server-content-bytes-sent":0,"server-header-bytes-received":0,"server-header-bytes-sent":0,"server-messages-received":0,"server-messages-sent":0}`,
			&Report{Common: Common{From: "pushpin-handler_6896"}, Connections: 2, Duration: 999, Received: 2, Sent: 2}},
		// A conn packet our encoder sent as the proxy, republished by the
		// handler with its own from.
		{`conn J{"from":"pushpin-handler_6896","id":"condure:9-9-9","peer-address":"127.0.0.1","ttl":120,"type":"http"}`,
			&Conn{Common: Common{From: "pushpin-handler_6896"}, ID: "condure:9-9-9", ConnType: ConnHTTP, PeerAddress: "127.0.0.1", TTL: 120}},
		{`sub J{"channel":"test","from":"pushpin-handler_6896","mode":"ws","subscribers":1,"ttl":60}`,
			&Sub{Common: Common{From: "pushpin-handler_6896"}, Mode: ModeWS, Channel: "test", TTL: 60, Subscribers: 1}},
		{`message J{"channel":"test","count":1,"from":"pushpin-handler_6896","transport":"ws-message"}`,
			&Message{Common: Common{From: "pushpin-handler_6896"}, Channel: "test", Count: 1, Transport: TransportWSMessage}},
		{`activity J{"count":3,"from":"pushpin-handler_6896"}`, &Activity{Common: Common{From: "pushpin-handler_6896"}, Count: 3}},
	}
	for _, tt := range tests {
		p, err := Decode([]byte(tt.msg))
		if err != nil || !reflect.DeepEqual(p, tt.want) {
			t.Errorf("Decode(%s) = %+v, %v", tt.msg, p, err)
		}
		// Our JSON has the same members (order aside): same length.
		if enc := Append(nil, FormatJ, tt.want); len(enc) != len(tt.msg) {
			t.Errorf("JSON encoding %s, captured %s", enc, tt.msg)
		}
	}
}
