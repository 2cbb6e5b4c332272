package store

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

func addRun(t *testing.T, db *DB, r Run, output []byte) Run {
	t.Helper()
	must(t, db.Update(func(tx *Tx) (err error) { r, err = tx.AddRun(r, output); return err }))
	return r
}

func runIDs(runs []Run) []uint64 {
	ids := make([]uint64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

func TestRunRecordAndHistoryBound(t *testing.T) {
	db := openTestDB(t)
	j := testJob("sync")
	j.History = 3
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(j) }))
	v := cronVersion(t, db)

	// A long run that stays running while newer ones finish must survive
	// trimming.
	long := addRun(t, db, Run{Job: "sync", Trigger: TriggerSchedule, Status: RunRunning, Scheduled: time.Unix(100, 0)}, nil)
	var ids []uint64
	for i := range 5 {
		r := addRun(t, db, Run{Job: "sync", Trigger: TriggerManual, Status: RunSucceeded}, fmt.Appendf(nil, "output %d", i))
		ids = append(ids, r.ID)
	}
	if cronVersion(t, db) != v {
		t.Error("recording runs moved the job version (schedulers would reload for nothing)")
	}
	var runs []Run
	must(t, db.View(func(tx *Tx) (err error) { runs, err = tx.Runs("sync", 0); return err }))
	want := []uint64{ids[4], ids[3], long.ID}
	if got := runIDs(runs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("runs after 6 with history 3 = %v, want newest finished %v plus the running %d", got, want[:2], long.ID)
	}
	must(t, db.View(func(tx *Tx) error {
		if out, err := tx.RunOutput(ids[4]); err != nil || string(out) != "output 4" {
			t.Errorf("output of the newest = %q, %v", out, err)
		}
		if _, err := tx.RunOutput(ids[0]); !errors.Is(err, ErrNotFound) {
			t.Errorf("output of a trimmed run: %v, want ErrNotFound", err)
		}
		if active, err := tx.ActiveRuns(); err != nil || len(active) != 1 || active[0].ID != long.ID {
			t.Errorf("active runs = %v, %v; want the long one", runIDs(active), err)
		}
		if last, ok, err := tx.LastRun("sync"); !ok || err != nil || last.ID != ids[4] {
			t.Errorf("LastRun = %d %v %v", last.ID, ok, err)
		}
		if st, _ := tx.JobState("sync"); !st.LastScheduled.Equal(time.Unix(100, 0)) {
			t.Errorf("LastScheduled = %v, want the scheduled run's due time", st.LastScheduled)
		}
		return nil
	}))

	// The long run finishes; the next record trims it.
	long.Status, long.Finished = RunCancelled, time.Now()
	must(t, db.Update(func(tx *Tx) error { return tx.UpdateRun(long, []byte("partial")) }))
	addRun(t, db, Run{Job: "sync", Trigger: TriggerManual, Status: RunFailed}, nil)
	must(t, db.View(func(tx *Tx) (err error) { runs, err = tx.Runs("sync", 0); return err }))
	if len(runs) != 3 || runs[2].ID != ids[3] {
		t.Errorf("after the long run finished: %v, want 3 newest", runIDs(runs))
	}
	must(t, db.View(func(tx *Tx) error {
		if active, _ := tx.ActiveRuns(); len(active) != 0 {
			t.Errorf("active runs after all finished: %v", runIDs(active))
		}
		return nil
	}))
}

// TestTrimPastManyUnfinishedRuns: trimming reads the records of the
// oldest runs from its listing, and the records of runs further on from
// the store: with more unfinished old runs than it has at hand, it still
// passes over them and deletes the finished runs beyond.
func TestTrimPastManyUnfinishedRuns(t *testing.T) {
	db := openTestDB(t)
	j := testJob("sync")
	j.History = 1
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(j) }))
	unfinished := maxTrim + trimSlack + 4
	var running, finished []uint64
	must(t, db.Update(func(tx *Tx) error {
		// One transaction: each AddRun would otherwise trim as it goes.
		for range unfinished {
			r, err := tx.AddRun(Run{Job: "sync", Trigger: TriggerManual, Status: RunRunning}, nil)
			running = append(running, r.ID)
			if err != nil {
				return err
			}
		}
		for range 3 {
			r, err := tx.AddRun(Run{Job: "sync", Trigger: TriggerManual, Status: RunSucceeded}, nil)
			finished = append(finished, r.ID)
			if err != nil {
				return err
			}
		}
		return nil
	}))
	// The history is one run, and unfinished runs are never trimmed: every
	// finished run goes, the one just added too.
	last := addRun(t, db, Run{Job: "sync", Trigger: TriggerManual, Status: RunSucceeded}, nil)
	var runs []Run
	must(t, db.View(func(tx *Tx) (err error) { runs, err = tx.Runs("sync", 0); return err }))
	got := runIDs(runs)
	slices.Reverse(got)
	if !slices.Equal(got, running) {
		t.Errorf("runs = %v, want only the %d unfinished ones; the finished %v and %d trimmed", got, unfinished, finished, last.ID)
	}
}

// A job's runs are found by exact name, not by prefix.
func TestRunsOfSimilarNames(t *testing.T) {
	db := openTestDB(t)
	names := []string{"a", "a.b", "a-", "b"}
	want := map[string][]uint64{}
	for _, n := range names {
		must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob(n)) }))
	}
	for range 3 {
		for _, n := range names {
			r := addRun(t, db, Run{Job: n, Trigger: TriggerManual, Status: RunSucceeded}, nil)
			want[n] = append([]uint64{r.ID}, want[n]...)
		}
	}
	for _, n := range names {
		var runs []Run
		must(t, db.View(func(tx *Tx) (err error) { runs, err = tx.Runs(n, 0); return err }))
		if fmt.Sprint(runIDs(runs)) != fmt.Sprint(want[n]) {
			t.Errorf("Runs(%q) = %v, want %v", n, runIDs(runs), want[n])
		}
		must(t, db.View(func(tx *Tx) (err error) { runs, err = tx.Runs(n, 2); return err }))
		if len(runs) != 2 || runs[0].ID != want[n][0] {
			t.Errorf("Runs(%q, 2) = %v", n, runIDs(runs))
		}
	}
}

func TestDeleteJobRemovesHistory(t *testing.T) {
	db := openTestDB(t)
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
	r1 := addRun(t, db, Run{Job: "sync", Trigger: TriggerSchedule, Status: RunRunning, Scheduled: time.Unix(60, 0)}, []byte("secret-ish output"))
	must(t, db.Update(func(tx *Tx) error { return tx.DeleteJob("sync") }))
	must(t, db.View(func(tx *Tx) error {
		if _, err := tx.Run(r1.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("run after its job was removed: %v", err)
		}
		if a, _ := tx.ActiveRuns(); len(a) != 0 {
			t.Errorf("active runs after removal: %v", runIDs(a))
		}
		if st, _ := tx.JobState("sync"); !st.LastScheduled.IsZero() {
			t.Errorf("state after removal: %+v", st)
		}
		return nil
	}))
	// The run's goroutine finishing late must not resurrect it.
	r1.Status = RunSucceeded
	if err := db.Update(func(tx *Tx) error { return tx.UpdateRun(r1, nil) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateRun of a removed run: %v, want ErrNotFound", err)
	}
	if err := db.Update(func(tx *Tx) error {
		_, err := tx.AddRun(Run{Job: "sync", Trigger: TriggerManual, Status: RunRunning}, nil)
		return err
	}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddRun for a removed job: %v, want ErrNotFound", err)
	}
	// A new job of the same name never reuses a run ID.
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
	if r2 := addRun(t, db, Run{Job: "sync", Trigger: TriggerManual, Status: RunSucceeded}, nil); r2.ID <= r1.ID {
		t.Errorf("run ID %d after removal is not beyond %d", r2.ID, r1.ID)
	}
}

func TestRunChecks(t *testing.T) {
	db := openTestDB(t)
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
	tests := []struct {
		name string
		r    Run
		out  []byte
	}{
		{"bad status", Run{Job: "sync", Trigger: TriggerManual, Status: "done"}, nil},
		{"bad trigger", Run{Job: "sync", Trigger: "cli", Status: RunSucceeded}, nil},
		{"huge output", Run{Job: "sync", Trigger: TriggerManual, Status: RunSucceeded}, make([]byte, MaxRunOutput+1)},
	}
	for _, tt := range tests {
		if err := db.Update(func(tx *Tx) error { _, err := tx.AddRun(tt.r, tt.out); return err }); err == nil {
			t.Errorf("%s: AddRun accepted it", tt.name)
		}
	}
	r := addRun(t, db, Run{Job: "sync", Trigger: TriggerManual, Status: RunRunning}, nil)
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("other")) }))
	r.Job = "other"
	if err := db.Update(func(tx *Tx) error { return tx.UpdateRun(r, nil) }); err == nil {
		t.Error("UpdateRun moved a run to another job")
	}
}

func TestRunStatusFinal(t *testing.T) {
	for s, want := range map[RunStatus]bool{
		RunQueued: false, RunRunning: false, RunSucceeded: true, RunFailed: true,
		RunTimedOut: true, RunSkipped: true, RunCancelled: true, "other": false,
	} {
		if s.Final() != want {
			t.Errorf("%s.Final() = %v, want %v", s, !want, want)
		}
	}
	r := Run{Started: time.Unix(10, 0), Finished: time.Unix(12, 500)}
	if r.Duration() != 2*time.Second+500 {
		t.Errorf("Duration = %v", r.Duration())
	}
	if (Run{Started: time.Unix(10, 0)}).Duration() != 0 {
		t.Error("an unfinished run has a duration")
	}
}

// UpdateRun keeps what the record it replaces says of the run's creation
// and moves the job's LastScheduled only forward, as AddRun does: to a due
// time the record did not have before.
func TestUpdateRunDueTimes(t *testing.T) {
	db := openTestDB(t)
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
	due := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r1 := addRun(t, db, Run{Job: "sync", Trigger: TriggerSchedule, Status: RunQueued, Scheduled: due(100), Created: created}, nil)
	r2 := addRun(t, db, Run{Job: "sync", Trigger: TriggerSchedule, Status: RunQueued, Scheduled: due(200)}, nil)
	for _, c := range []struct {
		name string
		r    Run
		want time.Time
	}{
		{"an older run starts", Run{ID: r1.ID, Job: "sync", Trigger: TriggerSchedule, Status: RunRunning, Scheduled: due(100)}, due(200)},
		{"the newer one ends", Run{ID: r2.ID, Job: "sync", Trigger: TriggerSchedule, Status: RunSucceeded, Scheduled: due(200)}, due(200)},
		{"a record given a later due time", Run{ID: r1.ID, Job: "sync", Trigger: TriggerSchedule, Status: RunSucceeded, Scheduled: due(300)}, due(300)},
		{"an earlier one", Run{ID: r2.ID, Job: "sync", Trigger: TriggerSchedule, Status: RunSucceeded, Scheduled: due(50)}, due(300)},
	} {
		must(t, db.Update(func(tx *Tx) error { return tx.UpdateRun(c.r, nil) }))
		var st JobState
		var got Run
		must(t, db.View(func(tx *Tx) (err error) {
			if st, err = tx.JobState("sync"); err != nil {
				return err
			}
			got, err = tx.Run(c.r.ID)
			return err
		}))
		if !st.LastScheduled.Equal(c.want) {
			t.Errorf("%s: LastScheduled = %v, want %v", c.name, st.LastScheduled, c.want)
		}
		if got.Status != c.r.Status || !got.Scheduled.Equal(c.r.Scheduled) || (got.ID == r1.ID && !got.Created.Equal(created)) || got.Created.IsZero() {
			t.Errorf("%s: run %+v, want %+v created when first recorded", c.name, got, c.r)
		}
	}
	if err := db.Update(func(tx *Tx) error {
		return tx.UpdateRun(Run{ID: r1.ID, Job: "other", Trigger: TriggerManual, Status: RunFailed}, nil)
	}); err == nil || !strings.Contains(err.Error(), `belongs to job "sync"`) {
		t.Errorf("UpdateRun under another job's name: %v, want refused", err)
	}
}

// BenchmarkAddRunFullHistory: recording a run of a job whose history is
// full (DefaultRunHistory finished runs), which also trims its oldest run;
// all in one transaction, so what is measured is AddRun's own work.
func BenchmarkAddRunFullHistory(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "scriptrun.db"), testKey(7), Options{LockTimeout: 2 * time.Second})
	mustTB(b, err)
	defer db.Close()
	mustTB(b, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
	r := Run{Job: "sync", Trigger: TriggerSchedule, Status: RunSucceeded, Scheduled: time.Unix(100, 0), Started: time.Unix(100, 0),
		Finished: time.Unix(101, 0), RunBy: "serve (pid 4242)", ScriptSHA256: strings.Repeat("ab", 32)}
	mustTB(b, db.Update(func(tx *Tx) error {
		for range DefaultRunHistory {
			if _, err := tx.AddRun(r, []byte("tick\n")); err != nil {
				return err
			}
		}
		return nil
	}))
	mustTB(b, db.Update(func(tx *Tx) error {
		for b.Loop() {
			if _, err := tx.AddRun(r, []byte("tick\n")); err != nil {
				return err
			}
		}
		return nil
	}))
}

// BenchmarkRunRecords: the records the scheduler writes for one run of a
// job with a full history, as its writer does: the run recorded (queued),
// its start and its end, all in one transaction.
func BenchmarkRunRecords(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "scriptrun.db"), testKey(7), Options{LockTimeout: 2 * time.Second})
	mustTB(b, err)
	defer db.Close()
	mustTB(b, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
	due := time.Unix(100, 0)
	r := Run{Job: "sync", Trigger: TriggerSchedule, Status: RunSucceeded, Scheduled: due, Started: due, Finished: due.Add(time.Second),
		RunBy: "serve (pid 4242)", ScriptSHA256: strings.Repeat("ab", 32)}
	mustTB(b, db.Update(func(tx *Tx) error {
		for range DefaultRunHistory {
			if _, err := tx.AddRun(r, []byte("tick\n")); err != nil {
				return err
			}
		}
		return nil
	}))
	b.ReportAllocs()
	mustTB(b, db.Update(func(tx *Tx) error {
		for b.Loop() {
			due = due.Add(10 * time.Second)
			q := Run{Job: "sync", Trigger: TriggerSchedule, Status: RunQueued, Scheduled: due, Reason: "waiting for a free slot (64 runs at a time)",
				RunBy: "serve (pid 4242)", ScriptSHA256: r.ScriptSHA256}
			q, err := tx.AddRun(q, nil)
			if err != nil {
				return err
			}
			q.Status, q.Reason, q.Started = RunRunning, "", due
			if err := tx.UpdateRun(q, nil); err != nil {
				return err
			}
			q.Status, q.Finished = RunSucceeded, due.Add(time.Second)
			if err := tx.UpdateRun(q, []byte("tick\n")); err != nil {
				return err
			}
		}
		return nil
	}))
}

// TestRunsAfter: RunsAfter returns what Runs returns of the runs above an
// id (oldest first, the newest limit of them) and never reads the older
// ones: a damaged record among them does not reach it, while Runs, which
// reads them, reports it. On both backends, with a run of the older layout
// among the new ones.
func TestRunsAfter(t *testing.T) {
	for _, c := range []struct {
		name string
		open func(t *testing.T) *DB
	}{
		{"bolt", openTestDB},
		{"etcd", func(t *testing.T) *DB { db, _ := openEtcdDB(t, etcdtest.New(t), etcdkv.Config{}); return db }},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := c.open(t)
			must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
			must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("other")) }))
			var ids []uint64
			for i := range 6 {
				job := "sync"
				if i == 2 {
					job = "other" // ids of other jobs interleave
				}
				r := addRun(t, db, Run{Job: job, Trigger: TriggerManual, Status: RunSucceeded}, nil)
				if job == "sync" {
					ids = append(ids, r.ID)
				}
			}
			legacy := Run{ID: ids[len(ids)-1] + 100, Job: "sync", Trigger: TriggerManual, Status: RunRunning}
			putLegacyRun(t, db, legacy, nil)
			ids = append(ids, legacy.ID)
			// The oldest run's record is damaged: only a read of it fails.
			allowDamaged(db)
			must(t, db.kv.update(func(tx kvTx) error {
				return tx.Put(key(spaceCronJobRuns, runIndexKey("sync", ids[0])), []byte("{damaged"))
			}))
			for _, q := range []struct {
				after uint64
				limit int
				want  []uint64
			}{
				{ids[0], 0, ids[1:]},
				{ids[1], 0, ids[2:]},
				{ids[1] + 1, 0, ids[2:]}, // an id of no run of this job
				{ids[1], 2, ids[4:]},     // the newest 2
				{ids[3], 10, ids[4:]},
				{legacy.ID, 0, nil},
				{math.MaxUint64, 0, nil},
			} {
				var got []Run
				must(t, db.View(func(tx *Tx) (err error) { got, err = tx.RunsAfter("sync", q.after, q.limit); return err }))
				if fmt.Sprint(runIDs(got)) != fmt.Sprint(q.want) {
					t.Errorf("RunsAfter(sync, %d, %d) = %v, want %v", q.after, q.limit, runIDs(got), q.want)
				}
				if len(got) > 0 && (got[len(got)-1].ID != legacy.ID || got[len(got)-1].Status != RunRunning) {
					t.Errorf("RunsAfter's newest run = %+v, want the older layout's running run %d", got[len(got)-1], legacy.ID)
				}
			}
			err := db.View(func(tx *Tx) error { _, err := tx.Runs("sync", 0); return err })
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("Runs over the damaged record = %v, want ErrDamaged (else this test proves nothing)", err)
			}
		})
	}
}
