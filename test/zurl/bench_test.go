//go:build e2e

package zurl

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/test/harness"
)

// TestBenchPushpinZurl is the side-by-side load tool: Debian's Pushpin with
// Debian's zurl, then with ours, measuring proxied small GETs (requests/s
// and p99 latency at a fixed concurrency) and the throughput of a 50 MB
// streamed response. It reports figures and asserts nothing about speed.
// It runs only with ZURL_BENCH=1 (ZURL_BENCH_SECONDS, ZURL_BENCH_CONC tune
// it), so the regular e2e suite stays short.
func TestBenchPushpinZurl(t *testing.T) {
	if os.Getenv("ZURL_BENCH") == "" {
		t.Skip("set ZURL_BENCH=1 to run the zurl benchmark")
	}
	harness.RequireDebian(t, harness.Runner, harness.Condure, harness.Proxy, harness.Handler, harness.Zurl)
	secs, _ := strconv.Atoi(os.Getenv("ZURL_BENCH_SECONDS"))
	if secs <= 0 {
		secs = 5
	}
	conc, _ := strconv.Atoi(os.Getenv("ZURL_BENCH_CONC"))
	if conc <= 0 {
		conc = 16
	}
	for _, impl := range []harness.Impl{harness.Debian, harness.Ours} {
		t.Run(impl.String(), func(t *testing.T) {
			o := harness.NewOrigin(t)
			o.Handle("/small", harness.Text(200, "hello\n"))
			chunk := make([]byte, 64*1024)
			o.HandleFunc("/50mb", func(w http.ResponseWriter, r *http.Request) {
				for sent := 0; sent < 50<<20; sent += len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			})
			in := harness.Stack{
				Runner: harness.Debian, Condure: harness.Debian, Proxy: harness.Debian, Handler: harness.Debian,
				Zurl: impl, Routes: []string{"* " + o.Target()}, Verbose: os.Getenv("ZURL_BENCH_VERBOSE") != "",
			}.Start(t)
			if os.Getenv("ZURL_BENCH_VERBOSE") != "" {
				defer func() {
					b, _ := os.ReadFile(in.LogFile("zurl"))
					m := regexp.MustCompile(`OUT id=\S+ (?:code=\d+ )?(\d+)`).FindAllSubmatch(b, -1)
					total := 0
					var sizes []int
					for _, x := range m {
						n, _ := strconv.Atoi(string(x[1]))
						total += n
						sizes = append(sizes, n)
					}
					sort.Ints(sizes)
					q := func(f float64) int {
						if len(sizes) == 0 {
							return 0
						}
						return sizes[int(f*float64(len(sizes)-1))]
					}
					fmt.Printf("PACKETS zurl=%s: %d data packets, %d body bytes, avg %d, sizes p10 %d p50 %d p90 %d max %d\n",
						impl, len(m), total, total/max(len(m), 1), q(0.1), q(0.5), q(0.9), q(1))
				}()
			}
			client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: conc, DisableCompression: true}}
			defer client.CloseIdleConnections()
			url := in.HTTPURL()

			// warm up
			for i := 0; i < 50; i++ {
				get(client, url+"/small")
			}
			pid := in.Pids[harness.Zurl]
			cpu0 := cpuTime(pid)
			var mu sync.Mutex
			var lat []time.Duration
			errs := 0
			stop := time.Now().Add(time.Duration(secs) * time.Second)
			var wg sync.WaitGroup
			for w := 0; w < conc; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					bad := 0
					for time.Now().Before(stop) {
						t0 := time.Now()
						if n, err := get(client, url+"/small"); err != nil || n != 6 {
							bad++
							continue
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					errs += bad
					mu.Unlock()
				}()
			}
			wg.Wait()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			p := func(q float64) time.Duration {
				if len(lat) == 0 {
					return 0
				}
				return lat[int(q*float64(len(lat)-1))]
			}
			rps := float64(len(lat)) / float64(secs)
			cpu1 := cpuTime(pid)

			t0 := time.Now()
			n, err := get(client, url+"/50mb")
			el := time.Since(t0)
			mbps := float64(n) / el.Seconds() / (1 << 20)
			cpu2 := cpuTime(pid)
			msg := fmt.Sprintf("zurl=%s small GETs: %.0f req/s (conc %d, %ds, %d errors), p50 %v p99 %v, zurl CPU %.0f µs/req; 50 MB stream: %d bytes in %v = %.1f MB/s, zurl CPU %v (err %v)",
				impl, rps, conc, secs, errs, p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond),
				float64((cpu1-cpu0).Microseconds())/float64(max(len(lat), 1)), n, el.Round(time.Millisecond), mbps, (cpu2 - cpu1).Round(time.Millisecond), err)
			t.Log(msg)
			fmt.Println("BENCH", msg)
		})
	}
}

func get(c *http.Client, url string) (int64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

// cpuTime is the user+system CPU time of a process (Linux /proc, clock
// ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}
