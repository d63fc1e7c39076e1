package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// GetLoad is workload 1's generator: Conns keep-alive connections, each
// sending GET Path back to back (one request in flight per connection) until
// Duration has passed or MaxRequests have been sent in total.
type GetLoad struct {
	// Addr is host:port to connect to; Host is the Host header.
	Addr, Host, Path string
	Conns            int
	Duration         time.Duration
	// Warmup runs first and is not measured (connections and zurl's
	// origin connections get established).
	Warmup time.Duration
	// MaxRequests bounds the measured requests (0: 10 million).
	MaxRequests int64
	// WantBody, if set, is the exact body every 200 must carry.
	WantBody string
}

// GetResult is what a GetLoad measured.
type GetResult struct {
	Requests int64 // answered 200 with the expected body
	Errors   int64 // transport errors, other statuses, wrong bodies
	Elapsed  time.Duration
	Latency  Dist
	RPS      float64
	// FirstError describes the first error seen, if any.
	FirstError string
}

// maxSamplesPerConn bounds the latency samples kept per connection (the
// rest are counted but not kept): 8 MB per connection at most.
const maxSamplesPerConn = 1 << 20

// Run executes the load. It returns an error only when nothing could be
// measured at all.
func (g GetLoad) Run(ctx context.Context) (GetResult, error) {
	if g.Conns <= 0 || g.Duration <= 0 {
		return GetResult{}, fmt.Errorf("get load: need conns > 0 and duration > 0")
	}
	maxReq := g.MaxRequests
	if maxReq <= 0 {
		maxReq = 10_000_000
	}
	req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: pushpin-go-loadtool\r\n\r\n", g.Path, g.Host))

	var (
		measuring atomic.Bool
		sent      atomic.Int64
		okN, errN atomic.Int64
		firstErr  atomic.Value
		wg        sync.WaitGroup
	)
	samples := make([][]int64, g.Conns)
	warmEnd := time.Now().Add(g.Warmup)
	end := warmEnd.Add(g.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	noteErr := func(err error) {
		errN.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	// The clock starts when the warm-up ends; requests already in flight
	// then are not counted.
	var measuredStart time.Time
	var startMu sync.Mutex
	warmTimer := time.AfterFunc(g.Warmup, func() {
		startMu.Lock()
		measuredStart = time.Now()
		startMu.Unlock()
		measuring.Store(true)
	})
	defer warmTimer.Stop()
	for i := 0; i < g.Conns; i++ {
		wg.Add(1)
		// Owner: Run; each worker stops at the deadline or the count.
		go func(i int) {
			defer wg.Done()
			var conn net.Conn
			var br *bufio.Reader
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			lat := make([]int64, 0, 1024)
			for reconnects := 0; ctx.Err() == nil && reconnects < 1000; {
				if conn == nil {
					d := net.Dialer{Timeout: 5 * time.Second}
					c, err := d.DialContext(ctx, "tcp", g.Addr)
					if err != nil {
						if ctx.Err() == nil {
							noteErr(fmt.Errorf("dial: %w", err))
						}
						reconnects++
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn, br = c, bufio.NewReaderSize(c, 4096)
				}
				m := measuring.Load()
				if m && sent.Add(1) > maxReq {
					break
				}
				_ = conn.SetDeadline(end.Add(5 * time.Second))
				t0 := time.Now()
				err := roundTrip(conn, br, req, g.WantBody)
				d := time.Since(t0)
				if err == errServerClosed {
					// Answered, but the connection is not reusable.
					conn.Close()
					conn = nil
					err = nil
				}
				if err != nil {
					if ctx.Err() == nil && m {
						noteErr(err)
					}
					conn.Close()
					conn = nil
					reconnects++
					continue
				}
				if m {
					okN.Add(1)
					if len(lat) < maxSamplesPerConn {
						lat = append(lat, int64(d))
					}
				}
			}
			samples[i] = lat
		}(i)
	}
	wg.Wait()
	startMu.Lock()
	if measuredStart.IsZero() {
		measuredStart = warmEnd
	}
	startMu.Unlock()
	elapsed := time.Since(measuredStart)
	if now := time.Now(); now.After(end) {
		elapsed = end.Sub(measuredStart)
	}
	var all []int64
	for _, s := range samples {
		all = append(all, s...)
	}
	res := GetResult{
		Requests: okN.Load(),
		Errors:   errN.Load(),
		Elapsed:  elapsed,
		Latency:  Summarize(all),
		RPS:      perSecond(okN.Load(), elapsed),
	}
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	if res.Requests == 0 {
		return res, fmt.Errorf("get load: no successful request (%d errors, first: %s)", res.Errors, res.FirstError)
	}
	return res, nil
}

// errServerClosed means the response was fine but the server closed the
// keep-alive connection.
var errServerClosed = errors.New("server closed the keep-alive connection")

// roundTrip writes one request and reads its response fully.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte, want string) error {
	if _, err := conn.Write(req); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	var buf [256]byte
	n, err := io.ReadFull(resp.Body, buf[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		resp.Body.Close()
		return fmt.Errorf("read body: %w", err)
	}
	if err == nil {
		// Longer than any expected body: drain it so the connection stays
		// usable, and report it.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if want != "" && string(buf[:n]) != want {
		return fmt.Errorf("unexpected body %q", trim(buf[:n], 80))
	}
	if resp.Close {
		return errServerClosed
	}
	return nil
}
