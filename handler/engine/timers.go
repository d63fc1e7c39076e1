package engine

import (
	"container/heap"
	"time"
)

// timer is one deadline in the engine's single timer heap. A session keeps
// its timers as fields and re-arms them; nothing allocates per re-arm, and
// tens of thousands of sessions share one runtime timer (the engine loop's).
type timer struct {
	at    time.Time
	index int // position in the heap; -1 when not armed
	fire  func(now time.Time)
}

func newTimer(fire func(now time.Time)) *timer { return &timer{index: -1, fire: fire} }

// armed reports whether t is scheduled.
func (t *timer) armed() bool { return t != nil && t.index >= 0 }

// timerHeap is a min-heap of armed timers, owned by the engine goroutine.
type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}

// set arms (or re-arms) t for at.
func (h *timerHeap) set(t *timer, at time.Time) {
	t.at = at
	if t.index >= 0 {
		heap.Fix(h, t.index)
		return
	}
	heap.Push(h, t)
}

// stop disarms t; stopping an unarmed timer is a no-op.
func (h *timerHeap) stop(t *timer) {
	if t == nil || t.index < 0 {
		return
	}
	heap.Remove(h, t.index)
}

// next returns the earliest deadline.
func (h timerHeap) next() (time.Time, bool) {
	if len(h) == 0 {
		return time.Time{}, false
	}
	return h[0].at, true
}

// fireDue runs every timer due at now, bounded to max firings per call so a
// burst of deadlines cannot starve the loop's other inputs.
func (h *timerHeap) fireDue(now time.Time, max int) {
	for i := 0; i < max && len(*h) > 0 && !(*h)[0].at.After(now); i++ {
		t := heap.Pop(h).(*timer)
		t.fire(now)
	}
}
