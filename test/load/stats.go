package load

import (
	"errors"
	"math"
	"slices"
	"strings"
	"time"
)

// Dist summarises a set of latency samples.
type Dist struct {
	N    int
	P50  time.Duration
	P99  time.Duration
	Max  time.Duration
	Mean time.Duration
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted samples by
// the nearest-rank method: the smallest sample such that at least p% of the
// samples are ≤ it. It returns 0 for no samples.
func Percentile(sorted []int64, p float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// Summarize sorts samples (nanoseconds) in place and returns their summary.
func Summarize(samples []int64) Dist {
	if len(samples) == 0 {
		return Dist{}
	}
	slices.Sort(samples)
	var sum float64
	for _, s := range samples {
		sum += float64(s)
	}
	return Dist{
		N:    len(samples),
		P50:  time.Duration(Percentile(samples, 50)),
		P99:  time.Duration(Percentile(samples, 99)),
		Max:  time.Duration(samples[len(samples)-1]),
		Mean: time.Duration(sum / float64(len(samples))),
	}
}

// Ratio is ours/theirs; ok is false when either side is missing or theirs
// is zero (no meaningful ratio).
func Ratio(ours, theirs float64) (r float64, ok bool) {
	if theirs == 0 || math.IsNaN(ours) || math.IsNaN(theirs) || math.IsInf(ours, 0) || math.IsInf(theirs, 0) {
		return 0, false
	}
	return ours / theirs, true
}

// ms converts a duration to fractional milliseconds for reports.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// perSecond is n events over d, 0 when d is not positive.
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// joinErrs joins the non-nil errors with "; " so a run's error reads as one
// sentence in the table (a stack's log tail, on later lines, stays last).
// It returns nil when every error is nil.
func joinErrs(errs ...error) error {
	var msgs []string
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		msgs = append(msgs, err.Error())
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return first
	}
	return errors.New(strings.Join(msgs, "; "))
}
