package grip

import "testing"

func BenchmarkParseHeaders(b *testing.B) {
	in := Response{Code: 200, Reason: "OK", Headers: hdrs(
		"Content-Type", "text/event-stream",
		"Grip-Hold", "stream",
		"Grip-Channel", "news; prev-id=41; filter=skip-self, sports",
		"Grip-Keep-Alive", `:\n\n; format=cstring; timeout=20`,
		"Grip-Set-Meta", `user="alice"`,
		"Server", "origin"), Body: []byte("event: open\n\n")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBody(b *testing.B) {
	in := instructResp(`{"hold":{"mode":"response","channels":[{"name":"a","prev-id":"1"}],"timeout":30},"response":{"headers":{"Content-Type":"application/json"},"body":"{}\n"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIsInstruct(b *testing.B) {
	h := hdrs("Content-Type", "text/html", "Server", "x", "Date", "y", "Content-Length", "10", "Cache-Control", "no-cache")
	b.ReportAllocs()
	for b.Loop() {
		if IsInstruct(h, "text/html") {
			b.Fatal("instruct")
		}
	}
}
