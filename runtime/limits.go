package runtime

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// RegexpMatchTimeout bounds one regular-expression match. goja runs patterns
// that Go's linear-time regexp cannot (backreferences, lookaround) on
// regexp2, which backtracks: a catastrophic pattern would otherwise run
// inside one native call where neither a timeout nor Ctrl-C can reach it.
// When the bound passes, goja reports no match (a goja limitation), and the
// script's own timeout is enforced from there. A process that sets
// Options.Stuck does not wait for the bound: it ends at the timeout plus
// Options.StopGrace.
const RegexpMatchTimeout = 5 * time.Second

func init() {
	// regexp2 reads this when a pattern is compiled; goja offers no per-runtime setting.
	regexp2.DefaultMatchTimeout = RegexpMatchTimeout
}

// DefaultStopGrace is how long a stop for a timeout or a cancellation may
// take to take effect before Options.Stuck is called.
const DefaultStopGrace = time.Second

// memoryInterval is how often the heap is sampled near the cap, and after a
// memory stop. A built-in such as Array.prototype.fill allocates a few GB/s;
// sampling every 2 ms bounds what one call adds unseen to a few MB. A sample
// costs about 0.3 µs, but waking up every 2 ms for a whole run costs a few
// percent of a core, so far from the cap the heap is sampled less often
// (sampleDelay).
const memoryInterval = 2 * time.Millisecond

// maxSampleDelay is the longest wait between samples, far from the cap.
const maxSampleDelay = 50 * time.Millisecond

// allocRate is a generous bound on how fast a script's heap can grow
// (bytes per second), to tell how soon the cap could be reached.
const allocRate = 8 << 30

// sampleDelay is how long the heap, used bytes now, may go unsampled under
// a cap of maxMemory bytes: the time it would take to reach the cap at
// allocRate, between memoryInterval and maxSampleDelay.
func sampleDelay(used, maxMemory int64) time.Duration {
	d := time.Duration(float64(maxMemory-used) / allocRate * float64(time.Second))
	return min(max(d, memoryInterval), maxSampleDelay)
}

// memoryStopGrace is how long a memory stop may take to take effect before
// Options.Stuck is called when memory does not grow meanwhile. A stuck
// built-in that keeps allocating is caught sooner, by heapGrowthMargin; one
// that holds still costs nothing while it waits, and a loaded machine (or the
// race detector) may take well over 100 ms to let the interrupted JavaScript
// thread run again.
const memoryStopGrace = time.Second

// MemoryError reports that a run was stopped because the process's memory
// (Go heap objects and goroutine stacks) grew past Options.MaxMemory.
type MemoryError struct {
	Limit int64 // bytes
	Used  int64 // bytes, when it was stopped
}

// Error names the limit first ("memory limit 2 GiB exceeded"), so that a
// record of the run (a cron run's error) says what happened in its first words.
func (e *MemoryError) Error() string {
	return fmt.Sprintf("MemoryError: memory limit %s exceeded (memory in use reached %s); process data in smaller pieces (paging) or raise the limit",
		FormatMemorySize(e.Limit), FormatMemorySize(e.Used))
}

// StackError reports that a run was stopped because a built-in recursed so
// deep (JSON.stringify, Array.prototype.join or toString of nesting a
// million levels deep) that its goroutine's stack neared Go's 1 GB limit,
// past which the process would die with a runtime dump. JavaScript's own
// recursion stops much earlier, at 10000 calls.
type StackError struct {
	Used int64 // bytes of goroutine stacks when it was stopped
}

// Error reads like the RangeError of JavaScript's own recursion.
func (e *StackError) Error() string {
	return fmt.Sprintf("RangeError: Maximum call stack size exceeded (a built-in recursed through data nested too deep; its stack reached %s)", FormatMemorySize(e.Used))
}

// maxGoStacks is how much goroutine stack the process may hold before a
// run is stopped with a *StackError. A goroutine's stack doubles as it
// grows and Go kills the process when one would pass 1 GB, so the stop
// comes once one has doubled to 512 MiB, while it fills that. Scripts that
// recurse in JavaScript are stopped at 10000 calls, far below.
const maxGoStacks = 320 << 20

var memorySamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/stacks:bytes"},
}

// memoryUse samples the memory held by live and not-yet-swept heap objects,
// and by goroutine stacks.
func memoryUse() (heap, stacks int64) {
	s := make([]metrics.Sample, len(memorySamples))
	copy(s, memorySamples)
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
}

// heapBytes is the memory a run's cap counts: heap objects and stacks.
func heapBytes() int64 {
	heap, stacks := memoryUse()
	return heap + stacks
}

// memoryWatch samples memory for a run's limits from outside its
// JavaScript goroutine: the cap (maxMemory, 0 for none) and maxGoStacks.
type memoryWatch struct {
	maxMemory int64
	timer     *time.Timer
}

// newMemoryWatch starts sampling; stacks says whether to watch the stack
// limit without a cap (a host that handles Options.Stuck can act on it). It
// returns nil when there is nothing to watch.
func newMemoryWatch(maxMemory int64, stacks bool) *memoryWatch {
	if maxMemory <= 0 && !stacks {
		return nil
	}
	w := &memoryWatch{maxMemory: maxMemory}
	w.timer = time.NewTimer(w.delay(heapBytes()))
	return w
}

// C delivers when the next sample is due; nil (never) for a nil watch.
func (w *memoryWatch) C() <-chan time.Time {
	if w == nil {
		return nil
	}
	return w.timer.C
}

// check takes a sample after C delivered: it returns why the run must stop
// (*StackError, *MemoryError), or nil and schedules the next sample.
func (w *memoryWatch) check() error {
	heap, stacks := memoryUse()
	used := heap + stacks
	switch {
	case stacks > maxGoStacks:
		return &StackError{Used: stacks}
	case w.maxMemory > 0 && used > w.maxMemory:
		return &MemoryError{Limit: w.maxMemory, Used: used}
	}
	w.timer.Reset(w.delay(used))
	return nil
}

func (w *memoryWatch) delay(used int64) time.Duration {
	if w.maxMemory <= 0 {
		return maxSampleDelay
	}
	return sampleDelay(used, w.maxMemory)
}

// stop stops sampling; a nil watch is fine.
func (w *memoryWatch) stop() {
	if w != nil {
		w.timer.Stop()
	}
}

// heapGrowthMargin is how far the heap may grow after a memory stop before
// the stop counts as stuck without waiting for memoryStopGrace: interrupted
// JavaScript stops allocating, a built-in that cannot be interrupted does not.
func heapGrowthMargin(maxMemory int64) int64 {
	return max(maxMemory/32, 8<<20)
}

// SetGoMemoryLimit sets the Go runtime's soft memory limit (debug.SetMemoryLimit)
// an eighth below maxMemory, so that the garbage collector works harder as
// the heap nears the cap and garbage alone does not reach it. It returns a
// function that restores the previous limit. maxMemory <= 0 changes nothing.
//
// The limit is the whole process's: call it only in a process that runs one
// script or one REPL at a time (scriptrun run, repl, a cron job's child), not
// in one that hosts other work.
func SetGoMemoryLimit(maxMemory int64) (restore func()) {
	if maxMemory <= 0 {
		return func() {}
	}
	prev := debug.SetMemoryLimit(maxMemory - maxMemory/8)
	return func() { debug.SetMemoryLimit(prev) }
}

// memory units, longest suffix first so that "MiB" is not read as "B".
var memoryUnits = []struct {
	suffix string
	size   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// errMemorySize explains what ParseMemorySize accepts.
var errMemorySize = errors.New("use a size such as 512MiB, 2GiB, 1.5GB or a number of bytes")

// ParseMemorySize reads a memory size: a number of bytes ("268435456"), or
// a number with a binary (KiB, MiB, GiB, TiB) or decimal (KB, MB, GB, TB)
// unit, in any letter case, optionally with a space ("1.5 GiB"). Single
// letters such as "512M" are refused: tools disagree on whether they are
// binary or decimal. "0" means no limit.
func ParseMemorySize(s string) (int64, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	num, size := in, 1.0
	for _, u := range memoryUnits {
		if rest, ok := strings.CutSuffix(in, u.suffix); ok {
			num, size = strings.TrimSpace(rest), u.size
			break
		}
	}
	if num == "" || strings.ContainsAny(num, "eE+-_") || strings.HasPrefix(num, ".") {
		return 0, fmt.Errorf("memory size %q: %w", s, errMemorySize)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("memory size %q: %w", s, errMemorySize)
	}
	b := v * size
	if b >= 1<<62 {
		return 0, fmt.Errorf("memory size %q is too large", s)
	}
	if b != 0 && b < 1 {
		return 0, fmt.Errorf("memory size %q is less than a byte: %w", s, errMemorySize)
	}
	return int64(b), nil
}

// FormatMemorySize writes n bytes in the largest binary unit that keeps the
// number at least 1, with at most one decimal: "2 GiB", "1.5 GiB", "300 MiB".
func FormatMemorySize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + " B"
	}
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + " " + units[i]
}
