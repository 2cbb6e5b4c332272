package promtext

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// goCollector writes the Go runtime's metrics.
type goCollector struct {
	samples []metrics.Sample // by runtime/metrics name; a scrape at a time
	index   map[string]int

	mu sync.Mutex // guards samples while a scrape reads them
}

// The runtime/metrics read at each scrape: the memstats of
// client_golang's Go collector derive from these, as do three gauges of
// their own.
var goRuntimeMetrics = []string{
	"/gc/heap/allocs:bytes", "/gc/heap/allocs:objects", "/gc/heap/frees:objects",
	"/gc/heap/tiny/allocs:objects", "/gc/heap/objects:objects", "/gc/heap/goal:bytes",
	"/memory/classes/total:bytes", "/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/released:bytes", "/memory/classes/heap/free:bytes", "/memory/classes/heap/stacks:bytes",
	"/memory/classes/os-stacks:bytes", "/memory/classes/metadata/mspan/inuse:bytes", "/memory/classes/metadata/mspan/free:bytes",
	"/memory/classes/metadata/mcache/inuse:bytes", "/memory/classes/metadata/mcache/free:bytes",
	"/memory/classes/profiling/buckets:bytes", "/memory/classes/metadata/other:bytes", "/memory/classes/other:bytes",
	"/gc/gogc:percent", "/gc/gomemlimit:bytes", "/sched/gomaxprocs:threads",
}

// GoCollector returns a collector of the Go runtime's metrics: the
// families of client_golang's collectors.NewGoCollector() with its
// default options (go_gc_duration_seconds, go_goroutines, go_info,
// go_memstats_*, go_threads, go_gc_gogc_percent, go_gc_gomemlimit_bytes,
// go_sched_gomaxprocs_threads), with the same help texts and values.
func GoCollector() Collector {
	c := &goCollector{index: map[string]int{}}
	for i, name := range goRuntimeMetrics {
		c.samples = append(c.samples, metrics.Sample{Name: name})
		c.index[name] = i
	}
	return c
}

// read returns the runtime metric name as a float64 (0 when the runtime
// does not know it).
func (c *goCollector) read(name string) float64 {
	v := c.samples[c.index[name]].Value
	switch v.Kind() {
	case metrics.KindUint64:
		return float64(v.Uint64())
	case metrics.KindFloat64:
		return v.Float64()
	}
	return 0
}

// Collect writes the families in the order client_golang's registry
// sorts them (by name).
func (c *goCollector) Collect(w *Writer) {
	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&gc)
	threads, _ := runtime.ThreadCreateProfile(nil)

	c.mu.Lock()
	defer c.mu.Unlock()
	metrics.Read(c.samples)
	r := c.read

	w.Family("go_gc_duration_seconds", "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", TypeSummary)
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		w.Sample("go_gc_duration_seconds", nil, nil, "quantile", q, gc.PauseQuantiles[i].Seconds())
	}
	w.Value("go_gc_duration_seconds_sum", gc.PauseTotal.Seconds())
	w.Value("go_gc_duration_seconds_count", float64(gc.NumGC))
	single(w, "go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC environment variable, and the runtime/debug.SetGCPercent function. Sourced from /gc/gogc:percent.", TypeGauge, r("/gc/gogc:percent"))
	single(w, "go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.", TypeGauge, r("/gc/gomemlimit:bytes"))
	single(w, "go_goroutines", "Number of goroutines that currently exist.", TypeGauge, float64(runtime.NumGoroutine()))
	w.Family("go_info", "Information about the Go environment.", TypeGauge)
	w.Sample("go_info", []string{"version"}, []string{runtime.Version()}, "", "", 1)
	c.memstats(w, gc.LastGC)
	single(w, "go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads.", TypeGauge, r("/sched/gomaxprocs:threads"))
	single(w, "go_threads", "Number of OS threads created.", TypeGauge, float64(threads))
}

// memstats writes the go_memstats_* families, derived from runtime/metrics
// as client_golang derives them (tiny allocations count as both a malloc
// and a free).
func (c *goCollector) memstats(w *Writer, lastGC time.Time) {
	r := c.read
	tiny := r("/gc/heap/tiny/allocs:objects")
	heapAlloc := r("/memory/classes/heap/objects:bytes")
	heapInuse := heapAlloc + r("/memory/classes/heap/unused:bytes")
	released := r("/memory/classes/heap/released:bytes")
	heapIdle := released + r("/memory/classes/heap/free:bytes")
	stackInuse := r("/memory/classes/heap/stacks:bytes")
	mspanInuse := r("/memory/classes/metadata/mspan/inuse:bytes")
	mcacheInuse := r("/memory/classes/metadata/mcache/inuse:bytes")
	for _, m := range []struct {
		name, help string
		typ        Type
		v          float64
	}{
		{"alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", TypeGauge, heapAlloc},
		{"alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", TypeCounter, r("/gc/heap/allocs:bytes")},
		{"buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", TypeGauge, r("/memory/classes/profiling/buckets:bytes")},
		{"frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", TypeCounter, r("/gc/heap/frees:objects") + tiny},
		{"gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", TypeGauge, r("/memory/classes/metadata/other:bytes")},
		{"heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", TypeGauge, heapAlloc},
		{"heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", TypeGauge, heapIdle},
		{"heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", TypeGauge, heapInuse},
		{"heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", TypeGauge, r("/gc/heap/objects:objects")},
		{"heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", TypeGauge, released},
		{"heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", TypeGauge, heapInuse + heapIdle},
		{"last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", TypeGauge, float64(lastGC.UnixNano()) / 1e9},
		{"mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", TypeCounter, r("/gc/heap/allocs:objects") + tiny},
		{"mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", TypeGauge, mcacheInuse},
		{"mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", TypeGauge, mcacheInuse + r("/memory/classes/metadata/mcache/free:bytes")},
		{"mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", TypeGauge, mspanInuse},
		{"mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", TypeGauge, mspanInuse + r("/memory/classes/metadata/mspan/free:bytes")},
		{"next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", TypeGauge, r("/gc/heap/goal:bytes")},
		{"other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", TypeGauge, r("/memory/classes/other:bytes")},
		{"stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", TypeGauge, stackInuse},
		{"stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", TypeGauge, stackInuse + r("/memory/classes/os-stacks:bytes")},
		{"sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", TypeGauge, r("/memory/classes/total:bytes")},
	} {
		single(w, "go_memstats_"+m.name, m.help, m.typ, m.v)
	}
}

// single writes a family of one sample without labels.
func single(w *Writer, name, help string, typ Type, v float64) {
	w.Family(name, help, typ)
	w.Value(name, v)
}
