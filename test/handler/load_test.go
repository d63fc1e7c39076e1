//go:build e2e

package handler

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/test/harness"
)

// TestLoadCompare is the side-by-side load comparison (not run by default:
// set HANDLER_LOAD=subscribers,messages, e.g. HANDLER_LOAD=2000,50). N
// streaming subscribers hold one channel; M messages, each carrying its
// publish time, are published over HTTP one after another; it reports
// deliveries per second and p50/p99 publish-to-delivery latency for Debian's
// handler and ours behind the same Debian condure and proxy.
func TestLoadCompare(t *testing.T) {
	spec := os.Getenv("HANDLER_LOAD")
	if spec == "" {
		t.Skip("set HANDLER_LOAD=subscribers,messages to run")
	}
	ns, ms, _ := strings.Cut(spec, ",")
	subs, _ := strconv.Atoi(ns)
	msgs, _ := strconv.Atoi(ms)
	configure := func(c *harness.Config) {
		c.Extra = map[string]map[string]string{"handler": {"message_rate": "-1", "message_hwm": "-1"}}
	}
	both(t, configure, func(t *testing.T, e *env) {
		var hits atomic.Int64
		hold := harness.GripHold("stream", "load", "text/plain", "")
		e.origin.HandleFunc("/load", func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			hold.ServeHTTP(w, r)
		})
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		conns := make([]net.Conn, 0, subs)
		for i := 0; i < subs; i++ {
			c, err := net.Dial("tcp", e.HTTPAddr())
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			conns = append(conns, c)
			fmt.Fprintf(c, "GET /load HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		start := make(chan struct{})
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := bufio.NewReader(c)
				got := 0
				var mine []time.Duration
				_ = c.SetReadDeadline(time.Now().Add(120 * time.Second))
				for got < msgs {
					line, err := r.ReadString('\n')
					if err != nil {
						break
					}
					if ts, ok := strings.CutPrefix(strings.TrimSpace(line), "t="); ok {
						n, _ := strconv.ParseInt(ts, 10, 64)
						mine = append(mine, time.Since(time.Unix(0, n)))
						got++
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		close(start)
		// Wait until the origin has answered every subscriber, then for
		// the handoffs to settle.
		for deadline := time.Now().Add(60 * time.Second); hits.Load() < int64(subs) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		begin := time.Now()
		for i := 0; i < msgs; i++ {
			harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("load", fmt.Sprintf("t=%d\n", time.Now().UnixNano())))
		}
		wg.Wait()
		el := time.Since(begin)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		if len(lat) == 0 {
			t.Fatal("nothing delivered")
		}
		p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
		t.Logf("%s: %d/%d deliveries in %v = %.0f/s, p50 %v, p99 %v", implName(t), len(lat), subs*msgs, el.Round(time.Millisecond),
			float64(len(lat))/el.Seconds(), p(0.5).Round(time.Microsecond), p(0.99).Round(time.Microsecond))
	})
}
