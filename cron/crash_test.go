package cron

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// TestMain lets the test binary act as a scheduler process that a test
// kills (CRON_TEST_PROCESS=crash).
func TestMain(m *testing.M) {
	if os.Getenv("CRON_TEST_PROCESS") == "crash" {
		os.Exit(crashScheduler(os.Getenv("CRON_DB")))
	}
	os.Exit(m.Run())
}

// crashJobs and crashSlots shape the crashing scheduler: many runs due at
// once, most of them queued for a slot, so that a kill falls among
// batched records of every kind (queued, started, finished).
const (
	crashJobs  = 40
	crashSlots = 4
)

// crashScheduler schedules the jobs of the database at path until it is
// killed; each run writes a line and takes a moment.
func crashScheduler(path string) int {
	db, err := store.Open(path, testKey, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s := New(Options{DB: db, MaxConcurrentRuns: crashSlots, Executor: funcExecutor(func(ctx context.Context, j store.Job, out io.Writer) error {
		fmt.Fprintln(out, "ran", j.Name)
		os.Stdout.WriteString("run\n") // the test kills after a number of these
		// Not a wait: a random length of run in this child fixture, so that
		// the kill falls at every point of a run's records.
		select {
		case <-time.After(time.Duration(rand.IntN(20)) * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	})})
	if err := s.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	os.Stdout.WriteString("ready\n")
	select {}
}

// TestCrashLeavesEveryRunRecordedOnce kills a scheduler process with
// SIGKILL at random moments while bursts of runs are recorded in batches,
// then starts a scheduler on the same file, as serve would after a crash:
// the file passes bbolt's check, every run of the dead process ends final
// (those it left queued or running are cancelled, naming it), no due time
// has two records, and no run is left active.
func TestCrashLeavesEveryRunRecordedOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills scheduler processes")
	}
	path := filepath.Join(t.TempDir(), "scriptrun.db")
	db, err := store.Open(path, testKey, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *store.Tx) error {
		for i := range crashJobs {
			if err := tx.CreateJob(testJobSpec(fmt.Sprintf("j%02d", i), "@every 1s")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const kills = 4
	closed := 0
	for i := range kills {
		killScheduler(t, path)
		if err := db.Check(); err != nil {
			t.Fatalf("kill %d: database check: %v", i, err)
		}
		// A scheduler starting after the crash closes what the dead one left.
		s := New(Options{DB: db, Executor: funcExecutor(func(context.Context, store.Job, io.Writer) error { return nil })})
		if err := s.Start(context.Background()); err != nil {
			t.Fatalf("kill %d: start after the crash: %v", i, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		err := s.Stop(ctx)
		cancel()
		if err != nil {
			t.Fatalf("kill %d: stop: %v", i, err)
		}
		closed = checkRunsAfterCrash(t, db) // all of them so far
	}
	// Not an assertion (where a kill falls is random): how many runs the
	// kills left unfinished, which the next scheduler closed.
	t.Logf("%d kills; runs left unfinished and closed after them: %d", kills, closed)
}

// killScheduler runs a crashScheduler on path and kills it at a random
// moment among its runs.
func killScheduler(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CRON_TEST_PROCESS=crash", "CRON_DB="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready, runs, read := make(chan bool, 1), make(chan struct{}, 1024), make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		ready <- sc.Scan() && sc.Text() == "ready"
		for sc.Scan() {
			select {
			case runs <- struct{}{}:
			default:
			}
		}
	}()
	kill := func() {
		_ = cmd.Process.Kill()
		<-read // the pipe is read to its end before Wait closes it
		_ = cmd.Wait()
	}
	select {
	case ok := <-ready:
		if !ok {
			kill()
			t.Fatalf("crash scheduler did not start: %s", stderr.String())
		}
	case <-time.After(waitLimit):
		kill()
		t.Fatal("crash scheduler did not start")
	}
	// The kill falls after a random number of runs began, in the middle
	// of the first burst or of the second.
	for range 1 + rand.IntN(2*crashJobs-1) {
		select {
		case <-runs:
		case <-time.After(waitLimit):
			kill()
			t.Fatal("the crash scheduler's runs did not begin")
		}
	}
	kill()
}

// checkRunsAfterCrash: every run is final and each due time of each job
// has at most one record. It returns how many runs were closed because
// their process ended.
func checkRunsAfterCrash(t *testing.T, db *store.DB) (closed int) {
	t.Helper()
	err := db.View(func(tx *store.Tx) error {
		active, err := tx.ActiveRuns()
		if err != nil {
			return err
		}
		for _, r := range active {
			t.Errorf("run %+v left active", r)
		}
		for i := range crashJobs {
			runs, err := tx.Runs(fmt.Sprintf("j%02d", i), 0)
			if err != nil {
				return err
			}
			seen := map[time.Time]uint64{}
			for _, r := range runs {
				if !r.Status.Final() {
					t.Errorf("run %+v is not final", r)
				}
				if strings.Contains(r.Reason, "ended before the run finished") {
					closed++
				}
				if r.Status == store.RunCancelled && !strings.Contains(r.Reason, "ended before the run finished") && !strings.Contains(r.Reason, "stopped") {
					t.Errorf("cancelled run %+v: reason does not say why", r)
				}
				if r.Trigger != store.TriggerSchedule {
					continue
				}
				if other, ok := seen[r.Scheduled]; ok {
					t.Errorf("job %s: runs %d and %d are both due at %s", r.Job, other, r.ID, r.Scheduled)
				}
				seen[r.Scheduled] = r.ID
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return closed
}
