// Package gcfloor keeps the garbage collector's heap goal at or above a
// floor while the live heap is small.
//
// Go sets the next collection at the live heap times (1 + GOGC/100), and
// never below 4 MiB. A script that makes many small requests keeps about
// 1 MiB live and allocates a few KiB per request, so it collects every few
// hundred requests and the collector takes about a fifth of its CPU. With a
// floor the goal stays at least Floor bytes: such a script collects several
// times less often, for at most Floor bytes of garbage more. Once the live
// heap is large enough that GOGC alone gives a goal above the floor, the
// collector's percentage is GOGC again, so scripts that hold much (1,000
// requests in flight, a large parsed document) pace exactly as without it.
//
// The percentage is set again after each collection (a finalizer on a
// sentinel object runs once per cycle) from the live heap that cycle
// measured (runtime/metrics "/gc/heap/live:bytes").
package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// maxPercent bounds the percentage a floor may ask for: with a live heap
// of a few hundred KiB the goal is then a few tens of MiB at most.
const maxPercent = 10000

// Percent returns the GC percentage that gives a heap goal of at least
// floor bytes for a live heap of live bytes, and never less than base.
// base <= 0 (the collector off or a caller's choice of 0) is returned
// unchanged.
func Percent(live, floor uint64, base int) int {
	if base <= 0 || live == 0 || floor == 0 {
		return base
	}
	if live >= floor || live*uint64(100+base)/100 >= floor {
		return base
	}
	// The smallest p with live*(100+p)/100 >= floor.
	p := (floor*100+live-1)/live - 100
	if p > maxPercent {
		return maxPercent
	}
	return max(int(p), base)
}

// tuner holds the state Start's finalizer chain shares with stop.
type tuner struct {
	floor uint64
	base  int

	mu      sync.Mutex
	stopped bool
	current int
	sample  []metrics.Sample
}

// sentinel is the object whose finalizer marks the end of a collection. It
// holds a pointer so that it is never a tiny allocation (whose finalizer
// may wait on its neighbours).
type sentinel struct{ t *tuner }

// Start keeps the heap goal at or above floor bytes with base as the
// collector's percentage otherwise (100 unless the process was told
// differently), until the returned function is called, which sets the
// percentage back to base. floor == 0 or base <= 0 change nothing.
//
// The percentage is the whole process's: call Start only in a process
// whose work is one script (scriptrun run, a cron job's child).
func Start(floor uint64, base int) (stop func()) {
	if floor == 0 || base <= 0 {
		return func() {}
	}
	t := &tuner{floor: floor, base: base, current: base,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.adjust()
	t.arm()
	return t.stop
}

// arm sets a finalizer on a fresh sentinel: the next collection frees it
// and the finalizer goroutine calls back, which adjusts and arms again.
func (t *tuner) arm() {
	s := &sentinel{t: t}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.t.adjust() {
			s.t.arm()
		}
	})
}

// adjust sets the percentage for the live heap the last collection
// measured. It reports false once stopped.
func (t *tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	var live uint64
	if s := t.sample[0]; s.Value.Kind() == metrics.KindUint64 {
		live = s.Value.Uint64()
	}
	if live == 0 { // before the first collection: the 4 MiB minimum decides
		live = math.MaxUint64
	}
	if p := Percent(live, t.floor, t.base); p != t.current {
		debug.SetGCPercent(p)
		t.current = p
	}
	return true
}

// stop ends the chain and sets the percentage back to base.
func (t *tuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	if t.current != t.base {
		debug.SetGCPercent(t.base)
	}
}
