package cron

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// TestMeasureJitter measures scheduling jitter (start minus due time) and
// resident memory with many jobs due every second, as serve would run them.
// It is a measurement, not a test: it asserts nothing about timing and runs
// only when asked:
//
//	SCRIPTRUN_CRON_JITTER=60s [SCRIPTRUN_CRON_JITTER_JOBS=100] [SCRIPTRUN_CRON_JITTER_SCRIPT='...'] \
//	    go test -run TestMeasureJitter -v ./cron
func TestMeasureJitter(t *testing.T) {
	spec := os.Getenv("SCRIPTRUN_CRON_JITTER")
	if spec == "" {
		t.Skip("set SCRIPTRUN_CRON_JITTER=60s to measure jitter and memory")
	}
	dur, err := time.ParseDuration(spec)
	if err != nil {
		t.Fatal(err)
	}
	jobs := 100
	script := os.Getenv("SCRIPTRUN_CRON_JITTER_SCRIPT") // default: a trivial script, so the scheduler is measured
	if script == "" {
		script = "console.log('tick', args[0]);"
	}
	if n, err := strconv.Atoi(os.Getenv("SCRIPTRUN_CRON_JITTER_JOBS")); err == nil && n > 0 {
		jobs = n
	}
	path := filepath.Join(t.TempDir(), "scriptrun.db")
	db, err := store.Open(path, testKey, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := store.Open(path, testKey, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{DB: db})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	goruntime.GC()
	time.Sleep(2 * time.Second)
	idle := rssKiB(t)

	// The jobs arrive from "another process", as from `scriptrun cron add`.
	if err := cli.Update(func(tx *store.Tx) error {
		for i := range jobs {
			j := store.Job{Name: fmt.Sprintf("job-%03d", i), Schedule: "@every 1s", ScriptName: "tick.js",
				Script: script,
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

	var delays []time.Duration
	statuses := map[store.RunStatus]int{}
	if err := db.View(func(tx *store.Tx) error {
		for i := range jobs {
			runs, err := tx.Runs(fmt.Sprintf("job-%03d", i), 0)
			if err != nil {
				return err
			}
			for _, r := range runs {
				statuses[r.Status]++
				if r.Status == store.RunSucceeded && r.Trigger == store.TriggerSchedule {
					delays = append(delays, r.Started.Sub(r.Scheduled))
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(delays)
	pct := func(p float64) time.Duration {
		if len(delays) == 0 {
			return 0
		}
		return delays[min(len(delays)-1, int(p*float64(len(delays))))]
	}
	var sum int
	for _, v := range samples {
		sum += v
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fi, _ := os.Stat(path)
	t.Logf("%d jobs @every 1s for %s on %d CPUs (load %s)", jobs, dur, goruntime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	t.Logf("runs: %v", statuses)
	t.Logf("start - due: p50 %s  p90 %s  p99 %s  max %s  (%d runs)", pct(0.50), pct(0.90), pct(0.99), pct(1), len(delays))
	t.Logf("RSS: idle %d MiB; under load mean %d MiB, max %d MiB; database %d MiB",
		idle/1024, sum/max(len(samples), 1)/1024, slices.Max(samples)/1024, fi.Size()>>20)
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
