package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
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
