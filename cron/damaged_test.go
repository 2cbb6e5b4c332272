package cron

import (
	"context"
	"testing"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// forge edits a record's JSON in the file with bbolt, as someone without the
// key can, leaving its MAC as it was.
func forge(t *testing.T, db *store.DB, bucket string, key []byte, edit func(map[string]any)) {
	t.Helper()
	storetest.ForgeJSON(t, db.Path(), bucket, key, edit)
}

// A forged job is not scheduled and does not stop the others; a forged run
// request is removed without running anything.
func TestDamagedJobsAndRequests(t *testing.T) {
	e := newEnv(t, at("10:00:30"), nil)
	e.put(t, job("bad", "@every 1m", "console.log('reviewed')"))
	e.put(t, job("good", "@every 1m", "console.log('good')"))
	forge(t, e.db, "cronjobs", []byte("bad"), func(r map[string]any) {
		src := "console.log('swapped')"
		r["script"], r["scriptSha256"] = src, store.ScriptDigest(src)
	})
	e.start(t)
	list, err := ListJobs(e.db, e.clock.Now())
	damaged, other := store.DamagedRecords(err)
	if other != nil || len(damaged) != 1 || damaged[0].Name != "bad" || len(list) != 1 || list[0].Job.Name != "good" {
		t.Fatalf("ListJobs = %d jobs, damaged %v, other error %v; want good listed and bad damaged", len(list), damaged, other)
	}
	if e.entry("bad") != nil {
		t.Error("the scheduler knows the forged job")
	}
	e.waiters(t, 2)
	e.advanceTo(at("10:01:30"))
	if r := e.next(t, final); r.Job != "good" || r.Status != store.RunSucceeded {
		t.Errorf("run = %+v, want good succeeded", r)
	}
	if runs := e.runs(t, "bad"); len(runs) != 0 {
		t.Errorf("the forged job ran: %+v", runs)
	}

	// A run request for good, forged to name another job, is dropped.
	var req store.RunRequest
	if err := e.other.Update(func(tx *store.Tx) (err error) { req, err = tx.RequestRun("good"); return err }); err != nil {
		t.Fatal(err)
	}
	forge(t, e.db, "cronrequests", u64key(req.ID), func(r map[string]any) { r["requested"] = "2001-01-01T00:00:00Z" })
	before := len(e.runs(t, "good"))
	if err := e.s.Sync(context.Background()); err != nil {
		t.Fatalf("Sync with a forged request: %v", err)
	}
	var reqs []store.RunRequest
	err = e.db.View(func(tx *store.Tx) (err error) { reqs, err = tx.RunRequests(); return err })
	if err != nil || len(reqs) != 0 {
		t.Errorf("run requests after the poll: %+v, %v; want the forged one removed", reqs, err)
	}
	if after := len(e.runs(t, "good")); after != before {
		t.Errorf("a forged run request started a run (%d runs, was %d)", after, before)
	}
}

func u64key(n uint64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(n)
		n >>= 8
	}
	return b
}
