package load

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. Linux
// fixes it at 100 on every architecture Go supports.
const clockTicks = 100

// RaiseNoFile raises this process's RLIMIT_NOFILE soft limit to the hard
// limit and returns the result. Calling syscall.Setrlimit explicitly also
// stops Go from restoring the original soft limit in child processes, so the
// stacks the tool starts (and the runners' own children) inherit the raised
// limit, which 10,000 held connections need.
func RaiseNoFile() (cur, max uint64, err error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, fmt.Errorf("getrlimit NOFILE: %w", err)
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, fmt.Errorf("setrlimit NOFILE %d: %w", r.Max, err)
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, fmt.Errorf("getrlimit NOFILE: %w", err)
	}
	return r.Cur, r.Max, nil
}

// selfCPU is the CPU time (user + system) this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStat is what the tool reads from /proc/<pid>/stat.
type procStat struct {
	pid, ppid int
	name      string        // command name (field 2)
	cpu       time.Duration // utime + stime
	rssPages  int64
}

// readProcStat parses /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so parsing restarts after its last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); ppid is field 4, utime 14, stime 15, rss 24.
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	num := func(k int) int64 {
		v, _ := strconv.ParseInt(string(f[k-3]), 10, 64)
		return v
	}
	return procStat{
		pid:      pid,
		name:     string(b[bytes.IndexByte(b, '(')+1 : i]),
		ppid:     int(num(4)),
		cpu:      time.Duration(num(14)+num(15)) * time.Second / clockTicks,
		rssPages: num(24),
	}, nil
}

// processTree returns root and all its live descendants.
func processTree(root int) []procStat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]procStat{}
	var rootStat *procStat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue // exited meanwhile
		}
		if pid == root {
			s := st
			rootStat = &s
		}
		children[st.ppid] = append(children[st.ppid], st)
	}
	if rootStat == nil {
		return nil
	}
	out := []procStat{*rootStat}
	// Breadth-first; bounded by the number of processes read above.
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i].pid]...)
	}
	return out
}

// TreeUsage is the summed resource use of a process tree.
type TreeUsage struct {
	Procs  int
	RSSKiB int64
	CPU    time.Duration
	// ByName is the RSS of each command name in the tree (summed over
	// processes of that name, e.g. several condure instances), so a
	// memory figure can be traced to the process that holds it.
	ByName map[string]int64
}

// treeUsage sums RSS and CPU over root's process tree.
func treeUsage(root int) TreeUsage {
	page := int64(os.Getpagesize())
	u := TreeUsage{ByName: map[string]int64{}}
	for _, st := range processTree(root) {
		u.Procs++
		u.RSSKiB += st.rssPages * page / 1024
		u.ByName[st.name] += st.rssPages * page / 1024
		u.CPU += st.cpu
	}
	return u
}

// meter measures the CPU share of the tool and of a stack over a phase.
type meter struct {
	start     time.Time
	selfStart time.Duration
	root      int
	treeStart time.Duration
}

func startMeter(root int) *meter {
	m := &meter{start: time.Now(), selfStart: selfCPU(), root: root}
	if root > 0 {
		m.treeStart = treeUsage(root).CPU
	}
	return m
}

// stop returns the tool's and the stack's CPU use as a percentage of one
// core over the phase.
func (m *meter) stop() (toolPct, stackPct float64, wall time.Duration) {
	wall = time.Since(m.start)
	if wall <= 0 {
		return 0, 0, wall
	}
	toolPct = 100 * float64(selfCPU()-m.selfStart) / float64(wall)
	if m.root > 0 {
		stackPct = 100 * float64(treeUsage(m.root).CPU-m.treeStart) / float64(wall)
	}
	return toolPct, stackPct, wall
}
