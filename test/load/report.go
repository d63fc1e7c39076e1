package load

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one run of the tool measured; it is written as JSON
// and printed as a table.
type Report struct {
	Mode     string    `json:"mode"`
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Host     Host      `json:"host"`
	Results  []*Result `json:"results"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Host describes the machine the figures were taken on.
type Host struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"`
	NoFile    uint64 `json:"nofile"`
}

// Result is one workload's figures for each implementation.
type Result struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// Keys are the metrics shown in the table, in order.
	Keys []string `json:"-"`
	// Runs holds each implementation's figures.
	Runs map[Impl]*Run `json:"runs"`
	// Origin is the bare origin's figure (workload 1's ceiling).
	Origin *Run `json:"origin,omitempty"`
	// Ratios are ours/Pushpin per metric.
	Ratios  map[string]float64 `json:"ratios,omitempty"`
	Targets []Verdict          `json:"targets,omitempty"`
}

// Run is one implementation's figures for a workload. Error is set when
// the run failed (the stack did not start, a daemon died, connections
// failed…); Metrics then holds whatever was measured before.
type Run struct {
	Error   string             `json:"error,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Seconds float64            `json:"seconds"`
}

// metric returns the value of key and whether it was measured.
func (r *Run) metric(key string) (float64, bool) {
	if r == nil || r.Metrics == nil {
		return 0, false
	}
	v, ok := r.Metrics[key]
	return v, ok
}

// Verdict is one target of issue 8, checked against our figures.
type Verdict struct {
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// metricInfo labels a metric in the table.
type metricInfo struct {
	label  string
	digits int
}

var metrics = map[string]metricInfo{
	"req_per_s":        {"requests/s", 0},
	"errors":           {"errors", 0},
	"p50_ms":           {"p50 latency ms", 2},
	"p99_ms":           {"p99 latency ms", 2},
	"max_ms":           {"max latency ms", 2},
	"connected":        {"connected", 0},
	"failed":           {"failed connections", 0},
	"retried":          {"connection attempts retried", 0},
	"delivered":        {"delivered", 0},
	"expected":         {"expected", 0},
	"delivered_pct":    {"delivered %", 2},
	"dupes":            {"duplicates", 0},
	"deliveries_per_s": {"deliveries/s", 0},
	"fanout_per_s":     {"burst fan-out deliveries/s", 0},
	"publishes_per_s":  {"publishes/s", 0},
	"burst_p50_ms":     {"burst delivered in ms (p50)", 1},
	"burst_max_ms":     {"burst delivered in ms (max)", 1},
	"conns_per_s":      {"new held streams/s", 0},
	"connect_s":        {"connect time s", 2},
	"rss_idle_kib":     {"RSS idle KiB", 0},
	"rss_held_kib":     {"RSS held KiB", 0},
	"kib_per_conn":     {"KiB per connection", 2},
	"procs":            {"processes", 0},
	"tool_cpu_pct":     {"tool CPU % of a core", 0},
	"stack_cpu_pct":    {"stack CPU % of a core", 0},
}

// toolBusyPct is the tool CPU share (percent of one core) from which the
// table warns that the tool, not the stack, may be the bottleneck.
const toolBusyPct = 80

// Finish computes ratios and verdicts.
func (r *Result) Finish() {
	ours, theirs := r.Runs[Ours], r.Runs[Pushpin]
	r.Ratios = map[string]float64{}
	for _, k := range r.Keys {
		o, ok1 := ours.metric(k)
		t, ok2 := theirs.metric(k)
		if !ok1 || !ok2 {
			continue
		}
		if q, ok := Ratio(o, t); ok {
			r.Ratios[k] = q
		}
	}
	r.Targets = Evaluate(r)
}

// Evaluate checks issue 8's targets for a result's kind against our figures
// (and Pushpin's, for the relative ones).
func Evaluate(r *Result) []Verdict {
	ours, theirs := r.Runs[Ours], r.Runs[Pushpin]
	// atLeast checks ours[key] ≥ factor × base.
	relative := func(name, key string, factor float64, base *Run, baseName string) Verdict {
		v := Verdict{Target: name}
		o, okO := ours.metric(key)
		b, okB := base.metric(key)
		switch {
		case ours == nil || (ours.Error != "" && !okO):
			v.Detail = "ours did not run: " + errOf(ours)
		case !okB || b <= 0:
			v.Detail = "no " + baseName + " figure to compare with"
		default:
			v.Pass = o >= factor*b && (ours.Error == "")
			v.Detail = fmt.Sprintf("ours %.0f vs %s %.0f (%.2f×, need %.2f×)", o, baseName, b, o/b, factor)
			if ours.Error != "" {
				v.Detail += "; ours failed: " + ours.Error
			}
		}
		return v
	}
	absolute := func(name, key string, ok func(float64) bool, format string) Verdict {
		v := Verdict{Target: name}
		o, okO := ours.metric(key)
		switch {
		case !okO:
			v.Detail = "ours did not run: " + errOf(ours)
		default:
			v.Pass = ok(o) && ours.Error == ""
			v.Detail = fmt.Sprintf(format, o)
			if ours.Error != "" {
				v.Detail += "; ours failed: " + ours.Error
			}
		}
		return v
	}
	allDelivered := absolute("every message delivered", "delivered_pct",
		func(p float64) bool { return p >= 100 }, "ours delivered %.2f%%")
	switch r.Kind {
	case "w1":
		return []Verdict{
			relative("requests/s ≥ 5× Pushpin", "req_per_s", 5, theirs, "Pushpin"),
			relative("requests/s ≥ 25% of the bare origin", "req_per_s", 0.25, r.Origin, "origin"),
		}
	case "w2", "w4":
		// At a fixed 10 msg/s the aggregate deliveries/s is the offered
		// load on both sides, so the 3× target is checked on the fan-out
		// throughput of a burst (subscribers / median burst time).
		return []Verdict{
			relative("burst fan-out deliveries/s ≥ 3× Pushpin", "fanout_per_s", 3, theirs, "Pushpin"),
			allDelivered,
			absolute("p99 ≤ 100 ms at 10 msg/s", "p99_ms", func(p float64) bool { return p <= 100 }, "ours p99 %.1f ms"),
		}
	case "w3":
		return []Verdict{
			relative("deliveries/s ≥ 3× Pushpin", "deliveries_per_s", 3, theirs, "Pushpin"),
			allDelivered,
		}
	case "w5":
		return []Verdict{
			absolute("≤ 20 KiB per held connection", "kib_per_conn", func(k float64) bool { return k <= 20 }, "ours %.1f KiB per connection"),
		}
	case "w6":
		return []Verdict{
			relative("new held streams/s ≥ 3× Pushpin", "conns_per_s", 3, theirs, "Pushpin"),
			absolute("no failed connection at 256 concurrent dials", "failed", func(f float64) bool { return f == 0 }, "ours %.0f failed"),
		}
	}
	return nil
}

func errOf(r *Run) string {
	if r == nil {
		return "not run"
	}
	if r.Error == "" {
		return "no figure"
	}
	return r.Error
}

// WriteJSON writes the report to path.
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable prints the readable table: per workload, each metric with our
// figure, Pushpin's and the ratio, then the targets.
func (rep *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "Pushpin-Go vs Pushpin 1.36 — %s mode, %d CPUs, NOFILE %d, %s, %.0f s\n",
		rep.Mode, rep.Host.CPUs, rep.Host.NoFile, rep.Started.Format(time.RFC3339), rep.Seconds)
	fmt.Fprintln(w, "(tool CPU includes the in-process origin; ratio = ours / pushpin)")
	for _, warn := range rep.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	pass, total := 0, 0
	for _, r := range rep.Results {
		fmt.Fprintf(w, "\n%s  %s\n", r.ID, r.Title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		header := "  \tours\tpushpin\tratio\t"
		if r.Origin != nil {
			header += "origin\t"
		}
		fmt.Fprintln(tw, header)
		for _, k := range r.Keys {
			info := metrics[k]
			row := "  " + info.label + "\t" + cell(r.Runs[Ours], k, info.digits) + "\t" +
				cell(r.Runs[Pushpin], k, info.digits) + "\t"
			if q, ok := r.Ratios[k]; ok {
				row += fmt.Sprintf("%.2f", q)
			} else {
				row += "-"
			}
			row += "\t"
			if r.Origin != nil {
				row += cell(r.Origin, k, info.digits) + "\t"
			}
			fmt.Fprintln(tw, row)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, impl := range []Impl{Ours, Pushpin} {
			if run := r.Runs[impl]; run != nil && run.Error != "" {
				fmt.Fprintf(w, "  %s error: %s\n", impl, oneLine(run.Error))
			}
		}
		if r.Origin != nil && r.Origin.Error != "" {
			fmt.Fprintf(w, "  origin error: %s\n", oneLine(r.Origin.Error))
		}
		for _, impl := range []Impl{Ours, Pushpin} {
			if cpu, ok := r.Runs[impl].metric("tool_cpu_pct"); ok && cpu >= toolBusyPct {
				fmt.Fprintf(w, "  note: the tool used %.0f%% of a core during %s's run and may have limited it\n", cpu, impl)
			}
		}
		for _, v := range r.Targets {
			mark := "FAIL"
			if v.Pass {
				mark = "PASS"
				pass++
			}
			total++
			fmt.Fprintf(w, "  [%s] %s — %s\n", mark, v.Target, oneLine(v.Detail))
		}
	}
	_, err := fmt.Fprintf(w, "\ntargets: %d of %d pass\n", pass, total)
	return err
}

func cell(r *Run, key string, digits int) string {
	v, ok := r.metric(key)
	if !ok {
		if r != nil && r.Error != "" {
			return "FAILED"
		}
		return "-"
	}
	if math.Abs(v) >= 1e15 {
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.*f", digits, v)
}

// oneLine keeps an error's first line (log tails follow on later lines in
// the JSON) and bounds its length for the table.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
