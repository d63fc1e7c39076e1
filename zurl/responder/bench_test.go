package responder

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// BenchmarkStreamedResponse moves a 8 MB response through the responder,
// granting credits back as packets arrive (as pushpin-proxy does).
func BenchmarkStreamedResponse(b *testing.B) {
	const size = 8 << 20
	chunk := make([]byte, 64*1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for sent := 0; sent < size; sent += len(chunk) {
			w.Write(chunk)
		}
	}))
	defer srv.Close()
	e := startEnvB(b)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := "b" + string(rune('a'+i%26)) + itoa(i)
		p := req(id, "GET", srv.URL)
		p.SetCredits(200000)
		if err := e.in.Send(p); err != nil {
			b.Fatal(err)
		}
		seq, got := 1, 0
		for {
			r, err := e.in.Recv(10e9)
			if err != nil {
				b.Fatal(err)
			}
			if r.Type != zhttp.Data {
				continue
			}
			got += len(r.Body)
			if !r.More {
				break
			}
			// pushpin-proxy passes on condure's grants, which come in
			// pieces of about the client buffer (8 KiB).
			for left := len(r.Body); left > 0; left -= 8192 {
				c := later(id, seq)
				seq++
				c.Type = zhttp.Credit
				c.SetCredits(min(left, 8192))
				e.in.SendStream(c)
			}
		}
		if got != size {
			b.Fatalf("got %d", got)
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

// BenchmarkSmallGET is the per-request path pushpin-proxy drives for a
// proxied small GET: a first packet on in_spec, the keep-alive
// acknowledgement and one data packet with a 6-byte body, 16 requests in
// flight over pooled origin connections.
func BenchmarkSmallGET(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello\n"))
	}))
	defer srv.Close()
	e := startEnvB(b)
	const window = 16
	b.ReportAllocs()
	b.ResetTimer()
	for sent, done := 0, 0; done < b.N; {
		for sent < b.N && sent-done < window {
			p := req("s"+itoa(sent), "GET", srv.URL+"/small")
			p.Headers = []zhttp.Header{{Name: "Accept", Value: "*/*"}, {Name: "User-Agent", Value: "bench"}}
			if err := e.in.Send(p); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		r, err := e.in.Recv(10e9)
		if err != nil {
			b.Fatal(err)
		}
		if r.Type == zhttp.Data && !r.More {
			done++
		} else if r.Type != zhttp.KeepAlive {
			b.Fatalf("unexpected %+v", r)
		}
	}
}
