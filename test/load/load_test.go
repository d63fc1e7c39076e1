package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/protocol/wsevents"
)

func TestPercentile(t *testing.T) {
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(i + 1)
	}
	tests := []struct {
		name   string
		sorted []int64
		p      float64
		want   int64
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", []int64{7}, 50, 7},
		{"one sample p99", []int64{7}, 99, 7},
		{"two samples p50", []int64{1, 9}, 50, 1},
		{"two samples p99", []int64{1, 9}, 99, 9},
		{"1..100 p50", hundred, 50, 50},
		{"1..100 p99", hundred, 99, 99},
		{"1..100 p100", hundred, 100, 100},
		{"1..100 p0 is the minimum", hundred, 0, 1},
		{"1..100 above 100 clamps", hundred, 150, 100},
		{"duplicates", []int64{5, 5, 5, 5}, 99, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %d, want %d", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	if d := Summarize(nil); d != (Dist{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", d)
	}
	// Unsorted input, one outlier: p50 and p99 by nearest rank.
	s := []int64{}
	for i := 200; i >= 1; i-- {
		s = append(s, int64(i)*int64(time.Millisecond))
	}
	s = append(s, int64(10*time.Second))
	d := Summarize(s)
	if d.N != 201 || d.P50 != 101*time.Millisecond || d.P99 != 199*time.Millisecond || d.Max != 10*time.Second {
		t.Errorf("Summarize = %+v", d)
	}
	if s[0] > s[len(s)-1] {
		t.Error("Summarize did not sort in place")
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		ours, theirs float64
		want         float64
		ok           bool
	}{
		{10, 2, 5, true},
		{0, 2, 0, true},
		{1, 0, 0, false},
		{math.NaN(), 1, 0, false},
		{1, math.Inf(1), 0, false},
	}
	for _, tc := range tests {
		got, ok := Ratio(tc.ours, tc.theirs)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Ratio(%v, %v) = %v, %v; want %v, %v", tc.ours, tc.theirs, got, ok, tc.want, tc.ok)
		}
	}
}

func run(m map[string]float64) *Run { return &Run{Metrics: m} }

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name string
		r    *Result
		want []bool
	}{
		{
			name: "w1 both pass",
			r: &Result{Kind: "w1", Runs: map[Impl]*Run{
				Ours: run(map[string]float64{"req_per_s": 20000}), Pushpin: run(map[string]float64{"req_per_s": 3400})},
				Origin: run(map[string]float64{"req_per_s": 73000})},
			want: []bool{true, true},
		},
		{
			name: "w1 just under 5x, under 25% of origin",
			r: &Result{Kind: "w1", Runs: map[Impl]*Run{
				Ours: run(map[string]float64{"req_per_s": 16999}), Pushpin: run(map[string]float64{"req_per_s": 3400})},
				Origin: run(map[string]float64{"req_per_s": 73000})},
			want: []bool{false, false},
		},
		{
			name: "w1 ours failed to start",
			r: &Result{Kind: "w1", Runs: map[Impl]*Run{
				Ours: {Error: "our proxy binary is missing"}, Pushpin: run(map[string]float64{"req_per_s": 3400})},
				Origin: run(map[string]float64{"req_per_s": 73000})},
			want: []bool{false, false},
		},
		{
			name: "w1 no Pushpin figure",
			r: &Result{Kind: "w1", Runs: map[Impl]*Run{
				Ours: run(map[string]float64{"req_per_s": 20000}), Pushpin: {Error: "pushpin not installed"}},
				Origin: run(map[string]float64{"req_per_s": 73000})},
			want: []bool{false, true},
		},
		{
			name: "w2 fast, complete, low latency",
			r: &Result{Kind: "w2", Runs: map[Impl]*Run{
				Ours:    run(map[string]float64{"fanout_per_s": 30000, "delivered_pct": 100, "p99_ms": 100}),
				Pushpin: run(map[string]float64{"fanout_per_s": 10000, "delivered_pct": 100, "p99_ms": 1100})}},
			want: []bool{true, true, true},
		},
		{
			name: "w4 one message lost, p99 over",
			r: &Result{Kind: "w4", Runs: map[Impl]*Run{
				Ours:    run(map[string]float64{"fanout_per_s": 30000, "delivered_pct": 99.99, "p99_ms": 100.5}),
				Pushpin: run(map[string]float64{"fanout_per_s": 10000, "delivered_pct": 100, "p99_ms": 9000})}},
			want: []bool{true, false, false},
		},
		{
			name: "w3 figures but the run failed",
			r: &Result{Kind: "w3", Runs: map[Impl]*Run{
				Ours:    {Error: "condure (pid 12) exited", Metrics: map[string]float64{"deliveries_per_s": 90000, "delivered_pct": 100}},
				Pushpin: run(map[string]float64{"deliveries_per_s": 27000, "delivered_pct": 100})}},
			want: []bool{false, false},
		},
		{
			name: "w5 at the limit",
			r:    &Result{Kind: "w5", Runs: map[Impl]*Run{Ours: run(map[string]float64{"kib_per_conn": 20})}},
			want: []bool{true},
		},
		{
			name: "w5 over the limit",
			r:    &Result{Kind: "w5", Runs: map[Impl]*Run{Ours: run(map[string]float64{"kib_per_conn": 20.01})}},
			want: []bool{false},
		},
		{
			name: "w6 fast but one failure",
			r: &Result{Kind: "w6", Runs: map[Impl]*Run{
				Ours: run(map[string]float64{"conns_per_s": 6000, "failed": 1}), Pushpin: run(map[string]float64{"conns_per_s": 1800})}},
			want: []bool{true, false},
		},
		{"unknown kind", &Result{Kind: "w9"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.r)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d verdicts %+v, want %d", len(got), got, len(tc.want))
			}
			for i, v := range got {
				if v.Pass != tc.want[i] {
					t.Errorf("verdict %d %q: pass=%v (%s), want %v", i, v.Target, v.Pass, v.Detail, tc.want[i])
				}
			}
		})
	}
}

func TestReportOutput(t *testing.T) {
	r := &Result{ID: "w1", Kind: "w1", Title: "proxied GETs", Keys: w1Keys, Runs: map[Impl]*Run{
		Ours:    {Error: "our condure binary /x/bin/condure is missing\nmore detail"},
		Pushpin: run(map[string]float64{"req_per_s": 3400, "p99_ms": 12.5, "tool_cpu_pct": 95}),
	}, Origin: run(map[string]float64{"req_per_s": 73000})}
	r.Finish()
	rep := &Report{Mode: "quick", Results: []*Result{r}}
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"FAILED", "3400", "73000", "ours error: our condure binary", "[FAIL] requests/s ≥ 5× Pushpin", "targets: 0 of 2 pass", "the tool used 95% of a core during pushpin's run"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	path := t.TempDir() + "/bench.json"
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
}

func TestSinkReceive(t *testing.T) {
	s := NewSink(2, 3, func(i int) string { return "c" })
	s.Connected(0)
	s.Connected(1)
	s.Connected(1) // counted once
	for _, msg := range []string{"open", "", "m", "m x 1", "m 1", "m 3 10", "m -1 10", "m 0 notanumber"} {
		s.Receive(0, []byte(msg), 100)
	}
	s.Receive(0, []byte("w"), 100)
	s.Receive(0, []byte("w"), 100)
	s.Receive(0, []byte(measuredPayload(0, 40)), 100)
	s.Receive(0, []byte(measuredPayload(0, 40)), 110) // duplicate
	s.Receive(1, []byte(measuredPayload(0, 40)), 140)
	s.Receive(1, []byte(measuredPayload(2, 50)), 150)
	if s.Warmed() != 1 || s.NumConnected() != 2 || s.Expected() != 6 {
		t.Errorf("warmed %d connected %d expected %d", s.Warmed(), s.NumConnected(), s.Expected())
	}
	st := s.Stats([]int64{40, 45, 50}, 40)
	if st.Delivered != 3 || st.Dupes != 1 || st.Bad != 5 {
		t.Errorf("stats %+v", st)
	}
	// Latencies 60, 100, 100; bursts: seq 0 last at 140 (100 after 40),
	// seq 2 at 150 (100 after 50).
	if st.Latency.P50 != 100 || st.Latency.Max != 100 || st.Burst.Max != 100 || st.Burst.N != 2 {
		t.Errorf("latency %+v burst %+v", st.Latency, st.Burst)
	}
	if want := 2 / (100 * time.Nanosecond).Seconds(); math.Abs(st.FanoutPerSec-want) > 1 {
		t.Errorf("fan-out %v/s, want %v/s", st.FanoutPerSec, want)
	}
	if got := s.unwarmedChannels(); len(got) != 1 || got[0] != "c" {
		t.Errorf("unwarmed channels %v", got)
	}
}

// TestGetLoadSmoke runs workload 1's generator briefly against the bare
// in-process origin (no stack).
func TestGetLoadSmoke(t *testing.T) {
	o, err := StartOrigin()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := GetLoad{Addr: o.Addr(), Host: o.Addr(), Path: "/hello", Conns: 4,
		Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond, WantBody: HelloBody}.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.RPS <= 0 || res.Latency.N == 0 || res.Latency.P99 < res.Latency.P50 {
		t.Errorf("result %+v", res)
	}
	// A wrong expected body is counted as errors, and nothing succeeds.
	res, err = GetLoad{Addr: o.Addr(), Host: o.Addr(), Path: "/hello", Conns: 2,
		Duration: 100 * time.Millisecond, WantBody: "other\n"}.Run(ctx)
	if err == nil || res.Errors == 0 || !strings.Contains(res.FirstError, "unexpected body") {
		t.Errorf("wrong body: err %v, result %+v", err, res)
	}
	if _, err := (GetLoad{Addr: o.Addr(), Conns: 0, Duration: time.Second}).Run(ctx); err == nil {
		t.Error("zero connections accepted")
	}
}

func TestOriginWebSocketEvents(t *testing.T) {
	o, err := StartOrigin()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	tests := []struct {
		name, body string
		status     int
		want       []wsevents.Event
	}{
		{"open subscribes", "OPEN\r\n", 200, []wsevents.Event{{Type: wsevents.Open},
			{Type: wsevents.Text, Content: []byte(`c:{"type":"subscribe","channel":"news"}`)}}},
		{"close is answered", "CLOSE 2\r\n\x03\xe8\r\n", 200, []wsevents.Event{{Type: wsevents.Close, Content: []byte{0x03, 0xe8}}}},
		{"text is ignored", "TEXT 2\r\nhi\r\n", 200, nil},
		{"garbage", "NOPE\r\n", 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post("http://"+o.Addr()+"/ws/news", wsevents.ContentType, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				return
			}
			if ct, ext := resp.Header.Get("Content-Type"), resp.Header.Get("Sec-WebSocket-Extensions"); ct != wsevents.ContentType || ext != "grip" {
				t.Errorf("Content-Type %q, extensions %q", ct, ext)
			}
			got, err := wsevents.Decode(body)
			if err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tc.want)
			if string(gj) != string(wj) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("events %q, want %q", body, wsevents.Encode(tc.want))
			}
		})
	}
}

func TestJoinErrs(t *testing.T) {
	a, b := errors.New("a failed"), errors.New("b failed")
	tests := []struct {
		name string
		errs []error
		want string
	}{
		{"none", nil, ""},
		{"all nil", []error{nil, nil}, ""},
		{"one", []error{nil, a}, "a failed"},
		{"two", []error{a, nil, b}, "a failed; b failed"},
	}
	for _, tc := range tests {
		got := joinErrs(tc.errs...)
		if (got == nil) != (tc.want == "") || (got != nil && got.Error() != tc.want) {
			t.Errorf("%s: joinErrs = %v, want %q", tc.name, got, tc.want)
		}
	}
	if got := joinErrs(nil, a); got != a {
		t.Error("a single error is not returned as is")
	}
}
