package publish

import "testing"

var benchItem = Item{Channel: "news", ID: "42", PrevID: "41", Meta: map[string]string{"sender": "alice"},
	HTTPResponse: &HTTPResponseFormat{Code: 200, Reason: "OK", Headers: []Header{{Name: "Content-Type", Value: "text/plain"}},
		Body: []byte("hello world\n")},
	HTTPStream: &HTTPStreamFormat{Content: []byte("hello world\n")},
	WSMessage:  &WSMessageFormat{Content: []byte("hello world")}}

func benchDecode(b *testing.B, msg []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := DecodeMessage(msg, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMessageTnet(b *testing.B) { benchDecode(b, benchItem.AppendTnet(nil)) }
func BenchmarkDecodeMessageJSON(b *testing.B) {
	benchDecode(b, append([]byte("J"), benchItem.AppendJSON(nil)...))
}
func BenchmarkDecodeMessageMsgpack(b *testing.B) {
	benchDecode(b, append([]byte("M"), benchItem.AppendMsgpack(nil)...))
}

func BenchmarkDecodeBody(b *testing.B) {
	items := make([]Item, 10)
	for i := range items {
		items[i] = benchItem
	}
	body := AppendBodyJSON(nil, items)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeBody(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendTnet(b *testing.B) {
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = benchItem.AppendTnet(buf[:0])
	}
}

func BenchmarkApplyPatch(b *testing.B) {
	doc := []byte("{\"status\":\"pending\",\"items\":[1,2,3],\"meta\":{\"a\":\"b\"}}\n")
	patch := []byte(`[{"op":"replace","path":"/status","value":"done"},{"op":"add","path":"/items/-","value":4}]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ApplyPatch(doc, patch); err != nil {
			b.Fatal(err)
		}
	}
}
