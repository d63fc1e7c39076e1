// Command condurebench measures a condure binary side by side with
// Debian's: resident memory per idle held streaming connection, new
// connections accepted per second, and bytes per second streamed to many
// clients. Each condure runs standalone on loopback with the same built-in
// ZHTTP responder behind it (PULL/ROUTER/PUB, answering by path), so the
// figures compare the connection managers alone.
//
//	go run ./test/condure/condurebench -conns 10000
//
// Everything is bounded: each phase runs for -duration, every wait has a
// timeout, and the condure processes are stopped by pid at the end.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

func main() {
	ours := flag.String("ours", "bin/condure", "our condure binary")
	theirs := flag.String("theirs", "/usr/bin/condure", "Debian's condure binary")
	conns := flag.Int("conns", 10000, "held connections for the memory phase")
	streamClients := flag.Int("stream-clients", 1000, "clients for the streaming phase")
	chunk := flag.Int("chunk", 1024, "bytes per streamed chunk")
	duration := flag.Duration("duration", 3*time.Second, "length of the rate and streaming phases")
	workers := flag.Int("workers", 16, "client goroutines for the connection-rate phase")
	flag.Parse()
	for _, impl := range []struct{ name, bin string }{{"debian", *theirs}, {"ours", *ours}} {
		r, err := measure(impl.bin, *conns, *streamClients, *chunk, *workers, *duration)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", impl.name, err)
			os.Exit(1)
		}
		fmt.Printf("%-7s rss/held-conn %6.1f KiB (baseline %d KiB, %d held: %d KiB)  new conns/s %7.0f  stream %7.1f MB/s to %d clients\n",
			impl.name, r.perConnKiB, r.baseKiB, *conns, r.heldKiB, r.connRate, r.streamMBps, *streamClients)
	}
}

type result struct {
	baseKiB, heldKiB int
	perConnKiB       float64
	connRate         float64
	streamMBps       float64
}

func measure(bin string, conns, streamClients, chunk, workers int, d time.Duration) (result, error) {
	var res result
	dir, err := os.MkdirTemp("", "condurebench")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return res, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	base := "ipc://" + filepath.Join(dir, "c")
	cmd := exec.Command(bin, "--log-level=1", "--listen="+addr+",stream", "--zclient-stream="+base,
		"--buffer-size=8192", "--stream-maxconn="+strconv.Itoa(conns+streamClients+1000))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	rsp, err := newResponder(base, chunk)
	if err != nil {
		return res, err
	}
	defer rsp.close()
	if err := waitReady(addr); err != nil {
		return res, err
	}
	pid := cmd.Process.Pid

	// Phase 1: new connections per second (request, response, close).
	var done atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for time.Now().Before(stop) {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					continue
				}
				c.SetDeadline(time.Now().Add(2 * time.Second))
				io.WriteString(c, "GET /close HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
				n := 0
				for {
					k, err := c.Read(buf[n%len(buf):])
					n += k
					if err != nil {
						break
					}
				}
				c.Close()
				if n > 0 {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.connRate = float64(done.Load()) / d.Seconds()
	time.Sleep(500 * time.Millisecond)

	// Phase 2: RSS per idle held streaming connection.
	res.baseKiB = rssKiB(pid)
	held := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return res, fmt.Errorf("held conn %d: %w", i, err)
		}
		io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: b\r\n\r\n")
		held = append(held, c)
	}
	for i, c := range held {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReaderSize(c, 256)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
			return res, fmt.Errorf("held conn %d: %q %v", i, line, err)
		}
	}
	time.Sleep(time.Second)
	res.heldKiB = rssKiB(pid)
	res.perConnKiB = float64(res.heldKiB-res.baseKiB) / float64(conns)
	for _, c := range held {
		c.Close()
	}
	held = held[:0]
	time.Sleep(time.Second)

	// Phase 3: bytes/s streamed to many clients, credits permitting.
	var total atomic.Int64
	streams := make([]net.Conn, 0, streamClients)
	for i := 0; i < streamClients; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return res, err
		}
		io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: b\r\n\r\n")
		streams = append(streams, c)
	}
	begin := time.Now()
	stop = begin.Add(d)
	for _, c := range streams {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			defer c.Close()
			buf := make([]byte, 32<<10)
			c.SetReadDeadline(stop)
			for {
				n, err := c.Read(buf)
				total.Add(int64(n))
				if err != nil {
					return
				}
			}
		}(c)
	}
	wg.Wait()
	res.streamMBps = float64(total.Load()) / time.Since(begin).Seconds() / 1e6
	return res, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls until a request round-trips through the responder.
func waitReady(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(500 * time.Millisecond))
			io.WriteString(c, "GET /close HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
			b, _ := io.ReadAll(c)
			c.Close()
			if strings.HasPrefix(string(b), "HTTP/1.1 200") {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("condure at %s not ready", addr)
}

func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// responder answers by path: /close → complete 200; /hold → 200 with more
// and nothing after; /stream → 200 then chunks as fast as credits allow.
type responder struct {
	zc      *zmqx.Context
	cancel  context.CancelFunc
	pub     *zmqx.Actor
	chunk   []byte
	mu      sync.Mutex
	streams map[string]*stream
}

type stream struct {
	to      []byte
	seq     int
	credits int
}

const responderID = "bench-handler"

func newResponder(base string, chunk int) (*responder, error) {
	zc, err := zmqx.NewContext()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &responder{zc: zc, cancel: cancel, chunk: []byte(strings.Repeat("x", chunk)), streams: map[string]*stream{}}
	ep := func(s string) zmqx.Endpoint { return zmqx.Endpoint{Specs: []string{s}} }
	r.pub, err = zmqx.NewActor(ctx, zc, zmqx.Config{Type: zmq4.PUB, Endpoint: ep(base + "-in"), QueueSize: 65536,
		Options: []zmqx.SocketOption{zmqx.HWM(zmqx.StreamHWM)}})
	if err == nil {
		_, err = zmqx.NewActor(ctx, zc, zmqx.Config{Type: zmq4.PULL, Endpoint: ep(base + "-out"), Handler: r.onRequest})
	}
	if err == nil {
		_, err = zmqx.NewActor(ctx, zc, zmqx.Config{Type: zmq4.ROUTER, Endpoint: ep(base + "-out-stream"),
			Options: []zmqx.SocketOption{zmqx.Identity(responderID), zmqx.HWM(zmqx.StreamHWM)}, Handler: r.onStream})
	}
	if err != nil {
		cancel()
		zc.Close()
		return nil, err
	}
	return r, nil
}

func (r *responder) close() { r.cancel(); r.zc.Close() }

func (r *responder) send(to []byte, p *zhttp.Packet) {
	p.From = []byte(responderID)
	r.pub.Send(context.Background(), [][]byte{zhttp.AppendPubMessage(nil, to, p)})
}

func (r *responder) onRequest(_ *zmqx.Actor, msg [][]byte) {
	var p zhttp.Packet
	if len(msg) != 1 {
		return
	}
	if _, err := zhttp.Decode(msg[0], &p); err != nil {
		return
	}
	to := append([]byte(nil), p.From...)
	resp := &zhttp.Packet{ID: p.ID, Reason: "OK", Multi: true}
	resp.SetCode(200)
	resp.SetSeq(0)
	switch {
	case strings.HasSuffix(p.URI, "/hold"):
		resp.More = true
		r.send(to, resp)
	case strings.HasSuffix(p.URI, "/stream"):
		resp.More = true
		s := &stream{to: to, seq: 1, credits: p.Credits}
		r.mu.Lock()
		r.streams[string(p.ID)] = s
		r.pushLocked(p.ID, s, resp)
		r.mu.Unlock()
	default:
		resp.Body = []byte("ok\n")
		r.send(to, resp)
	}
}

// pushLocked sends chunks while credits last (head first, if given).
func (r *responder) pushLocked(id []byte, s *stream, head *zhttp.Packet) {
	if head != nil {
		r.send(s.to, head)
	}
	for s.credits >= len(r.chunk) {
		p := &zhttp.Packet{ID: id, Body: r.chunk, More: true}
		p.SetSeq(s.seq)
		s.seq++
		s.credits -= len(r.chunk)
		r.send(s.to, p)
	}
}

func (r *responder) onStream(_ *zmqx.Actor, msg [][]byte) {
	_, raw, err := zhttp.ParseRouterMessage(msg)
	if err != nil {
		return
	}
	var p zhttp.Packet
	if _, err := zhttp.Decode(raw, &p); err != nil || p.Type != zhttp.Credit {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.streams[string(p.ID)]
	if s == nil {
		return
	}
	s.credits += p.Credits
	r.pushLocked(p.ID, s, nil)
}
