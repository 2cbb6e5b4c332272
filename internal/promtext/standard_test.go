package promtext

import (
	"maps"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// The Go and process collectors write the families of client_golang's
// default Go and process collectors: the same names, types, help texts
// and label names, and the same values where they do not move between
// two reads.
func TestStandardCollectorsMatchClientGolang(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	theirs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ours := parse(t, string(NewRegistry(GoCollector(), ProcessCollector()).Append(nil)))

	want := map[string]*dto.MetricFamily{}
	for _, f := range theirs {
		want[f.GetName()] = f
	}
	if got, w := slices.Sorted(maps.Keys(ours)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
		t.Fatalf("families\n%q\nwant\n%q", got, w)
	}
	for name, w := range want {
		g := ours[name]
		if g.GetType() != w.GetType() || g.GetHelp() != w.GetHelp() || len(g.GetMetric()) != len(w.GetMetric()) {
			t.Errorf("%s: %v %q (%d series), want %v %q (%d series)", name, g.GetType(), g.GetHelp(), len(g.GetMetric()), w.GetType(), w.GetHelp(), len(w.GetMetric()))
			continue
		}
		if gl, wl := labels(g.GetMetric()[0]), labels(w.GetMetric()[0]); !maps.Equal(gl, wl) {
			t.Errorf("%s: labels %v, want %v", name, gl, wl)
		}
	}
	for _, name := range []string{"go_info", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_sched_gomaxprocs_threads",
		"process_max_fds", "process_virtual_memory_max_bytes", "process_start_time_seconds"} {
		if g, w := ours[name].GetMetric()[0].GetGauge().GetValue(), want[name].GetMetric()[0].GetGauge().GetValue(); g != w {
			t.Errorf("%s = %v, want %v", name, g, w)
		}
	}
	if g, w := ours["process_resident_memory_bytes"].GetMetric()[0].GetGauge().GetValue(), want["process_resident_memory_bytes"].GetMetric()[0].GetGauge().GetValue(); g < w/2 || g > w*2 {
		t.Errorf("process_resident_memory_bytes = %v, client_golang read %v", g, w)
	}
}
