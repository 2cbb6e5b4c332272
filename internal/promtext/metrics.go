package promtext

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// A Collector writes its metric families when a Registry is written.
// Collect must be safe to call concurrently with the collector's updates.
type Collector interface {
	Collect(w *Writer)
}

// vec keeps the series of a family by their label values. Series are made
// on first use and kept; a lookup of an existing series takes a read lock.
type vec[S any] struct {
	name, help string
	labels     []string
	newSeries  func() *S

	mu     sync.RWMutex
	series map[string]*entry[S] // by appendKey(values)
}

type entry[S any] struct {
	values []string
	s      *S
}

func newVec[S any](name, help string, labels []string, reserved string, newSeries func() *S) *vec[S] {
	mustValidName(name, true)
	for _, l := range labels {
		mustValidName(l, false)
		if l == reserved || strings.HasPrefix(l, "__") {
			panic(fmt.Sprintf("promtext: %s: label name %q is reserved", name, l))
		}
	}
	v := &vec[S]{name: name, help: help, labels: slices.Clone(labels), newSeries: newSeries, series: map[string]*entry[S]{}}
	if len(labels) == 0 {
		v.with() // a family without labels has its one series from the start
	}
	return v
}

// validUTF8 returns values, or a copy with invalid UTF-8 replaced by
// U+FFFD: the format allows only UTF-8, and the series key relies on it.
func validUTF8(values []string) []string {
	for i, v := range values {
		if !utf8.ValidString(v) {
			out := slices.Clone(values)
			for j := i; j < len(out); j++ {
				out[j] = strings.ToValidUTF8(out[j], "\uFFFD")
			}
			return out
		}
	}
	return values
}

// appendKey joins label values with a byte that valid UTF-8 never holds
// (validUTF8 made them valid).
func appendKey(b []byte, values []string) []byte {
	for i, v := range values {
		if i > 0 {
			b = append(b, 0xff)
		}
		b = append(b, v...)
	}
	return b
}

func (v *vec[S]) with(values ...string) *S {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("promtext: %s has labels %q, got %d value(s)", v.name, v.labels, len(values)))
	}
	values = validUTF8(values)
	var buf [128]byte
	k := appendKey(buf[:0], values)
	v.mu.RLock()
	e := v.series[string(k)] // no allocation for the lookup
	v.mu.RUnlock()
	if e != nil {
		return e.s
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e = v.series[string(k)]; e == nil {
		e = &entry[S]{values: slices.Clone(values), s: v.newSeries()}
		v.series[string(k)] = e
	}
	return e.s
}

// sorted returns the series ordered by their label values, so that a
// scrape reads the same way each time.
func (v *vec[S]) sorted() []*entry[S] {
	v.mu.RLock()
	out := make([]*entry[S], 0, len(v.series))
	for _, e := range v.series {
		out = append(out, e)
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b *entry[S]) int { return slices.Compare(a.values, b.values) })
	return out
}

// CounterVec is a counter family with a series per set of label values.
type CounterVec struct {
	v *vec[Counter]
}

// NewCounterVec makes a counter family; name should end in _total.
func NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{newVec(name, help, labels, "", func() *Counter { return new(Counter) })}
}

// With returns the series of the label values, given in the order of
// the labels; it panics when their number is wrong.
func (c *CounterVec) With(values ...string) *Counter { return c.v.with(values...) }

// Collect writes the family, or nothing while it has no series.
func (c *CounterVec) Collect(w *Writer) {
	series := c.v.sorted()
	if len(series) == 0 {
		return
	}
	w.Family(c.v.name, c.v.help, TypeCounter)
	for _, e := range series {
		w.Sample(c.v.name, c.v.labels, e.values, "", "", e.s.Value())
	}
}

// Counter is one counter series. Its methods are safe for concurrent use.
type Counter struct {
	bits atomic.Uint64 // math.Float64bits of the value
}

// Inc adds 1.
func (c *Counter) Inc() { c.Add(1) }

// Add adds d, which must not be negative (a counter only goes up); a
// negative or NaN d is ignored.
func (c *Counter) Add(d float64) {
	if !(d >= 0) {
		return
	}
	for {
		old := c.bits.Load()
		if c.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Value returns the count.
func (c *Counter) Value() float64 { return math.Float64frombits(c.bits.Load()) }

// HistogramVec is a histogram family with a series per set of label values.
type HistogramVec struct {
	v *vec[Histogram]
}

// NewHistogramVec makes a histogram family over the upper bounds buckets
// (increasing; +Inf is implied). A family without labels has its series,
// empty, from the start.
func NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if !sort.Float64sAreSorted(buckets) || slices.Contains(buckets, math.Inf(+1)) || len(slices.Compact(slices.Clone(buckets))) != len(buckets) {
		panic(fmt.Sprintf("promtext: %s: buckets %v are not increasing finite bounds", name, buckets))
	}
	upper := slices.Clone(buckets)
	return &HistogramVec{newVec(name, help, labels, "le", func() *Histogram {
		return &Histogram{upper: upper, counts: make([]uint64, len(upper))}
	})}
}

// With returns the series of the label values, given in the order of
// the labels; it panics when their number is wrong.
func (h *HistogramVec) With(values ...string) *Histogram { return h.v.with(values...) }

// Collect writes the family (cumulative _bucket series, le="+Inf" last,
// then _sum and _count), or nothing while it has no series.
func (h *HistogramVec) Collect(w *Writer) {
	series := h.v.sorted()
	if len(series) == 0 {
		return
	}
	w.Family(h.v.name, h.v.help, TypeHistogram)
	for _, e := range series {
		counts, sum, count := e.s.snapshot()
		var cum uint64
		for i, n := range counts {
			cum += n
			w.Sample(h.v.name+"_bucket", h.v.labels, e.values, "le", formatFloat(e.s.upper[i]), float64(cum))
		}
		w.Sample(h.v.name+"_bucket", h.v.labels, e.values, "le", "+Inf", float64(count))
		w.Sample(h.v.name+"_sum", h.v.labels, e.values, "", "", sum)
		w.Sample(h.v.name+"_count", h.v.labels, e.values, "", "", float64(count))
	}
}

// Histogram is one histogram series. Its methods are safe for concurrent
// use; a scrape sees each observation in the buckets, sum and count, or
// in none of them.
type Histogram struct {
	upper []float64 // shared by the family's series; read only

	mu     sync.Mutex // guards counts, sum and count
	counts []uint64   // per bucket, not cumulative
	sum    float64
	count  uint64
}

// Observe adds v to the bucket of the smallest bound >= v (none when v
// is above every bound: only +Inf counts it), to the sum and the count.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.upper, v)
	h.mu.Lock()
	if i < len(h.counts) {
		h.counts[i]++
	}
	h.sum += v
	h.count++
	h.mu.Unlock()
}

func (h *Histogram) snapshot() (counts []uint64, sum float64, count uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.counts), h.sum, h.count
}

// GaugeFunc is a gauge without labels whose value f gives at each scrape.
type GaugeFunc struct {
	name, help string
	f          func() float64
}

// NewGaugeFunc makes a gauge read from f, which must be safe for
// concurrent use.
func NewGaugeFunc(name, help string, f func() float64) *GaugeFunc {
	mustValidName(name, true)
	return &GaugeFunc{name: name, help: help, f: f}
}

// Collect writes the gauge.
func (g *GaugeFunc) Collect(w *Writer) {
	w.Family(g.name, g.help, TypeGauge)
	w.Value(g.name, g.f())
}

// mustValidName panics unless name is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)
// or, without colons, a label name.
func mustValidName(name string, metric bool) {
	ok := name != ""
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (c == ':' && metric) || (c >= '0' && c <= '9' && i > 0)
	}
	if !ok {
		kind := "label"
		if metric {
			kind = "metric"
		}
		panic(fmt.Sprintf("promtext: %q is not a valid %s name", name, kind))
	}
}
