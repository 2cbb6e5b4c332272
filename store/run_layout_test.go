package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

// putLegacyRun writes a run as a scriptrun before the per-job layout did:
// record and output under the run id, an empty index entry, an active entry
// while unfinished.
func putLegacyRun(t *testing.T, db *DB, r Run, output []byte) {
	t.Helper()
	v, err := json.Marshal(r)
	must(t, err)
	id := string(u64(r.ID))
	must(t, db.kv.update(func(tx kvTx) error {
		for k, v := range map[string][]byte{
			key(spaceCronRuns, id):                          v,
			key(spaceCronOutput, id):                        output,
			key(spaceCronJobRuns, runIndexKey(r.Job, r.ID)): {},
		} {
			if err := tx.Put(k, v); err != nil {
				return err
			}
		}
		if !r.Status.Final() {
			return tx.Put(key(spaceCronActive, id), []byte(r.Job))
		}
		return nil
	}))
}

// TestRunLegacyLayout: runs recorded in the older layout (every bbolt file
// of an earlier scriptrun) are listed, read, updated where they are,
// trimmed and deleted with their job, next to runs of the current layout.
func TestRunLegacyLayout(t *testing.T) {
	db := openTestDB(t)
	j := testJob("sync")
	j.History = 3
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(j) }))
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	putLegacyRun(t, db, Run{ID: 1, Job: "sync", Trigger: TriggerManual, Status: RunSucceeded, Created: created}, []byte("old one"))
	putLegacyRun(t, db, Run{ID: 2, Job: "sync", Trigger: TriggerManual, Status: RunRunning, Created: created}, nil)
	// The bucket's sequence continues after the old ids.
	must(t, db.Update(func(tx *Tx) error { _, err := tx.kv.NextSequence(spaceCronRuns); return err }))
	must(t, db.Update(func(tx *Tx) error { _, err := tx.kv.NextSequence(spaceCronRuns); return err }))

	var out []byte
	must(t, db.View(func(tx *Tx) (err error) { out, err = tx.RunOutput(1); return err }))
	if string(out) != "old one" {
		t.Errorf("RunOutput(1) = %q, want the old output", out)
	}
	// The old running run ends: updated in place.
	must(t, db.Update(func(tx *Tx) error {
		return tx.UpdateRun(Run{ID: 2, Job: "sync", Trigger: TriggerManual, Status: RunFailed}, []byte("ended"))
	}))
	must(t, db.View(func(tx *Tx) error {
		r, err := tx.Run(2)
		if err != nil || r.Status != RunFailed || !r.Created.Equal(created) {
			t.Errorf("Run(2) after UpdateRun = %+v, %v; want failed, created kept", r, err)
		}
		active, err := tx.ActiveRuns()
		if err != nil || len(active) != 0 {
			t.Errorf("ActiveRuns = %v, %v; want none", runIDs(active), err)
		}
		return nil
	}))
	// New runs go to the current layout; trimming removes old ones first.
	n3 := addRun(t, db, Run{Job: "sync", Trigger: TriggerManual, Status: RunSucceeded}, []byte("new"))
	n4 := addRun(t, db, Run{Job: "sync", Trigger: TriggerManual, Status: RunSucceeded}, []byte("new"))
	must(t, db.View(func(tx *Tx) error {
		runs, err := tx.Runs("sync", 0)
		if got := runIDs(runs); err != nil || len(got) != 3 || got[0] != n4.ID || got[1] != n3.ID || got[2] != 2 {
			t.Errorf("Runs = %v, %v; want [%d %d 2] (run 1 trimmed)", got, err, n4.ID, n3.ID)
		}
		if _, err := tx.Run(1); !errors.Is(err, ErrNotFound) {
			t.Errorf("Run(1) after trimming = %v, want ErrNotFound", err)
		}
		return nil
	}))
	must(t, db.Update(func(tx *Tx) error { return tx.DeleteJob("sync") }))
	must(t, db.kv.view(func(tx kvTx) error {
		for _, space := range []string{spaceCronJobRuns, spaceCronOutput, spaceCronActive} {
			_ = tx.List(key(space, ""), func(k string, _ []byte) error {
				t.Errorf("%s/%q left after DeleteJob", space, k)
				return nil
			})
		}
		_ = tx.List(key(spaceCronRuns, ""), func(k string, v []byte) error {
			if len(v) == 0 || v[0] != runPointer {
				t.Errorf("cronruns/%x left after DeleteJob holds a record", k)
			}
			return nil
		})
		return nil
	}))
}

// TestContractConvertRunLayout: a history in the older layout (a store
// copied from an older bbolt file) is moved to the per-job layout, reads
// the same, and its job can then be deleted within etcd's operations.
func TestContractConvertRunLayout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, file *boltBackend) {
		db, err := open(kv, file, testKey(7), Options{})
		must(t, err)
		must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("old")) }))
		const n = DefaultRunHistory
		for i := range n {
			putLegacyRun(t, db, Run{ID: uint64(i + 1), Job: "old", Trigger: TriggerManual, Status: RunSucceeded, Created: time.Unix(int64(i), 0).UTC()}, fmt.Appendf(nil, "output %d", i+1))
		}
		moved, err := db.ConvertRunLayout()
		if err != nil || moved != n {
			t.Fatalf("ConvertRunLayout = %d, %v; want %d", moved, err, n)
		}
		if again, err := db.ConvertRunLayout(); err != nil || again != 0 {
			t.Errorf("a second ConvertRunLayout = %d, %v; want 0", again, err)
		}
		must(t, db.View(func(tx *Tx) error {
			runs, err := tx.Runs("old", 0)
			if err != nil || len(runs) != n || runs[0].ID != n {
				t.Errorf("Runs after converting: %d runs, %v", len(runs), err)
			}
			out, err := tx.RunOutput(7)
			if err != nil || string(out) != "output 7" {
				t.Errorf("RunOutput(7) = %q, %v", out, err)
			}
			return nil
		}))
		must(t, db.Update(func(tx *Tx) error { return tx.DeleteJob("old") }))
		must(t, db.View(func(tx *Tx) error {
			if _, err := tx.Run(7); !errors.Is(err, ErrNotFound) {
				t.Errorf("Run(7) after DeleteJob = %v, want ErrNotFound", err)
			}
			return nil
		}))
	})
}
