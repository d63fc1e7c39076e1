// Command zprobe is a scripted ZHTTP responder used to observe how a condure
// (Debian's or ours) behaves: it prints every packet it receives and answers
// according to the request path. It is a development aid for comparing the
// two implementations by hand; the automated tests use zhttptest directly.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/condure/internal/zhttptest"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

func main() {
	base := flag.String("base", "ipc:///tmp/zprobe/client", "condure --zclient-stream base")
	dur := flag.Duration("for", 30*time.Second, "how long to run")
	flag.Parse()
	r, err := zhttptest.New(*base, zhttptest.Options{ID: "h1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer r.Close()
	r2, err := zhttptest.New(*base, zhttptest.Options{ID: "h2", NoPull: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer r2.Close()
	type sess struct {
		path string
		seq  int
		body int
	}
	sessions := map[string]*sess{}
	end := time.Now().Add(*dur)
	go func() {
		for time.Now().Before(end) {
			m, err := r2.Recv(time.Second)
			if err == nil {
				fmt.Printf("%s h2 %s\n", time.Now().Format("15:04:05.000"), m)
			}
		}
	}()
	for time.Now().Before(end) {
		m, err := r.Recv(time.Second)
		if err != nil {
			continue
		}
		fmt.Printf("%s h1 %s\n", time.Now().Format("15:04:05.000"), m)
		p := &m.Packet
		id := string(p.ID)
		to := string(p.From)
		s := sessions[id]
		if s == nil {
			path := p.URI
			if i := strings.Index(path, "://"); i >= 0 {
				path = path[i+3:]
				if j := strings.IndexByte(path, '/'); j >= 0 {
					path = path[j:]
				}
			}
			s = &sess{path: path}
			sessions[id] = s
		}
		send := func(q *zhttp.Packet) {
			q.ID = []byte(id)
			q.SetSeq(s.seq)
			s.seq++
			if err := r.Send(to, q); err != nil {
				fmt.Println("send:", err)
			}
		}
		resp := func(code int, reason, body string, more bool, hdrs ...zhttp.Header) {
			q := &zhttp.Packet{Reason: reason, Headers: hdrs, Body: []byte(body), More: more}
			q.SetCode(code)
			send(q)
		}
		if m.Via == zhttptest.ViaPull {
			switch {
			case strings.HasPrefix(s.path, "/plain"):
				resp(200, "OK", "hello\n", false, zhttp.Header{Name: "Content-Type", Value: "text/plain"})
			case strings.HasPrefix(s.path, "/stream"):
				resp(200, "OK", "", true, zhttp.Header{Name: "Content-Type", Value: "text/plain"})
				for i := 0; i < 3; i++ {
					send(&zhttp.Packet{Body: []byte(fmt.Sprintf("chunk%d\n", i)), More: true})
				}
				send(&zhttp.Packet{Body: []byte{}})
			case strings.HasPrefix(s.path, "/cl"):
				resp(200, "OK", "ab", true, zhttp.Header{Name: "Content-Length", Value: "5"}, zhttp.Header{Name: "Connection", Value: "close"}, zhttp.Header{Name: "Transfer-Encoding", Value: "chunked"})
				send(&zhttp.Packet{Body: []byte("cde")})
			case strings.HasPrefix(s.path, "/err"):
				send(&zhttp.Packet{Type: zhttp.Error, Condition: "bad-request"})
			case strings.HasPrefix(s.path, "/cancel"):
				send(&zhttp.Packet{Type: zhttp.Cancel})
			case strings.HasPrefix(s.path, "/204"):
				resp(204, "No Content", "xyz", false)
			case strings.HasPrefix(s.path, "/304"):
				resp(304, "Not Modified", "xyz", false)
			case strings.HasPrefix(s.path, "/late"):
				// Answer only after the client had time to leave.
				time.Sleep(1500 * time.Millisecond)
				resp(200, "OK", "", true)
			case strings.HasPrefix(s.path, "/hold"):
				resp(200, "OK", "", true)
			case strings.HasPrefix(s.path, "/reject"):
				q := &zhttp.Packet{Type: zhttp.Error, Condition: "rejected", Reason: "Forbidden", Body: []byte("nope\n"),
					Headers: []zhttp.Header{{Name: "X-A", Value: "1"}, {Name: "Upgrade", Value: "x"}, {Name: "Sec-WebSocket-Accept", Value: "zz"}}}
				q.SetCode(403)
				send(q)
			case strings.HasPrefix(s.path, "/ws"):
				q := &zhttp.Packet{Reason: "Switching Protocols", Headers: []zhttp.Header{{Name: "X-Probe", Value: "1"}, {Name: "Sec-WebSocket-Extensions", Value: "foo"}}}
				q.SetCode(101)
				q.SetCredits(10000)
				send(q)
			case strings.HasPrefix(s.path, "/post"):
				if p.More {
					q := &zhttp.Packet{Type: zhttp.Credit}
					q.SetCredits(100000)
					send(q)
				} else {
					resp(200, "OK", fmt.Sprintf("got %d\n", len(p.Body)), false)
				}
			case strings.HasPrefix(s.path, "/handoff"):
				send(&zhttp.Packet{Type: zhttp.KeepAlive, Multi: true})
				send(&zhttp.Packet{Type: zhttp.HandoffStart})
			}
			continue
		}
		switch {
		case p.Type == zhttp.HandoffProceed:
			q := &zhttp.Packet{Type: zhttp.KeepAlive, Multi: true, ID: []byte(id)}
			q.SetSeq(s.seq)
			s.seq++
			r2.Send(to, q)
			q = &zhttp.Packet{Reason: "OK", Body: []byte("from h2\n"), ID: []byte(id)}
			q.SetCode(200)
			q.SetSeq(s.seq)
			s.seq++
			r2.Send(to, q)
		case strings.HasPrefix(s.path, "/post") && p.Type == zhttp.Data:
			s.body += len(p.Body)
			if !p.More {
				resp(200, "OK", fmt.Sprintf("got %d\n", s.body), false)
			}
		case strings.HasPrefix(s.path, "/ws"):
			switch p.Type {
			case zhttp.Data:
				if n := map[string]int{"burst": 20, "flood": 3000}[string(p.Body)]; n > 0 {
					// A burst of small messages, to see how condure
					// queues them (--messages-max).
					for i := 0; i < n; i++ {
						send(&zhttp.Packet{ContentType: "text", Body: []byte(fmt.Sprintf("m%d", i))})
					}
					continue
				}
				send(&zhttp.Packet{ContentType: p.ContentType, Body: append([]byte("echo:"), p.Body...), More: p.More})
			case zhttp.Ping:
				send(&zhttp.Packet{Type: zhttp.Pong, Body: p.Body})
			case zhttp.Close:
				q := &zhttp.Packet{Type: zhttp.Close}
				q.SetCode(1000)
				send(q)
			}
		}
	}
}
