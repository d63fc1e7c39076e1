package connmgr

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// TestHeldStreamFootprint reports the Go memory an idle held streaming
// connection costs (heap and goroutine stacks), measured in process. It
// only runs with CONDURE_MEM=N (connections); figures are logged, never
// asserted.
func TestHeldStreamFootprint(t *testing.T) {
	n := 0
	fmt.Sscan(os.Getenv("CONDURE_MEM"), &n)
	if n == 0 {
		t.Skip("set CONDURE_MEM=<connections> to measure")
	}
	if os.Getenv("CONDURE_HEAPPROF") != "" {
		runtime.MemProfileRate = 1
	}
	e := start(t, nil)
	measure := func() (runtime.MemStats, int) {
		for i := 0; i < 3; i++ {
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms, runtime.NumGoroutine()
	}
	before, g0 := measure()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c := e.dial()
		fmt.Fprintf(c, "GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
		s, _ := e.request()
		s.multi = true
		s.respond(200, "", true)
		conns = append(conns, c)
	}
	// Let every connection write its head and go idle.
	buf := make([]byte, 4096)
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(wait))
		got := 0
		for got < 50 {
			m, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got += m
		}
	}
	after, g1 := measure()
	if f := os.Getenv("CONDURE_HEAPPROF"); f != "" {
		out, _ := os.Create(f)
		pprof.Lookup("heap").WriteTo(out, 0)
		out.Close()
	}
	per := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(n) }
	t.Logf("%d held: goroutines/conn %.2f heap-inuse/conn %.0f B stack-inuse/conn %.0f B heap-objects/conn %.1f sys/conn %.0f B",
		n, float64(g1-g0)/float64(n), per(after.HeapInuse, before.HeapInuse), per(after.StackInuse, before.StackInuse),
		per(after.HeapObjects, before.HeapObjects), per(after.Sys, before.Sys))
}
