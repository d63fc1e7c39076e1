package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Sizes are the counts and bounds of a run.
type Sizes struct {
	// Workload 1.
	GetConns    int
	GetDuration time.Duration
	GetWarmup   time.Duration
	// Workload 2: subscriber counts; workloads 2 and 4: publishes at
	// PublishRate per second.
	StreamSubs  []int
	Publishes   int
	PublishRate float64
	// Workload 3: channels (one subscriber each) and rounds (one message
	// per channel per round), Publishers concurrent POSTs of BatchSize.
	Channels   int
	Rounds     int
	Publishers int
	BatchSize  int
	// Workload 4: WebSocket client counts.
	WSClients []int
	// Workloads 5 and 6: held streams.
	Held int
	// Dialers is the number of concurrent connection attempts of workload
	// 6, where a failed attempt counts as a failure.
	Dialers int
	// SetupDialers and SetupAttempts open the subscribers of workloads
	// 2–4, where connecting is set-up, not the measure: a failed attempt is
	// retried (and counted), so the fan-out reaches the intended count.
	SetupDialers, SetupAttempts int
	DialTimeout                 time.Duration
	// WarmTimeout bounds the wait until every subscriber is subscribed.
	WarmTimeout time.Duration
	// DrainIdle ends the wait for deliveries when none arrived for this
	// long.
	DrainIdle time.Duration
	// RunTimeout bounds one workload against one stack, start to stop.
	RunTimeout time.Duration
}

// QuickSizes finish a whole run (both stacks) in about two minutes.
func QuickSizes() Sizes {
	return Sizes{
		GetConns: 32, GetDuration: 3 * time.Second, GetWarmup: 500 * time.Millisecond,
		StreamSubs: []int{1000}, Publishes: 20, PublishRate: 10,
		Channels: 2000, Rounds: 3, Publishers: 4, BatchSize: 100,
		WSClients: []int{1000},
		Held:      2000,
		Dialers:   256, SetupDialers: 64, SetupAttempts: 3, DialTimeout: 10 * time.Second,
		WarmTimeout: 10 * time.Second, DrainIdle: 5 * time.Second,
		RunTimeout: 90 * time.Second,
	}
}

// FullSizes are issue 8's counts.
func FullSizes() Sizes {
	return Sizes{
		GetConns: 32, GetDuration: 10 * time.Second, GetWarmup: time.Second,
		StreamSubs: []int{1000, 10000}, Publishes: 100, PublishRate: 10,
		Channels: 10000, Rounds: 10, Publishers: 4, BatchSize: 100,
		WSClients: []int{1000, 5000},
		Held:      10000,
		Dialers:   256, SetupDialers: 64, SetupAttempts: 3, DialTimeout: 20 * time.Second,
		WarmTimeout: 90 * time.Second, DrainIdle: 15 * time.Second,
		RunTimeout: 5 * time.Minute,
	}
}

// Options configure Bench.
type Options struct {
	// Mode names the sizes in the report ("quick", "full").
	Mode  string
	Sizes Sizes
	// PushpinRunner is Debian's `pushpin`; OurRunner is our bin/runner.
	PushpinRunner, OurRunner string
	// Impls are the stacks to run, in order (default: Pushpin, then ours).
	Impls []Impl
	// Only, if not empty, restricts the run to these workloads ("w1"…"w6";
	// w5 and w6 share a run).
	Only []string
	// WorkDir holds the per-run temp dirs (default: os.TempDir()).
	WorkDir string
	// Keep leaves every run dir in place; by default only failed runs'
	// dirs are kept, for their logs.
	Keep bool
	// LogLevel is the stacks' log level (default 1: warnings and errors).
	LogLevel int
	// Progress receives one line per step (nil: discarded).
	Progress io.Writer
}

// workload is one thing to run against each stack. A run may feed several
// results (workloads 5 and 6 share one set of held streams).
type workload struct {
	group   string // matched against Options.Only
	results []resultSpec
	run     func(ctx context.Context, e *env, st *Stack) (map[string]float64, error)
}

type resultSpec struct {
	id, kind, title string
	keys            []string
}

// env is what a workload needs besides its stack.
type env struct {
	sizes  Sizes
	origin *Origin
	log    func(format string, args ...any)
}

// Bench measures every selected workload against each stack and returns
// the report. It fails only on setup errors (no origin, no NOFILE); a stack that
// fails a workload is recorded in the report.
func Bench(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	rep := &Report{Mode: opts.Mode, Started: start}
	cur, _, err := RaiseNoFile()
	if err != nil {
		return nil, err
	}
	rep.Host = hostInfo(cur)
	if len(opts.Impls) == 0 {
		opts.Impls = []Impl{Pushpin, Ours}
	}
	if opts.LogLevel == 0 {
		opts.LogLevel = 1
	}
	if opts.WorkDir == "" {
		opts.WorkDir = os.TempDir()
	}
	need := uint64(max(opts.Sizes.Held, opts.Sizes.Channels, maxInt(opts.Sizes.StreamSubs), maxInt(opts.Sizes.WSClients)))
	if cur < need+1000 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("RLIMIT_NOFILE is %d, below the %d connections (+1000) asked for: expect failed connections", cur, need))
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	var logMu sync.Mutex
	e := &env{sizes: opts.Sizes, log: func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(progress, "%6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}}
	e.origin, err = StartOrigin()
	if err != nil {
		return nil, err
	}
	defer e.origin.Close()

	startFailed := map[Impl]error{}
	for _, w := range workloads(opts.Sizes) {
		if !selected(opts.Only, w.group) {
			continue
		}
		var results []*Result
		for _, rs := range w.results {
			r := &Result{ID: rs.id, Kind: rs.kind, Title: rs.title, Keys: rs.keys, Runs: map[Impl]*Run{}}
			results = append(results, r)
			rep.Results = append(rep.Results, r)
		}
		if w.group == "w1" {
			results[0].Origin = originCeiling(ctx, e)
		}
		for _, impl := range opts.Impls {
			if ctx.Err() != nil {
				break
			}
			var (
				m      map[string]float64
				secs   float64
				runErr error
			)
			if prev := startFailed[impl]; prev != nil {
				// A stack that could not start once will not start now:
				// retrying would only spend the run's time budget on
				// start-up timeouts.
				runErr = fmt.Errorf("not run: the stack failed to start for an earlier workload: %w", prev)
			} else {
				m, secs, runErr = runOne(ctx, e, opts, w, impl)
				var se *startError
				if errors.As(runErr, &se) {
					startFailed[impl] = se.err
				}
			}
			for i, r := range results {
				run := &Run{Seconds: secs}
				if runErr != nil {
					run.Error = runErr.Error()
				}
				if m != nil {
					run.Metrics = map[string]float64{}
					for _, k := range w.results[i].keys {
						if v, ok := m[k]; ok {
							run.Metrics[k] = v
						}
					}
				}
				r.Runs[impl] = run
			}
		}
		for _, r := range results {
			r.Finish()
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, ctx.Err()
}

func selected(only []string, group string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == group || (group == "w56" && (o == "w5" || o == "w6")) {
			return true
		}
	}
	return false
}

func maxInt(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func hostInfo(nofile uint64) Host {
	h := Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), NoFile: nofile}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		h.Kernel = charsToString(u.Release[:])
	}
	return h
}

func charsToString(cs []int8) string {
	b := make([]byte, 0, len(cs))
	for _, c := range cs {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// startError is a stack's failure to start.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// runOne starts impl's stack in a fresh dir, runs w against it and stops
// it, all within the run timeout.
func runOne(ctx context.Context, e *env, opts Options, w workload, impl Impl) (map[string]float64, float64, error) {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Sizes.RunTimeout)
	defer cancel()
	runner := opts.PushpinRunner
	if impl == Ours {
		runner = opts.OurRunner
	}
	dir, err := os.MkdirTemp(opts.WorkDir, "loadtool-"+w.group+"-"+string(impl)+"-")
	if err != nil {
		return nil, 0, fmt.Errorf("run dir: %w", err)
	}
	e.log("%s %s: starting the stack in %s", w.group, impl, dir)
	st, err := StartStack(ctx, StackConfig{Impl: impl, Runner: runner, Origin: e.origin.Addr(), Dir: dir, LogLevel: opts.LogLevel})
	if err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "log")); serr != nil {
			_ = os.RemoveAll(dir) // nothing was started: no logs to keep
		} else {
			err = fmt.Errorf("%w (logs kept in %s)", err, dir)
		}
		e.log("%s %s: %v", w.group, impl, oneLine(err.Error()))
		return nil, time.Since(t0).Seconds(), &startError{err}
	}
	m, runErr := w.run(ctx, e, st)
	if dead := st.deadChildren(); dead != "" {
		runErr = joinErrs(runErr, fmt.Errorf("%s during the workload%s", dead, st.logTail()))
	}
	if stopErr := st.Stop(); stopErr != nil {
		runErr = joinErrs(runErr, stopErr)
	}
	if runErr != nil {
		e.log("%s %s: %v (logs kept in %s)", w.group, impl, oneLine(runErr.Error()), dir)
	} else if !opts.Keep {
		_ = os.RemoveAll(dir)
	}
	return m, time.Since(t0).Seconds(), runErr
}

// deadChildren names the components that have exited since start-up.
func (s *Stack) deadChildren() string {
	s.childMu.Lock()
	defer s.childMu.Unlock()
	var dead []string
	for pid, exe := range s.childs {
		cur, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
		if err != nil || cur != exe {
			dead = append(dead, fmt.Sprintf("%s (pid %d) exited", filepath.Base(exe), pid))
		}
	}
	select {
	case <-s.exited:
		dead = append(dead, fmt.Sprintf("the runner exited (%v)", s.waitErr))
	default:
	}
	return strings.Join(dead, ", ")
}

// originCeiling runs workload 1 against the bare origin.
func originCeiling(ctx context.Context, e *env) *Run {
	e.log("w1 origin: %d keep-alive connections for %v", e.sizes.GetConns, e.sizes.GetDuration)
	m := startMeter(0)
	res, err := GetLoad{Addr: e.origin.Addr(), Host: e.origin.Addr(), Path: "/hello", Conns: e.sizes.GetConns,
		Duration: e.sizes.GetDuration, Warmup: e.sizes.GetWarmup, WantBody: HelloBody}.Run(ctx)
	tool, _, wall := m.stop()
	run := &Run{Metrics: getMetrics(res), Seconds: wall.Seconds()}
	run.Metrics["tool_cpu_pct"] = tool
	if err != nil {
		run.Error = err.Error()
	}
	return run
}

func getMetrics(r GetResult) map[string]float64 {
	return map[string]float64{
		"req_per_s": r.RPS,
		"errors":    float64(r.Errors),
		"p50_ms":    ms(r.Latency.P50),
		"p99_ms":    ms(r.Latency.P99),
		"max_ms":    ms(r.Latency.Max),
	}
}

var (
	w1Keys     = []string{"req_per_s", "p50_ms", "p99_ms", "max_ms", "errors", "tool_cpu_pct", "stack_cpu_pct"}
	fanoutKeys = []string{"connected", "retried", "failed", "delivered_pct", "delivered", "expected", "dupes", "deliveries_per_s",
		"fanout_per_s", "p50_ms", "p99_ms", "max_ms", "burst_p50_ms", "burst_max_ms", "tool_cpu_pct", "stack_cpu_pct"}
	w3Keys = []string{"connected", "retried", "failed", "delivered_pct", "delivered", "expected", "dupes", "publishes_per_s",
		"deliveries_per_s", "p50_ms", "p99_ms", "max_ms", "tool_cpu_pct", "stack_cpu_pct"}
	w5Keys = []string{"rss_idle_kib", "rss_held_kib", "kib_per_conn", "procs"}
	w6Keys = []string{"conns_per_s", "connected", "failed", "connect_s", "tool_cpu_pct", "stack_cpu_pct"}
)

// workloads lists the runs in order.
func workloads(s Sizes) []workload {
	ws := []workload{{
		group:   "w1",
		results: []resultSpec{{"w1", "w1", fmt.Sprintf("proxied small GETs, %d keep-alive connections, %v", s.GetConns, s.GetDuration), w1Keys}},
		run:     runGets,
	}}
	for _, n := range s.StreamSubs {
		ws = append(ws, workload{
			group: "w2",
			results: []resultSpec{{fmt.Sprintf("w2-%d", n), "w2",
				fmt.Sprintf("HTTP-stream fan-out: 1 channel, %d subscribers, %d publishes at %g/s", n, s.Publishes, s.PublishRate), fanoutKeys}},
			run: func(ctx context.Context, e *env, st *Stack) (map[string]float64, error) {
				return runFanout(ctx, e, st, fmt.Sprintf("w2-%d", n), n, HTTPStream)
			},
		})
	}
	ws = append(ws, workload{
		group: "w3",
		results: []resultSpec{{fmt.Sprintf("w3-%d", s.Channels), "w3",
			fmt.Sprintf("%d channels × 1 subscriber, %d rounds, %d items per POST, %d publishers", s.Channels, s.Rounds, s.BatchSize, s.Publishers), w3Keys}},
		run: runChannels,
	})
	for _, n := range s.WSClients {
		ws = append(ws, workload{
			group: "w4",
			results: []resultSpec{{fmt.Sprintf("w4-%d", n), "w4",
				fmt.Sprintf("WebSocket-over-HTTP fan-out: 1 channel, %d clients, %d publishes at %g/s", n, s.Publishes, s.PublishRate), fanoutKeys}},
			run: func(ctx context.Context, e *env, st *Stack) (map[string]float64, error) {
				return runFanout(ctx, e, st, fmt.Sprintf("w4-%d", n), n, WSMessage)
			},
		})
	}
	ws = append(ws, workload{
		group: "w56",
		results: []resultSpec{
			{fmt.Sprintf("w5-%d", s.Held), "w5", fmt.Sprintf("resident memory of the process tree, idle and with %d held streams", s.Held), w5Keys},
			{fmt.Sprintf("w6-%d", s.Held), "w6", fmt.Sprintf("new held streams up to %d, %d concurrent dialers", s.Held, s.Dialers), w6Keys},
		},
		run: runHeld,
	})
	return ws
}

// runGets is workload 1 through the stack.
func runGets(ctx context.Context, e *env, st *Stack) (map[string]float64, error) {
	s := e.sizes
	e.log("w1 %s: %d keep-alive connections for %v", st.Impl, s.GetConns, s.GetDuration)
	m := startMeter(st.Pid())
	res, err := GetLoad{Addr: st.HTTPAddr(), Host: st.HTTPAddr(), Path: "/hello", Conns: s.GetConns,
		Duration: s.GetDuration, Warmup: s.GetWarmup, WantBody: HelloBody}.Run(ctx)
	tool, stack, _ := m.stop()
	out := getMetrics(res)
	out["tool_cpu_pct"], out["stack_cpu_pct"] = tool, stack
	e.log("w1 %s: %.0f req/s, p99 %.2f ms, %d errors", st.Impl, res.RPS, ms(res.Latency.P99), res.Errors)
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("%d failed requests (first: %s)", res.Errors, res.FirstError)
	}
	return out, err
}

// dialErr describes failed connections as an error (nil when none failed).
func dialErr(dr DialResult, n int) error {
	if dr.Failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d connections failed (first: %s)", dr.Failed, n, dr.FirstError)
}

// runFanout is workloads 2 (HTTP streams) and 4 (WebSocket-over-HTTP): n
// subscribers on one channel, Publishes messages at PublishRate.
func runFanout(ctx context.Context, e *env, st *Stack, id string, n int, f Format) (map[string]float64, error) {
	s := e.sizes
	const channel = "fanout"
	sink := NewSink(n, s.Publishes, func(int) string { return channel })
	clients := &Clients{}
	defer clients.Close()
	e.log("%s %s: connecting %d subscribers", id, st.Impl, n)
	var dr DialResult
	if f == HTTPStream {
		dr = ConnectStreams(ctx, st.HTTPAddr(), sink, clients, s.SetupDialers, s.SetupAttempts, s.DialTimeout)
	} else {
		dr = ConnectWebSockets(ctx, st.HTTPAddr(), sink, clients, s.SetupDialers, s.SetupAttempts, s.DialTimeout)
	}
	errs := []error{dialErr(dr, n)}
	e.log("%s %s: %d connected (%d attempts retried), %d failed in %.1fs; warming up", id, st.Impl, dr.OK, dr.Retried, dr.Failed, dr.Elapsed.Seconds())
	pub := NewPublisher(st.PublishURL(), f)
	if _, err := warmUp(ctx, pub, sink, 300*time.Millisecond, s.WarmTimeout); err != nil {
		errs = append(errs, err)
	}
	e.log("%s %s: publishing %d messages at %g/s", id, st.Impl, s.Publishes, s.PublishRate)
	m := startMeter(st.Pid())
	pubNs, perr := publishPaced(ctx, pub, channel, s.Publishes, s.PublishRate)
	errs = append(errs, perr)
	waitDeliveries(ctx, sink, s.DrainIdle, time.Now().Add(s.RunTimeout))
	tool, stack, _ := m.stop()
	if err := clients.Close(); err != nil {
		errs = append(errs, err)
	}
	fs := sink.Stats(pubNs, firstNonZero(pubNs))
	errs = append(errs, deliveryErr(fs, s.DrainIdle))
	out := fanoutMetrics(fs)
	out["connected"], out["failed"], out["retried"] = float64(dr.OK), float64(dr.Failed), float64(dr.Retried)
	out["tool_cpu_pct"], out["stack_cpu_pct"] = tool, stack
	e.log("%s %s: delivered %d/%d, p99 %.1f ms, %.0f deliveries/s", id, st.Impl, fs.Delivered, fs.Expected, ms(fs.Latency.P99), fs.DeliveriesPerSec)
	return out, joinErrs(errs...)
}

// deliveryErr reports missing or duplicated deliveries.
func deliveryErr(fs FanoutStats, idle time.Duration) error {
	var errs []error
	if fs.Delivered < fs.Expected {
		errs = append(errs, fmt.Errorf("%d of %d deliveries arrived (none for %v at the end)", fs.Delivered, fs.Expected, idle))
	}
	if fs.Dupes > 0 {
		errs = append(errs, fmt.Errorf("%d duplicate deliveries", fs.Dupes))
	}
	if fs.Bad > 0 {
		errs = append(errs, fmt.Errorf("%d malformed messages", fs.Bad))
	}
	return joinErrs(errs...)
}

func fanoutMetrics(fs FanoutStats) map[string]float64 {
	pct := 0.0
	if fs.Expected > 0 {
		pct = 100 * float64(fs.Delivered) / float64(fs.Expected)
	}
	return map[string]float64{
		"delivered":        float64(fs.Delivered),
		"expected":         float64(fs.Expected),
		"delivered_pct":    pct,
		"dupes":            float64(fs.Dupes),
		"deliveries_per_s": fs.DeliveriesPerSec,
		"fanout_per_s":     fs.FanoutPerSec,
		"p50_ms":           ms(fs.Latency.P50),
		"p99_ms":           ms(fs.Latency.P99),
		"max_ms":           ms(fs.Latency.Max),
		"burst_p50_ms":     ms(fs.Burst.P50),
		"burst_max_ms":     ms(fs.Burst.Max),
	}
}

func firstNonZero(xs []int64) int64 {
	for _, x := range xs {
		if x > 0 {
			return x
		}
	}
	return 0
}

// publishPaced publishes count measured messages to channel at rate per
// second, on a fixed schedule (a slow POST delays only itself: the next one
// goes out at its scheduled time or at once if that has passed). It returns
// each message's publish time.
func publishPaced(ctx context.Context, pub *Publisher, channel string, count int, rate float64) ([]int64, error) {
	pubNs := make([]int64, count)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var failed int
	var first error
	for seq := 0; seq < count && ctx.Err() == nil; seq++ {
		if d := time.Until(start.Add(time.Duration(seq) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		ns := now()
		pubNs[seq] = ns
		if err := pub.Publish(ctx, []Msg{{Channel: channel, Content: measuredPayload(seq, ns)}}); err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed > 0 {
		return pubNs, fmt.Errorf("%d of %d publishes failed (first: %w)", failed, count, first)
	}
	return pubNs, ctx.Err()
}

// runChannels is workload 3: Channels channels with one stream each;
// Rounds rounds of one message per channel, BatchSize items per POST, from
// Publishers concurrent publishers as fast as the handler accepts them.
func runChannels(ctx context.Context, e *env, st *Stack) (map[string]float64, error) {
	s := e.sizes
	n := s.Channels
	sink := NewSink(n, s.Rounds, func(i int) string { return "ch-" + strconv.Itoa(i) })
	clients := &Clients{}
	defer clients.Close()
	e.log("w3 %s: connecting %d subscribers", st.Impl, n)
	dr := ConnectStreams(ctx, st.HTTPAddr(), sink, clients, s.SetupDialers, s.SetupAttempts, s.DialTimeout)
	errs := []error{dialErr(dr, n)}
	e.log("w3 %s: %d connected (%d attempts retried), %d failed in %.1fs; warming up", st.Impl, dr.OK, dr.Retried, dr.Failed, dr.Elapsed.Seconds())
	pub := NewPublisher(st.PublishURL(), HTTPStream)
	if _, err := warmUp(ctx, pub, sink, 300*time.Millisecond, s.WarmTimeout); err != nil {
		errs = append(errs, err)
	}
	perRound := (n + s.BatchSize - 1) / s.BatchSize
	total := perRound * s.Rounds
	e.log("w3 %s: %d POSTs of %d items", st.Impl, total, s.BatchSize)
	pubNs := make([]int64, s.Rounds)
	var (
		next, items, failed atomic.Int64
		firstErr            atomic.Value
		wg                  sync.WaitGroup
	)
	m := startMeter(st.Pid())
	t0 := time.Now()
	for p := 0; p < s.Publishers; p++ {
		wg.Add(1)
		// Owner: runChannels; each publisher takes batches until none is left.
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				b := int(next.Add(1) - 1)
				if b >= total {
					return
				}
				round, lo := b/perRound, (b%perRound)*s.BatchSize
				hi := min(lo+s.BatchSize, n)
				ns := now()
				storeEarliest(&pubNs[round], ns)
				batch := make([]Msg, 0, hi-lo)
				for i := lo; i < hi; i++ {
					batch = append(batch, Msg{Channel: sink.subs[i].Channel, Content: measuredPayload(round, ns)})
				}
				if err := pub.Publish(ctx, batch); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				items.Add(int64(len(batch)))
			}
		}()
	}
	wg.Wait()
	postElapsed := time.Since(t0)
	waitDeliveries(ctx, sink, s.DrainIdle, time.Now().Add(s.RunTimeout))
	tool, stack, _ := m.stop()
	if err := clients.Close(); err != nil {
		errs = append(errs, err)
	}
	if f := failed.Load(); f > 0 {
		errs = append(errs, fmt.Errorf("%d of %d publish POSTs failed (first: %v)", f, total, firstErr.Load()))
	}
	fs := sink.Stats(pubNs, firstNonZero(pubNs))
	errs = append(errs, deliveryErr(fs, s.DrainIdle))
	out := fanoutMetrics(fs)
	out["publishes_per_s"] = perSecond(items.Load(), postElapsed)
	out["connected"], out["failed"], out["retried"] = float64(dr.OK), float64(dr.Failed), float64(dr.Retried)
	out["tool_cpu_pct"], out["stack_cpu_pct"] = tool, stack
	e.log("w3 %s: %.0f publishes/s, delivered %d/%d, %.0f deliveries/s", st.Impl, out["publishes_per_s"], fs.Delivered, fs.Expected, fs.DeliveriesPerSec)
	return out, joinErrs(errs...)
}

// storeEarliest stores v into *a when *a is still zero or holds a later
// time: a round's publish time is its first POST's.
func storeEarliest(a *int64, v int64) {
	for i := 0; i < 1000; i++ {
		cur := atomic.LoadInt64(a)
		if cur != 0 && cur <= v {
			return
		}
		if atomic.CompareAndSwapInt64(a, cur, v) {
			return
		}
	}
}

// runHeld is workloads 6 then 5: Held new streams on one channel with
// Dialers concurrent dialers (rate and failures), then the process tree's
// resident memory with them held, against the idle figure taken first.
func runHeld(ctx context.Context, e *env, st *Stack) (map[string]float64, error) {
	s := e.sizes
	idle := st.Usage()
	sink := NewSink(s.Held, 0, func(int) string { return "held" })
	clients := &Clients{}
	defer clients.Close()
	e.log("w5/w6 %s: idle RSS %d KiB in %d processes; opening %d held streams", st.Impl, idle.RSSKiB, idle.Procs, s.Held)
	m := startMeter(st.Pid())
	dr := ConnectStreams(ctx, st.HTTPAddr(), sink, clients, s.Dialers, 1, s.DialTimeout)
	tool, stack, _ := m.stop()
	errs := []error{dialErr(dr, s.Held)}
	e.log("w5/w6 %s: %d connected, %d failed in %.1fs (%.0f/s); warming up", st.Impl, dr.OK, dr.Failed, dr.Elapsed.Seconds(), dr.PerSec)
	pub := NewPublisher(st.PublishURL(), HTTPStream)
	if _, err := warmUp(ctx, pub, sink, 300*time.Millisecond, s.WarmTimeout); err != nil {
		errs = append(errs, err)
	}
	held := st.Usage()
	out := map[string]float64{
		"conns_per_s":   dr.PerSec,
		"connected":     float64(dr.OK),
		"failed":        float64(dr.Failed),
		"connect_s":     dr.Elapsed.Seconds(),
		"tool_cpu_pct":  tool,
		"stack_cpu_pct": stack,
		"rss_idle_kib":  float64(idle.RSSKiB),
		"rss_held_kib":  float64(held.RSSKiB),
		"procs":         float64(held.Procs),
	}
	if dr.OK > 0 {
		out["kib_per_conn"] = float64(held.RSSKiB-idle.RSSKiB) / float64(dr.OK)
	}
	e.log("w5/w6 %s: held RSS %d KiB: %.1f KiB per connection (%s)", st.Impl, held.RSSKiB, out["kib_per_conn"], perProcess(idle, held, dr.OK))
	if err := clients.Close(); err != nil {
		errs = append(errs, err)
	}
	return out, joinErrs(errs...)
}

// perProcess renders each process's share of the held-connection memory,
// largest first: "condure 14.2, pushpin-handler 9.8, ..." KiB per connection.
func perProcess(idle, held TreeUsage, conns int64) string {
	if conns <= 0 {
		return ""
	}
	type share struct {
		name string
		kib  float64
	}
	var shares []share
	for name, kib := range held.ByName {
		shares = append(shares, share{name, float64(kib-idle.ByName[name]) / float64(conns)})
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].kib > shares[j].kib })
	parts := make([]string, len(shares))
	for i, sh := range shares {
		parts[i] = fmt.Sprintf("%s %.1f", sh.name, sh.kib)
	}
	return "KiB/conn by process: " + strings.Join(parts, ", ")
}
