package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Clients owns a workload's subscriber connections and their reader
// goroutines: Close closes every connection, which ends every reader.
type Clients struct {
	mu     sync.Mutex
	conns  []io.Closer
	closed bool
	wg     sync.WaitGroup
}

// add registers a connection and starts its reader. If the group is
// already closed the connection is closed at once.
func (c *Clients) add(conn io.Closer, read func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return
	}
	c.conns = append(c.conns, conn)
	c.wg.Add(1)
	// Owner: the Clients group; the reader exits when its connection is
	// closed (by the server or by Close).
	go func() {
		defer c.wg.Done()
		read()
	}()
}

// Len is the number of connections registered.
func (c *Clients) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

// Close closes every connection and waits (at most 10 s) for the readers.
func (c *Clients) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for _, conn := range conns {
		conn.Close()
	}
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("client readers did not exit within 10 s of closing their connections")
	}
}

// DialResult is the outcome of opening many connections.
type DialResult struct {
	// OK connections were established; Failed ones failed every attempt.
	OK, Failed int64
	// Retried counts failed attempts that were tried again.
	Retried    int64
	FirstError string
	Elapsed    time.Duration
	// PerSec is successful connections per second of Elapsed.
	PerSec float64
}

// dialAll runs dial(i) for i in [0, n) with the given number of concurrent
// dialers, making up to attempts tries per index, counting successes and
// failures.
func dialAll(ctx context.Context, n, dialers, attempts int, dial func(ctx context.Context, i int) error) DialResult {
	var (
		next     atomic.Int64
		ok, bad  atomic.Int64
		retried  atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	if dialers > n {
		dialers = n
	}
	start := time.Now()
	for w := 0; w < dialers; w++ {
		wg.Add(1)
		// Owner: dialAll; each dialer takes indexes until all are taken.
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var err error
				for a := 0; a < max(attempts, 1) && ctx.Err() == nil; a++ {
					if a > 0 {
						retried.Add(1)
					}
					if err = dial(ctx, i); err == nil {
						break
					}
					firstErr.CompareAndSwap(nil, err.Error())
				}
				if err != nil {
					bad.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	r := DialResult{OK: ok.Load(), Failed: bad.Load(), Retried: retried.Load(), Elapsed: time.Since(start)}
	if skipped := int64(n) - r.OK - r.Failed; skipped > 0 {
		r.Failed += skipped
		firstErr.CompareAndSwap(nil, fmt.Sprintf("%d connections not attempted: %v", skipped, ctx.Err()))
	}
	if v, okv := firstErr.Load().(string); okv {
		r.FirstError = v
	}
	r.PerSec = perSecond(r.OK, r.Elapsed)
	return r
}

// dialStream opens a keep-alive-less HTTP/1.1 GET of path on addr and
// returns once the response headers (status 200) have arrived: the moment
// the stack holds the stream. The returned reader yields the decoded body.
func dialStream(ctx context.Context, addr, path string, timeout time.Duration) (net.Conn, io.Reader, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: pushpin-go-loadtool\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("write request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), nil)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("read response headers: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		conn.Close()
		return nil, nil, fmt.Errorf("status %d: %q", resp.StatusCode, body)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, resp.Body, nil
}

// readLines feeds every newline-terminated line of body (without the
// newline) to fn with its receive time, until body ends. Overlong lines are
// skipped.
func readLines(body io.Reader, fn func(line []byte, recv int64)) {
	br := bufio.NewReaderSize(body, 256)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return
		}
		fn(bytes.TrimRight(line, "\r\n"), now())
	}
}

// ConnectStreams opens n held streams on addr, stream i at /stream/<channel
// of subscriber i>, with the given number of concurrent dialers, and feeds
// what they receive to sink. The connections join clients.
func ConnectStreams(ctx context.Context, addr string, sink *Sink, clients *Clients, dialers, attempts int, timeout time.Duration) DialResult {
	return dialAll(ctx, len(sink.subs), dialers, attempts, func(ctx context.Context, i int) error {
		conn, body, err := dialStream(ctx, addr, "/stream/"+sink.subs[i].Channel, timeout)
		if err != nil {
			return err
		}
		sink.Connected(i)
		clients.add(conn, func() {
			readLines(body, func(line []byte, recv int64) { sink.Receive(i, line, recv) })
		})
		return nil
	})
}

// ConnectWebSockets opens n WebSocket connections on addr, connection i at
// /ws/<channel of subscriber i> (a WebSocket-over-HTTP route), and feeds
// their messages to sink.
func ConnectWebSockets(ctx context.Context, addr string, sink *Sink, clients *Clients, dialers, attempts int, timeout time.Duration) DialResult {
	dialer := websocket.Dialer{
		NetDialContext:   (&net.Dialer{Timeout: timeout}).DialContext,
		HandshakeTimeout: timeout,
		ReadBufferSize:   512,
		WriteBufferSize:  512,
		Proxy:            nil,
	}
	return dialAll(ctx, len(sink.subs), dialers, attempts, func(ctx context.Context, i int) error {
		conn, resp, err := dialer.DialContext(ctx, "ws://"+addr+"/ws/"+sink.subs[i].Channel, nil)
		if err != nil {
			if resp != nil {
				return fmt.Errorf("websocket handshake: status %d: %w", resp.StatusCode, err)
			}
			return fmt.Errorf("websocket handshake: %w", err)
		}
		conn.SetReadLimit(1 << 16)
		sink.Connected(i)
		clients.add(conn, func() {
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					return
				}
				sink.Receive(i, msg, now())
			}
		})
		return nil
	})
}
