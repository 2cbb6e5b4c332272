package promtext

import (
	"bytes"
	"compress/gzip"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse reads an exposition with Prometheus's own parser.
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, text)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// Label values and help texts with quotes, backslashes, line feeds and
// invalid UTF-8 read back as written (invalid bytes as U+FFFD), and values
// keep their exact float.
func TestEscapingRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name, value, want string
		help              string
	}{
		{"plain", "api", "api", "Plain help."},
		{"quote", `odd"name`, `odd"name`, `Help with "quotes".`},
		{"backslash", `a\b\"c`, `a\b\"c`, `C:\path\`},
		{"line feed", "two\nlines", "two\nlines", "first\nsecond"},
		{"unicode", "tökén ✓", "tökén ✓", "ünïcode help"},
		{"invalid utf-8", "bad\xffbyte", "bad\uFFFDbyte", "bad\xfehelp"},
		{"empty", "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCounterVec("x_total", tt.help, "token")
			c.With(tt.value).Add(2.5)
			text := string(NewRegistry(c).Append(nil))
			f := parse(t, text)["x_total"]
			if f == nil || len(f.GetMetric()) != 1 {
				t.Fatalf("x_total: %v\n%s", f, text)
			}
			wantHelp := strings.ToValidUTF8(tt.help, "\uFFFD")
			if f.GetHelp() != wantHelp || f.GetType() != dto.MetricType_COUNTER {
				t.Errorf("help %q type %v, want %q counter", f.GetHelp(), f.GetType(), wantHelp)
			}
			m := f.GetMetric()[0]
			if got := labels(m)["token"]; got != tt.want || m.GetCounter().GetValue() != 2.5 {
				t.Errorf("token=%q value %v, want token=%q value 2.5", got, m.GetCounter().GetValue(), tt.want)
			}
		})
	}
}

// Values as expfmt writes them.
func TestFloatFormat(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-1, "-1"}, {0.25, "0.25"}, {1e21, "1e+21"}, {9.223372036854776e18, "9.223372036854776e+18"},
		{math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"}, {123456789, "1.23456789e+08"},
	} {
		if got := string(appendFloat(nil, tt.v)); got != tt.want {
			t.Errorf("appendFloat(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// A histogram's buckets are cumulative and include their bound; +Inf,
// _sum and _count follow; a histogram without labels shows, empty, before
// any observation, and a vector with labels shows nothing until used.
func TestHistogram(t *testing.T) {
	single := NewHistogramVec("delay_seconds", "Delay.", []float64{0.1, 1, 10})
	byJob := NewHistogramVec("duration_seconds", "Duration.", []float64{0.1, 1, 10}, "job")
	reg := NewRegistry(single, byJob)
	fams := parse(t, string(reg.Append(nil)))
	if h := fams["delay_seconds"].GetMetric(); len(h) != 1 || h[0].GetHistogram().GetSampleCount() != 0 || len(h[0].GetHistogram().GetBucket()) != 4 {
		t.Errorf("an unused histogram without labels: %v", h)
	}
	if _, ok := fams["duration_seconds"]; ok {
		t.Errorf("an unused vector is written")
	}

	for _, v := range []float64{0.05, 0.1, 0.5, 1, 7, 99} {
		byJob.With("a").Observe(v)
	}
	byJob.With("b").Observe(3)
	fams = parse(t, string(reg.Append(nil)))
	want := map[string]struct {
		buckets []uint64 // cumulative, +Inf last
		sum     float64
		count   uint64
	}{
		"a": {[]uint64{2, 4, 5, 6}, 0.05 + 0.1 + 0.5 + 1 + 7 + 99, 6},
		"b": {[]uint64{0, 0, 1, 1}, 3, 1},
	}
	ms := fams["duration_seconds"].GetMetric()
	if len(ms) != 2 || fams["duration_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("duration_seconds: %v", fams["duration_seconds"])
	}
	for _, m := range ms {
		job := labels(m)["job"]
		h, w := m.GetHistogram(), want[job]
		var got []uint64
		for _, b := range h.GetBucket() {
			got = append(got, b.GetCumulativeCount())
		}
		if !slices.Equal(got, w.buckets) || h.GetSampleSum() != w.sum || h.GetSampleCount() != w.count {
			t.Errorf("job %s: buckets %v sum %v count %d, want %v %v %d", job, got, h.GetSampleSum(), h.GetSampleCount(), w.buckets, w.sum, w.count)
		}
	}
	text := string(reg.Append(nil))
	for _, line := range []string{
		`duration_seconds_bucket{job="a",le="0.1"} 2`, `duration_seconds_bucket{job="a",le="+Inf"} 6`,
		`duration_seconds_count{job="a"} 6`, `delay_seconds_bucket{le="+Inf"} 0`, `delay_seconds_sum 0`,
	} {
		if !strings.Contains(text, "\n"+line+"\n") {
			t.Errorf("the exposition lacks the line %s:\n%s", line, text)
		}
	}
}

// Series are written sorted by label values; a gauge func is read at
// each scrape; families follow the registration order.
func TestOrderAndGaugeFunc(t *testing.T) {
	c := NewCounterVec("runs_total", "Runs.", "job", "status")
	for _, jv := range [][2]string{{"b", "ok"}, {"a", "failed"}, {"a", "ok"}} {
		c.With(jv[0], jv[1]).Inc()
	}
	n := 0.0
	g := NewGaugeFunc("up", "Up.", func() float64 { n++; return n })
	reg := NewRegistry(c, g)
	want := `# HELP runs_total Runs.
# TYPE runs_total counter
runs_total{job="a",status="failed"} 1
runs_total{job="a",status="ok"} 1
runs_total{job="b",status="ok"} 1
# HELP up Up.
# TYPE up gauge
up 1
`
	if got := string(reg.Append(nil)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := string(reg.Append(nil)); !strings.HasSuffix(got, "\nup 2\n") {
		t.Errorf("the gauge func was not read again:\n%s", got)
	}
}

// Concurrent updates and scrapes are race-free and lose nothing.
func TestConcurrentUpdates(t *testing.T) {
	c := NewCounterVec("n_total", "N.", "k")
	h := NewHistogramVec("h_seconds", "H.", []float64{1}, "k")
	reg := NewRegistry(c, h)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := string(rune('a' + i%2))
			for range each {
				c.With(k).Inc()
				h.With(k).Observe(0.5)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 50 {
			parse(t, string(reg.Append(nil)))
		}
	}()
	wg.Wait()
	for _, k := range []string{"a", "b"} {
		if got := c.With(k).Value(); got != workers/2*each {
			t.Errorf("n_total{k=%q} = %v, want %d", k, got, workers/2*each)
		}
		if _, _, n := h.With(k).snapshot(); n != workers/2*each {
			t.Errorf("h_seconds_count{k=%q} = %d, want %d", k, n, workers/2*each)
		}
	}
}

// Negative and NaN additions leave a counter as it was.
func TestCounterOnlyGoesUp(t *testing.T) {
	var c Counter
	c.Add(3)
	c.Add(-1)
	c.Add(math.NaN())
	if c.Value() != 3 {
		t.Errorf("value %v, want 3", c.Value())
	}
}

// Bad names and a wrong number of label values are programming errors.
func TestMisusePanics(t *testing.T) {
	for name, f := range map[string]func(){
		"metric name with a dash":   func() { NewCounterVec("a-b_total", "x") },
		"metric name with a digit":  func() { NewGaugeFunc("1up", "x", nil) },
		"empty metric name":         func() { NewCounterVec("", "x") },
		"label name with a colon":   func() { NewCounterVec("a_total", "x", "a:b") },
		"reserved label":            func() { NewCounterVec("a_total", "x", "__name") },
		"le on a histogram":         func() { NewHistogramVec("h", "x", []float64{1}, "le") },
		"buckets not increasing":    func() { NewHistogramVec("h", "x", []float64{2, 1}) },
		"a bucket repeated":         func() { NewHistogramVec("h", "x", []float64{1, 1}) },
		"+Inf bucket":               func() { NewHistogramVec("h", "x", []float64{1, math.Inf(1)}) },
		"too few label values":      func() { NewCounterVec("a_total", "x", "a", "b").With("1") },
		"label values on no labels": func() { NewHistogramVec("h", "x", []float64{1}).With("1") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			f()
		})
	}
	NewCounterVec("ok:name_total", "x", "_ok", "Ok2") // valid names do not panic
}

// The handler serves the text format, gzipped when asked, to GET and HEAD.
func TestHandler(t *testing.T) {
	c := NewCounterVec("x_total", "X.", "k")
	c.With("v").Inc()
	srv := httptest.NewServer(NewRegistry(c).Handler(nil))
	defer srv.Close()
	for _, tt := range []struct {
		method, acceptEncoding string
		gzipped                bool
	}{
		{"GET", "", false},
		{"GET", "gzip", true},
		{"GET", "deflate, gzip;q=0.5", true},
		{"GET", "gzip;q=0", false},
		{"GET", "identity", false},
		{"HEAD", "", false},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL, nil)
		req.Header.Set("Accept-Encoding", tt.acceptEncoding) // set, so the client does not gunzip by itself
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tt.gzipped {
			t.Errorf("%s Accept-Encoding %q: gzipped %v, want %v", tt.method, tt.acceptEncoding, got, tt.gzipped)
		}
		if expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
			t.Errorf("Content-Type %q is not the text format", resp.Header.Get("Content-Type"))
		}
		if tt.method == "HEAD" {
			continue
		}
		if tt.gzipped {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if v := parse(t, string(body))["x_total"].GetMetric()[0].GetCounter().GetValue(); v != 1 {
			t.Errorf("x_total = %v", v)
		}
	}
}

// BenchmarkCounterInc is the cost of one count on a series found by its
// two label values (a token refresh, a finished run).
func BenchmarkCounterInc(b *testing.B) {
	c := NewCounterVec("x_total", "X.", "token", "result")
	c.With("api", "ok").Inc()
	b.ReportAllocs()
	for b.Loop() {
		c.With("api", "ok").Inc()
	}
}

// BenchmarkHistogramObserve is the cost of one observation by job.
func BenchmarkHistogramObserve(b *testing.B) {
	h := NewHistogramVec("x_seconds", "X.", []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}, "job")
	b.ReportAllocs()
	for b.Loop() {
		h.With("job").Observe(0.3)
	}
}

// Label values that differ only in invalid bytes where the series key
// puts its separator are the same series once the bytes are replaced,
// and values that differ in valid text never share a series.
func TestSeriesKeys(t *testing.T) {
	c := NewCounterVec("x_total", "X.", "a", "b")
	c.With("x\xff", "y").Inc()
	c.With("x\uFFFD", "y").Inc()
	c.With("x", "\xffy").Inc()
	c.With("x", "y").Inc()
	fams := parse(t, string(NewRegistry(c).Append(nil)))
	got := map[string]float64{}
	for _, m := range fams["x_total"].GetMetric() {
		got[labels(m)["a"]+"|"+labels(m)["b"]] = m.GetCounter().GetValue()
	}
	want := map[string]float64{"x\uFFFD|y": 2, "x|\uFFFDy": 1, "x|y": 1}
	if !maps.Equal(got, want) {
		t.Errorf("series %v, want %v", got, want)
	}
}
