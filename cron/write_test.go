package cron

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// blockingExecutor runs each job's script as a wait: the run reports on
// entered that it began, then waits for release[job] to be closed.
type blockingExecutor struct {
	entered chan string
	release map[string]chan struct{}
}

func newBlockingExecutor(jobs ...string) *blockingExecutor {
	x := &blockingExecutor{entered: make(chan string, len(jobs)), release: map[string]chan struct{}{}}
	for _, j := range jobs {
		x.release[j] = make(chan struct{})
	}
	return x
}

func (x *blockingExecutor) Execute(ctx context.Context, j store.Job, out io.Writer) error {
	x.entered <- j.Name
	select {
	case <-x.release[j.Name]:
		_, err := fmt.Fprintln(out, "ran", j.Name)
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next returns the job of the next run that began.
func (x *blockingExecutor) next(t *testing.T) string {
	t.Helper()
	select {
	case got := <-x.entered:
		return got
	case <-time.After(waitLimit):
		t.Fatal("no run began")
		return ""
	}
}

// holdWriter makes the scheduler's writer commit a transaction that waits
// until the returned release is called: writes queued meanwhile wait.
func holdWriter(t *testing.T, s *Scheduler) (release func()) {
	t.Helper()
	entered, hold, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.writer.do(func(*store.Tx) error {
			select {
			case <-entered:
			default:
				close(entered) // the function may run twice (a failed batch is retried)
			}
			<-hold
			return nil
		})
	}()
	select {
	case <-entered:
	case <-time.After(waitLimit):
		t.Fatal("the writer did not take the holding write")
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(hold)
			if err := <-done; err != nil {
				t.Errorf("holding write: %v", err)
			}
		})
	}
	t.Cleanup(release) // a test that fails while it holds the writer
	return release
}

// TestQueuedRunStartsWithoutWaitingForItsRecord: a run queued for a free
// slot starts as soon as it gets one, while the record of its start is
// still being written (the writer is held), and its records are written
// in order: queued, running, then its outcome, which stays.
func TestQueuedRunStartsWithoutWaitingForItsRecord(t *testing.T) {
	x := newBlockingExecutor("a", "b")
	e := newEnv(t, t0, func(o *Options) { o.MaxConcurrentRuns, o.Executor = 1, x })
	e.put(t, job("a", "@every 1m", "unused"))
	e.put(t, job("b", "@every 1m", "unused"))
	e.start(t)
	e.waiters(t, 3) // the jobs' timers and the poll ticker
	e.advanceTo(at("10:01:00"))
	first := x.next(t)
	second := map[string]string{"a": "b", "b": "a"}[first]
	var queued store.Run
	for queued.ID == 0 {
		if r := <-e.events; r.Job == second {
			if r.Status != store.RunQueued {
				t.Fatalf("%s's first record = %+v, want queued for a slot", second, r)
			}
			queued = r
		}
	}

	release := holdWriter(t, e.s)
	close(x.release[first])
	if got := x.next(t); got != second { // while no record can be written
		t.Fatalf("job %s started, want %s", got, second)
	}
	close(x.release[second])
	release()

	var got []store.RunStatus
	var running store.Run
	for len(got) == 0 || !got[len(got)-1].Final() {
		r := e.next(t, func(r store.Run) bool { return r.ID == queued.ID })
		got = append(got, r.Status)
		if r.Status == store.RunRunning {
			running = r
		}
	}
	if want := []store.RunStatus{store.RunRunning, store.RunSucceeded}; !slices.Equal(got, want) {
		t.Fatalf("records after queued = %v, want %v", got, want)
	}
	runs := e.runs(t, second)
	if len(runs) != 1 {
		t.Fatalf("%s has %d runs, want 1: %+v", second, len(runs), runs)
	}
	r := runs[0]
	if r.Status != store.RunSucceeded || r.Started.IsZero() || !r.Started.Equal(running.Started) || r.Finished.IsZero() {
		t.Errorf("stored run = %+v, want succeeded, started when its running record says (%s)", r, running.Started)
	}
	if out := e.output(t, r.ID); out != "ran "+second+"\n" {
		t.Errorf("output = %q", out)
	}
	var active []store.Run
	if err := e.db.View(func(tx *store.Tx) (err error) { active, err = tx.ActiveRuns(); return err }); err != nil || len(active) != 0 {
		t.Errorf("active runs = %+v, %v; want none", active, err)
	}
}

// TestWriterFailedBatchRecordsEachRunOnce: when one write of a batch fails,
// the batch's transaction is rolled back and every other write is committed
// on its own: each run is recorded exactly once, under the ID its caller
// was given, and the failing caller gets its error.
func TestWriterFailedBatchRecordsEachRunOnce(t *testing.T) {
	db := dbWithJob(t, "j")
	w := newWriter(db)
	const n = 5
	ids := make([]uint64, n)
	var batch []*writeReq
	for i := range n {
		batch = append(batch, &writeReq{err: make(chan error, 1), fn: func(tx *store.Tx) error {
			r, err := tx.AddRun(store.Run{Job: "j", Trigger: store.TriggerManual, Status: store.RunRunning, Reason: fmt.Sprint(i)}, nil)
			ids[i] = r.ID
			return err
		}})
		if i == 2 {
			batch = append(batch, &writeReq{err: make(chan error, 1), fn: func(tx *store.Tx) error {
				// A write that fails after the ones before it wrote.
				return tx.UpdateRun(store.Run{ID: 1 << 40, Job: "j", Trigger: store.TriggerManual, Status: store.RunFailed}, nil)
			}})
		}
	}
	w.commit(batch)
	for i, r := range batch {
		err := <-r.err
		if (i == 3) != (err != nil) {
			t.Errorf("write %d: err = %v", i, err)
		}
		if i == 3 && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("failing write's error = %v, want ErrNotFound", err)
		}
	}
	var runs []store.Run
	if err := db.View(func(tx *store.Tx) (err error) { runs, err = tx.Runs("j", 0); return err }); err != nil {
		t.Fatal(err)
	}
	if len(runs) != n {
		t.Fatalf("%d runs recorded, want %d: %+v", len(runs), n, runs)
	}
	for _, r := range runs {
		var i int
		if _, err := fmt.Sscan(r.Reason, &i); err != nil || ids[i] != r.ID {
			t.Errorf("run %+v: caller %d was told ID %d", r, i, ids[i])
		}
	}
}

// TestQueuedRunsOnEtcd: on etcd, where the writer's batches are small
// (etcd's operations per transaction), runs queued for a slot record
// their start in those batches: every run ends recorded once per due
// time, final, and none is left active.
func TestQueuedRunsOnEtcd(t *testing.T) {
	c := etcdtest.New(t)
	url := "etcd://" + strings.Join(c.Endpoints(), ",") + "/" + strings.ToLower(t.Name()) + "/"
	db, err := store.OpenURL(context.Background(), url, testKey, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	node, err := db.RegisterNode(context.Background(), store.NodeInfo{Name: "node-0"}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	const jobs = 12
	for i := range jobs {
		j := testJobSpec(fmt.Sprintf("j%02d", i), "@every 1s")
		if err := db.Update(func(tx *store.Tx) error { return tx.CreateJob(j) }); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	queued := map[uint64]bool{}
	s := New(Options{DB: db, Node: node, RunBy: "node-0", MaxConcurrentRuns: 2, PollInterval: pollInterval, GracePeriod: time.Second,
		Executor: funcExecutor(func(_ context.Context, j store.Job, out io.Writer) error {
			_, err := fmt.Fprintln(out, "ran", j.Name)
			return err
		})})
	s.onEvent = func(r store.Run) {
		if r.Status == store.RunQueued {
			mu.Lock()
			queued[r.ID] = true
			mu.Unlock()
		}
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	all := func() (runs []store.Run) {
		for i := range jobs {
			var rs []store.Run
			if err := db.View(func(tx *store.Tx) (err error) { rs, err = tx.Runs(fmt.Sprintf("j%02d", i), 0); return err }); err != nil {
				t.Fatal(err)
			}
			runs = append(runs, rs...)
		}
		return runs
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(queued)
		mu.Unlock()
		if countFinished(all()) >= 3*jobs && n >= jobs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d runs finished, %d were queued for a slot", countFinished(all()), n)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition, not synchronising
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	startedQueued := 0
	for _, r := range all() {
		due := r.Job + " " + r.Scheduled.String()
		if seen[due] {
			t.Errorf("two records of %s", due)
		}
		seen[due] = true
		if !r.Status.Final() {
			t.Errorf("run %+v is not final after Stop", r)
		}
		if !r.Started.IsZero() && r.Status != store.RunSucceeded && r.Status != store.RunCancelled {
			t.Errorf("run %+v started and did not succeed", r)
		}
		if queued[r.ID] && r.Status == store.RunSucceeded {
			startedQueued++
			if r.Started.Before(r.Created) {
				t.Errorf("queued run %+v started before it was recorded", r)
			}
		}
	}
	if startedQueued == 0 {
		t.Error("no run queued for a slot ran")
	}
	var active []store.Run
	if err := db.View(func(tx *store.Tx) (err error) { active, err = tx.ActiveRuns(); return err }); err != nil || len(active) != 0 {
		t.Errorf("active runs after Stop = %+v, %v; want none", active, err)
	}
}

// TestWriterStart: a write queued with start is committed before any write
// queued after it, its callback gets its outcome, and a closed writer
// refuses it.
func TestWriterStart(t *testing.T) {
	db := dbWithJob(t, "j")
	w := newWriter(db)
	var id uint64
	answered := make(chan error, 1)
	ok := w.start(func(tx *store.Tx) error {
		r, err := tx.AddRun(store.Run{Job: "j", Trigger: store.TriggerManual, Status: store.RunQueued}, nil)
		id = r.ID
		return err
	}, func(err error) { answered <- err })
	if !ok {
		t.Fatal("start refused a write of an open writer")
	}
	var seen int
	if err := w.do(func(tx *store.Tx) error {
		runs, err := tx.Runs("j", 0)
		seen = len(runs)
		return err
	}); err != nil || seen != 1 {
		t.Errorf("a write queued after start saw %d runs (%v), want the one start wrote", seen, err)
	}
	select {
	case err := <-answered:
		if err != nil || id == 0 {
			t.Errorf("start's outcome = %v, run %d", err, id)
		}
	case <-time.After(waitLimit):
		t.Fatal("start's callback was not called")
	}
	failed := make(chan error, 1)
	w.start(func(tx *store.Tx) error {
		return tx.UpdateRun(store.Run{ID: 1 << 40, Job: "j", Trigger: store.TriggerManual, Status: store.RunFailed}, nil)
	}, func(err error) { failed <- err })
	select {
	case err := <-failed:
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("failed write's outcome = %v, want ErrNotFound", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("a failed write's callback was not called")
	}
	w.close()
	if w.start(func(*store.Tx) error { return nil }, func(error) { t.Error("callback of a refused write") }) {
		t.Error("a closed writer queued a write")
	}
}

// dbWithJob opens a store in a temporary folder holding one job, name, and
// closes it when the test ends.
func dbWithJob(t *testing.T, name string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "scriptrun.db"), testKey, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *store.Tx) error { return tx.CreateJob(job(name, "@every 1m", "unused")) }); err != nil {
		t.Fatal(err)
	}
	return db
}
