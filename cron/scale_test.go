package cron

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// scaleJobs and scaleFor size BenchmarkScheduler1000Jobs: 1,000 jobs
// `@every 10s`, scheduled for a minute (about 6,000 runs).
const (
	scaleJobs = 1000
	scaleFor  = 60 * time.Second
)

// cheapExecutor is an Executor that only writes a line: what is left of a
// run is the scheduler's and the store's own work.
type cheapExecutor struct{}

func (cheapExecutor) Execute(_ context.Context, j store.Job, out io.Writer) error {
	_, err := fmt.Fprintln(out, "ran", j.Name)
	return err
}

// startDelays collects how late each finished scheduled run started
// (Started - Scheduled), and how many runs did not succeed.
type startDelays struct {
	mu     sync.Mutex
	delays []time.Duration
	failed int
}

func (d *startDelays) finished(r store.Run) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.Status != store.RunSucceeded {
		d.failed++
		return
	}
	if r.Trigger == store.TriggerSchedule && !r.Scheduled.IsZero() {
		d.delays = append(d.delays, r.Started.Sub(r.Scheduled))
	}
}

// BenchmarkScheduler1000Jobs runs the scheduler with 1,000 jobs `@every
// 10s` on a bbolt store for a minute, with an executor that only writes a
// line, and reports the start delay of the scheduled runs (median, p99,
// max), how many failed, and the process's peak RSS (Linux). Run it with
// -benchtime 1x: each op is the whole minute.
func BenchmarkScheduler1000Jobs(b *testing.B) { benchmarkScale(b, cheapExecutor{}) }

// BenchmarkScheduler1000JobsInProcess is BenchmarkScheduler1000Jobs with
// the default Executor: each run executes its script in a fresh JavaScript
// runtime in this process (serve isolates runs in child processes instead;
// `go run ./bench -only cron` measures that).
func BenchmarkScheduler1000JobsInProcess(b *testing.B) { benchmarkScale(b, nil) }

// scaleForFlag stretches the scale benchmarks, e.g. to issue 17's five
// minutes: go test -run XXX -bench 1000Jobs -benchtime 1x ./cron -scale-for 5m
var scaleForFlag = flag.Duration("scale-for", scaleFor, "how long the scale benchmarks schedule the jobs")

func benchmarkScale(b *testing.B, exec Executor) {
	for b.Loop() {
		d, rss := runScale(b, exec)
		slices.Sort(d.delays)
		b.ReportMetric(float64(len(d.delays)), "runs")
		b.ReportMetric(float64(d.failed), "failed")
		b.ReportMetric(ms(pct(d.delays, 50)), "p50-delay-ms")
		b.ReportMetric(ms(pct(d.delays, 99)), "p99-delay-ms")
		b.ReportMetric(ms(pct(d.delays, 100)), "max-delay-ms")
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
}

func runScale(b *testing.B, exec Executor) (*startDelays, int64) {
	db, err := store.Open(filepath.Join(b.TempDir(), "scriptrun.db"), testKey, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *store.Tx) error {
		for i := range scaleJobs {
			name := fmt.Sprintf("job-%04d", i)
			j := store.Job{Name: name, Schedule: "@every 10s", Script: "console.log('x')", ScriptName: name + ".js", Timeout: time.Minute, Enabled: true}
			if err := tx.CreateJob(j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	d := &startDelays{}
	s := New(Options{DB: db, Executor: exec, OnRunFinished: d.finished})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	peak := sampleRSS(ctx)
	time.Sleep(*scaleForFlag) // the workload: a minute of schedules (by default)
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer stopCancel()
	if err := s.Stop(stopCtx); err != nil {
		b.Error(err)
	}
	return d, peak()
}

// sampleRSS samples the process's resident memory every 100 ms until ctx
// ends; the returned function gives the peak so far (0 where /proc is not).
func sampleRSS(ctx context.Context) func() int64 {
	var mu sync.Mutex
	var peak int64
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v := residentBytes(); v > 0 {
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// residentBytes reads VmRSS from /proc/self/status (0 when it cannot).
func residentBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func pct(xs []time.Duration, p int) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	return xs[min(len(xs)-1, (len(xs)-1)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
