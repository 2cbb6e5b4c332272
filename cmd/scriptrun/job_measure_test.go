package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/store"
)

// firstWrite records when a run's output began: the script's first
// statement prints, so this is when the script started.
type firstWrite struct {
	mu    sync.Mutex
	at    time.Time
	bytes bytes.Buffer
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.at.IsZero() {
		w.at = time.Now()
	}
	return w.bytes.Write(p)
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestMeasureIsolation measures what running a cron run in a child process
// adds to its start: from the moment the run is handed to the executor to
// the script's first output, in-process (a fresh runtime, the script
// compiled once, as cron's default executor) and in a `scriptrun _job`
// child of the real binary, interleaved. A measurement, not a test:
//
//	SCRIPTRUN_MEASURE_ISOLATION=300 go test -run TestMeasureIsolation$ -v ./cmd/scriptrun
func TestMeasureIsolation(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SCRIPTRUN_MEASURE_ISOLATION"))
	if n <= 0 {
		t.Skip("set SCRIPTRUN_MEASURE_ISOLATION=300 to measure the start delay of isolated runs")
	}
	const src = "console.log('start'); let s = 0; for (let i = 0; i < 1000; i++) s += i; console.log(s);"
	j := store.Job{Name: "m", ScriptName: "m.js", Script: src, Timeout: time.Minute, MaxMemory: store.DefaultJobMaxMemory}
	fresh := &jobProcess{exe: binary(t), home: t.TempDir(), env: os.Environ(), log: slog.New(slog.DiscardHandler)}
	spare := &jobProcess{exe: fresh.exe, home: fresh.home, env: fresh.env, log: fresh.log}
	spare.spares.max, spare.spares.spawn = maxSpareJobs, spare.spawn
	defer spare.close()
	script, err := runtime.CompileSource("m.js", src)
	if err != nil {
		t.Fatal(err)
	}
	type series struct{ start, total []time.Duration }
	var in, cold, warm series
	child := func(x *jobProcess, s *series, keep bool) {
		w := &firstWrite{}
		t0 := time.Now()
		if err := x.Execute(context.Background(), j, w); err != nil {
			t.Fatal(err)
		}
		if keep {
			s.start, s.total = append(s.start, w.at.Sub(t0)), append(s.total, time.Since(t0))
		}
		if w.bytes.String() != "start\n499500\n" {
			t.Fatalf("child output %q", w.bytes.String())
		}
	}
	for i := range n + 5 {
		keep := i >= 5
		w := &firstWrite{}
		t0 := time.Now()
		if err := script.Run(context.Background(), runtime.Options{Stdout: w, Stderr: w, Timeout: j.Timeout}); err != nil {
			t.Fatal(err)
		}
		if keep {
			in.start, in.total = append(in.start, w.at.Sub(t0)), append(in.total, time.Since(t0))
		}
		child(fresh, &cold, keep)
		// A spare is started after each run; give the fill loop the moment
		// it has between runs in serve.
		waitFor(t, "a spare", 10*time.Second, func() bool {
			spare.spares.mu.Lock()
			defer spare.spares.mu.Unlock()
			return len(spare.spares.idle) > 0 || i == 0
		})
		child(spare, &warm, keep)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("%d runs each, interleaved, on %d CPUs (load %s)", n, goruntime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	for _, r := range []struct {
		name string
		s    series
	}{{"in-process", in}, {"child started for the run", cold}, {"ready child (reused)", warm}} {
		t.Logf("%-26s script start p50 %8v p90 %8v p99 %8v; whole run p50 %8v; added to the start: p50 %v",
			r.name+":", pct(r.s.start, .5).Round(time.Microsecond), pct(r.s.start, .9).Round(time.Microsecond), pct(r.s.start, .99).Round(time.Microsecond),
			pct(r.s.total, .5).Round(time.Microsecond), (pct(r.s.start, .5) - pct(in.start, .5)).Round(time.Microsecond))
	}
}

// timedExecutor records, per run, how long the child took to print.
type timedExecutor struct {
	next cron.Executor
	mu   sync.Mutex
	lag  []time.Duration
}

func (x *timedExecutor) Execute(ctx context.Context, j store.Job, out io.Writer) error {
	w := &firstWrite{}
	t0 := time.Now()
	err := x.next.Execute(ctx, j, io.MultiWriter(w, out))
	if !w.at.IsZero() {
		x.mu.Lock()
		x.lag = append(x.lag, w.at.Sub(t0))
		x.mu.Unlock()
	}
	return err
}

// TestMeasureIsolatedJitter is cron's TestMeasureJitter with serve's
// executor: many jobs due every second, each run a child process of the
// real binary. It reports the scheduler's start delay (record's start minus
// due time), the script's own start delay (its first statement prints
// Date.now(), minus the due time; millisecond resolution), the child's part
// of it, and how the runs ended:
//
//	SCRIPTRUN_CRON_JITTER=60s [SCRIPTRUN_CRON_JITTER_JOBS=100] [SCRIPTRUN_CRON_JITTER_SLOTS=64] \
//	    [SCRIPTRUN_CRON_JITTER_MODE=spares|child|in-process] go test -run TestMeasureIsolatedJitter -v ./cmd/scriptrun
//
// Modes: spares (serve's: children started ahead), child (each run starts
// its child), in-process (cron's default executor, for comparison). CPU
// time per run counts this process and its children (getrusage).
func TestMeasureIsolatedJitter(t *testing.T) {
	spec := os.Getenv("SCRIPTRUN_CRON_JITTER")
	if spec == "" {
		t.Skip("set SCRIPTRUN_CRON_JITTER=60s to measure jitter with isolated runs")
	}
	dur, err := time.ParseDuration(spec)
	if err != nil {
		t.Fatal(err)
	}
	jobs := 100
	if n, err := strconv.Atoi(os.Getenv("SCRIPTRUN_CRON_JITTER_JOBS")); err == nil && n > 0 {
		jobs = n
	}
	home := t.TempDir()
	path := filepath.Join(home, "scriptrun.db")
	key := bytes.Repeat([]byte{7}, store.KeySize)
	db, err := store.Open(path, key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := store.Open(path, key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	jp := &jobProcess{exe: binary(t), home: home, env: os.Environ(), log: slog.New(slog.DiscardHandler)}
	mode := os.Getenv("SCRIPTRUN_CRON_JITTER_MODE")
	if mode == "" {
		mode = "spares"
	}
	if mode == "spares" {
		jp.spares.max, jp.spares.spawn = maxSpareJobs, jp.spawn
	}
	defer jp.close()
	x := &timedExecutor{next: jp}
	o := cron.Options{DB: db, Executor: x}
	if mode == "in-process" {
		o.Executor = nil
	}
	o.MaxConcurrentRuns, _ = strconv.Atoi(os.Getenv("SCRIPTRUN_CRON_JITTER_SLOTS")) // 0: the default
	s := cron.New(o)
	var self0, kids0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids0)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := cli.Update(func(tx *store.Tx) error {
		for i := range jobs {
			j := store.Job{Name: fmt.Sprintf("job-%03d", i), Schedule: "@every 1s", ScriptName: "tick.js",
				Script: "console.log(Date.now()); console.log('tick', args[0]);",
				Args:   []string{strconv.Itoa(i)}, Timeout: 10 * time.Second, Enabled: true}
			if err := tx.PutJob(j); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var samples []int
	begin := time.Now()
	for time.Since(begin) < dur {
		time.Sleep(time.Second)
		samples = append(samples, rssKiB(t))
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	jp.close()
	var self1, kids1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids1)
	cpu := func(a, b syscall.Rusage) time.Duration {
		return time.Duration(b.Utime.Nano()+b.Stime.Nano()-a.Utime.Nano()-a.Stime.Nano()) * time.Nanosecond
	}

	var recorded, script, steady []time.Duration
	var first time.Time // the first due time: the first burst finds no child ready
	statuses := map[store.RunStatus]int{}
	if err := db.View(func(tx *store.Tx) error {
		for i := range jobs {
			runs, err := tx.Runs(fmt.Sprintf("job-%03d", i), 0)
			if err != nil {
				return err
			}
			for _, r := range runs {
				statuses[r.Status]++
				if r.Status != store.RunSucceeded || r.Trigger != store.TriggerSchedule {
					continue
				}
				recorded = append(recorded, r.Started.Sub(r.Scheduled))
				if first.IsZero() || r.Scheduled.Before(first) {
					first = r.Scheduled
				}
				out, err := tx.RunOutput(r.ID)
				if err != nil {
					return err
				}
				line, _, _ := strings.Cut(string(out), "\n")
				if ms, err := strconv.ParseInt(line, 10, 64); err == nil {
					script = append(script, time.UnixMilli(ms).Sub(r.Scheduled))
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var sum int
	for _, v := range samples {
		sum += v
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("%d jobs @every 1s for %s on %d CPUs, mode %s (load %s)", jobs, dur, goruntime.NumCPU(), mode, strings.Join(strings.Fields(string(load))[:3], " "))
	t.Logf("runs: %v", statuses)
	if n := time.Duration(max(len(recorded), 1)); true {
		t.Logf("CPU per run: scheduler process %v, children %v", (cpu(self0, self1) / n).Round(10*time.Microsecond), (cpu(kids0, kids1) / n).Round(10*time.Microsecond))
	}
	t.Logf("recorded start - due: p50 %s  p90 %s  p99 %s  max %s  (%d runs)", pct(recorded, .5), pct(recorded, .9), pct(recorded, .99), pct(recorded, 1), len(recorded))
	t.Logf("script start - due:   p50 %s  p90 %s  p99 %s  max %s", pct(script, .5), pct(script, .9), pct(script, .99), pct(script, 1))
	if err := db.View(func(tx *store.Tx) error {
		for i := range jobs {
			runs, err := tx.Runs(fmt.Sprintf("job-%03d", i), 0)
			if err != nil {
				return err
			}
			for _, r := range runs {
				if r.Status == store.RunSucceeded && r.Trigger == store.TriggerSchedule && r.Scheduled.After(first.Add(2*time.Second)) {
					steady = append(steady, r.Started.Sub(r.Scheduled))
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded start - due after the first 3 due times: p50 %s  p90 %s  p99 %s  max %s  (%d runs)", pct(steady, .5), pct(steady, .9), pct(steady, .99), pct(steady, 1), len(steady))
	x.mu.Lock()
	t.Logf("child's start (executor to first output): p50 %s  p90 %s  p99 %s", pct(x.lag, .5), pct(x.lag, .9), pct(x.lag, .99))
	x.mu.Unlock()
	t.Logf("serve-side RSS under load: mean %d MiB, max %d MiB", sum/max(len(samples), 1)/1024, slices.Max(samples)/1024)
}

// rssKiB reads this process's resident set size (Linux).
func rssKiB(t *testing.T) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status: RSS is measured on Linux only")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
