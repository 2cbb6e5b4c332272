package notify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// checkStores are the stores the check's tests run on: a bbolt file and a
// single-member etcd.
var checkStores = []struct {
	name string
	open func(t *testing.T) *store.DB
}{
	{"bolt", func(t *testing.T) *store.DB { return storetest.Open(t) }},
	{"etcd", func(t *testing.T) *store.DB {
		url := "etcd://" + strings.Join(etcdtest.New(t).Endpoints(), ",") + "/" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "/"
		db, err := store.OpenURL(context.Background(), url, storetest.Key(), store.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
}

// addRuns records runs of job with the given statuses, finished at now,
// and returns them.
func addRuns(t *testing.T, db *store.DB, job string, now time.Time, statuses ...store.RunStatus) []store.Run {
	t.Helper()
	var out []store.Run
	err := db.Update(func(tx *store.Tx) error {
		out = out[:0] // the closure may run again (etcd)
		for _, st := range statuses {
			r := store.Run{Job: job, Trigger: store.TriggerManual, Status: st}
			if st.Final() {
				r.Finished = now
			}
			r, err := tx.AddRun(r, nil)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A check reads only the runs recorded since the previous one (and a run
// that was still going then, until it ends), not each job's history, and
// announces each event once: also for a run that was pending at one check
// and failed before the next, and for runs that arrive between checks.
func TestCheckReadsOnlyNewRuns(t *testing.T) {
	for _, st := range checkStores {
		t.Run(st.name, func(t *testing.T) {
			db := st.open(t)
			c := newClock()
			svc := newService(t, db, c, "a")
			err := db.Update(func(tx *store.Tx) error {
				if err := tx.CreateNotifier(store.Notifier{Name: "ops", URL: "https://hooks.example.com/x", Secret: store.NewWebhookSecret()}); err != nil {
					return err
				}
				for _, name := range []string{"a", "b", "c"} {
					if err := tx.CreateJob(store.Job{Name: name, Schedule: "0 3 * * *", ScriptName: name + ".js", Script: "console.log(1)", Timeout: time.Minute, Enabled: true}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, job := range []string{"a", "b", "c"} {
				addRuns(t, db, job, c.Now(), store.RunSucceeded, store.RunSucceeded, store.RunSucceeded, store.RunSucceeded, store.RunSucceeded)
			}
			check := func(step string, wantRead int64, wantCreated int) {
				t.Helper()
				before := svc.runsRead.Load()
				n, err := svc.Check()
				if err != nil {
					t.Fatalf("%s: check: %v", step, err)
				}
				if read := svc.runsRead.Load() - before; read != wantRead || n != wantCreated {
					t.Errorf("%s: the check read %d runs and created %d deliveries, want %d and %d", step, read, n, wantRead, wantCreated)
				}
			}
			check("first sight", 15, 0)
			check("nothing new", 0, 0)

			pending := addRuns(t, db, "a", c.Now(), store.RunRunning)[0]
			addRuns(t, db, "b", c.Now(), store.RunFailed)
			check("a running, b failed", 2, 1)
			check("a still running", 1, 0)

			// a's run fails, and a later one succeeds, between two checks.
			pending.Status, pending.Finished = store.RunFailed, c.Now()
			if err := db.Update(func(tx *store.Tx) error { return tx.UpdateRun(pending, nil) }); err != nil {
				t.Fatal(err)
			}
			addRuns(t, db, "a", c.Now(), store.RunSucceeded)
			addRuns(t, db, "c", c.Now(), store.RunSucceeded, store.RunSucceeded)
			check("a failed then recovered, c ran twice", 4, 2)
			check("nothing new again", 0, 0)

			var ds []store.Delivery
			if err := db.View(func(tx *store.Tx) (err error) { ds, err = tx.Deliveries(0, false); return err }); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range ds {
				got = append(got, d.Event)
			}
			if len(got) != 3 || strings.Count(fmt.Sprint(got), store.EventCronFailed) != 2 || !strings.Contains(fmt.Sprint(got), store.EventCronRecovered) {
				t.Errorf("deliveries %v, want cron.failed of a and b and cron.recovered of a, once each", got)
			}
		})
	}
}

// A check that changes more states than one etcd transaction may write
// records them in several, each event once.
func TestCheckManyChanges(t *testing.T) {
	const jobs = 150 // a state and a delivery each: several batches
	for _, st := range checkStores {
		t.Run(st.name, func(t *testing.T) {
			db := st.open(t)
			c := newClock()
			svc := newService(t, db, c, "a")
			if err := db.Update(func(tx *store.Tx) error {
				return tx.CreateNotifier(store.Notifier{Name: "ops", URL: "https://hooks.example.com/x", Secret: store.NewWebhookSecret()})
			}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < jobs; i += 10 {
				err := db.Update(func(tx *store.Tx) error {
					for k := i; k < i+10; k++ {
						name := fmt.Sprintf("j%03d", k)
						if err := tx.CreateJob(store.Job{Name: name, Schedule: "0 3 * * *", ScriptName: name + ".js", Script: "1", Timeout: time.Minute, Enabled: true}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if n, err := svc.Check(); n != 0 || err != nil {
				t.Fatalf("first check: %d deliveries, %v; want none", n, err)
			}
			for i := range jobs {
				addRuns(t, db, fmt.Sprintf("j%03d", i), c.Now(), store.RunFailed)
			}
			if n, err := svc.Check(); n != jobs || err != nil {
				t.Fatalf("check after a failed run of each job: %d deliveries, %v; want %d", n, err, jobs)
			}
			if n, err := svc.Check(); n != 0 || err != nil {
				t.Errorf("next check: %d deliveries, %v; want none", n, err)
			}
		})
	}
}

func TestBatches(t *testing.T) {
	ch := func(events int) change { return change{write: true, events: make([]Event, events)} }
	gone := map[string]store.WatchState{"job:x": {}, "job:y": {}}
	for _, c := range []struct {
		name      string
		changes   []change
		gone      map[string]store.WatchState
		notifiers int
		want      []int // changes and gone per batch, summed
	}{
		{"nothing", nil, nil, 1, nil},
		{"one batch", []change{ch(0), ch(1)}, gone, 2, []int{4}},
		{"states alone", make([]change, 250), nil, 1, []int{100, 100, 50}},
		{"events cost per notifier", []change{ch(1), ch(1), ch(1)}, nil, 20, []int{2, 1}},
		{"one change over the budget", []change{ch(0), ch(3), ch(0)}, nil, 20, []int{1, 1, 1}},
		{"no notifier counts as one", []change{ch(1), ch(1), ch(1), ch(1)}, nil, 0, []int{4}},
	} {
		var got []int
		for _, b := range batches(c.changes, c.gone, c.notifiers) {
			got = append(got, len(b.changes)+len(b.gone))
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: batches of %v, want %v", c.name, got, c.want)
		}
	}
}
