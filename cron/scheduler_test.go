package cron

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scriptrun/scriptrun/store"
)

var t0 = utc("2026-03-06T10:00:30Z")

func at(hms string) time.Time { return utc("2026-03-06T" + hms + "Z") }

func TestRunsOnSchedule(t *testing.T) {
	e := newEnv(t, t0, nil)
	j := e.put(t, job("hello", "@every 1m", "console.log('hello', args.join('+')); console.error('to stderr')"))
	e.start(t)
	for i, due := range []time.Time{at("10:01:00"), at("10:02:00"), at("10:03:00")} {
		e.waiters(t, 2) // the job's timer and the poll ticker
		e.advanceTo(due)
		r := e.next(t, final)
		if r.Status != store.RunSucceeded || !r.Scheduled.Equal(due) || !r.Started.Equal(due) || r.Trigger != store.TriggerSchedule ||
			r.ScriptSHA256 != j.ScriptSHA256 || r.RunBy == "" || r.Job != "hello" {
			t.Fatalf("run %d = %+v, want succeeded, due and started at %s, with the script's digest", i+1, r, due)
		}
		if out := e.output(t, r.ID); out != "hello a+b\nto stderr\n" {
			t.Errorf("run %d output = %q", i+1, out)
		}
	}
	list, err := e.s.Jobs(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("Jobs = %v, %v", list, err)
	}
	if st := list[0]; !st.Next.Equal(at("10:04:00")) || st.Last == nil || st.Last.Status != store.RunSucceeded || st.LastFinished == nil {
		t.Errorf("Jobs()[0] = next %s, last %+v; want next 10:04 and the last run", st.Next, st.Last)
	}
	if got := len(e.runs(t, "hello")); got != 3 {
		t.Errorf("history has %d runs, want 3", got)
	}
}

// gocron fires at the times Schedule.Next gives, across a DST change.
func TestSchedulesAcrossDST(t *testing.T) {
	e := newEnv(t, utc("2026-03-28T12:00:00Z"), nil)
	j := job("nightly", "30 2 * * *", "console.log(1)")
	j.TimeZone = "Europe/Berlin"
	e.put(t, j)
	e.start(t)
	for _, due := range []string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"} {
		e.waiters(t, 2)
		e.advanceTo(utc(due))
		if r := e.next(t, final); !r.Scheduled.Equal(utc(due)) || r.Status != store.RunSucceeded {
			t.Fatalf("run = %+v, want one due at %s (02:30 Berlin, or the 03:00 jump)", r, due)
		}
	}
}

func TestOverlapPolicies(t *testing.T) {
	tests := []struct {
		overlap store.Overlap
		// want is the job's history after the test, oldest first.
		want []store.RunStatus
	}{
		{store.OverlapSkip, []store.RunStatus{store.RunSucceeded, store.RunSkipped, store.RunSkipped}},
		{store.OverlapQueue, []store.RunStatus{store.RunSucceeded, store.RunSucceeded, store.RunSkipped}},
		{store.OverlapReplace, []store.RunStatus{store.RunCancelled, store.RunCancelled, store.RunSucceeded}},
	}
	for _, tt := range tests {
		t.Run(string(tt.overlap), func(t *testing.T) {
			e := newEnv(t, t0, nil)
			j := job("slow", "@every 1m", gateScript)
			j.Overlap = tt.overlap
			e.put(t, j)
			e.start(t)
			e.waiters(t, 2)
			e.advanceTo(at("10:01:00"))
			first := e.gate.wait(t)
			a := e.next(t, status(store.RunRunning))

			e.waiters(t, 2)
			e.advanceTo(at("10:02:00"))
			var b store.Run
			switch tt.overlap {
			case store.OverlapSkip:
				b = e.next(t, status(store.RunSkipped))
				if !strings.Contains(b.Reason, fmt.Sprintf("run %d was still running", a.ID)) {
					t.Errorf("skipped run's reason = %q, want it to name run %d", b.Reason, a.ID)
				}
			case store.OverlapQueue:
				b = e.next(t, status(store.RunQueued))
			case store.OverlapReplace:
				b = e.next(t, status(store.RunQueued))
				if ra := e.next(t, final); ra.ID != a.ID || ra.Status != store.RunCancelled || ra.Reason != fmt.Sprintf("replaced by run %d", b.ID) {
					t.Fatalf("replaced run = %+v, want run %d cancelled, replaced by %d", ra, a.ID, b.ID)
				}
				if out := e.output(t, a.ID); !strings.Contains(out, "start") {
					t.Errorf("replaced run's output = %q, want what it printed before", out)
				}
				first = e.gate.wait(t) // b runs now
			}

			e.waiters(t, 2)
			e.advanceTo(at("10:03:00"))
			switch tt.overlap {
			case store.OverlapQueue:
				c := e.next(t, status(store.RunSkipped))
				if !strings.Contains(c.Reason, "already waiting") {
					t.Errorf("third run's reason = %q, want the queue to be full", c.Reason)
				}
			case store.OverlapReplace:
				e.next(t, status(store.RunQueued))
				e.next(t, func(r store.Run) bool { return r.ID == b.ID && r.Status == store.RunCancelled })
				first = e.gate.wait(t)
			default:
				e.next(t, status(store.RunSkipped))
			}
			first.release <- errors.New("released")
			e.next(t, status(store.RunSucceeded))
			if tt.overlap == store.OverlapQueue {
				e.gate.wait(t).release <- errors.New("released")
				if r := e.next(t, final); r.ID != b.ID || r.Status != store.RunSucceeded || r.Started.IsZero() {
					t.Errorf("queued run = %+v, want it to have run", r)
				}
			}
			runs := e.runs(t, "slow")
			var got []store.RunStatus
			for i := len(runs) - 1; i >= 0; i-- {
				got = append(got, runs[i].Status)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("history = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMissedRunsAreRecordedNotReplayed(t *testing.T) {
	e := newEnv(t, t0, nil)
	e.put(t, job("tick", "@every 1m", "console.log(1)"))
	// A job that was disabled while no scheduler ran misses nothing.
	off := job("off", "@every 1m", "console.log(1)")
	off.Enabled = false
	e.put(t, off)

	e.advanceTo(at("10:05:40"))
	off.Enabled = true
	e.put(t, off)
	e.advanceTo(at("10:10:30")) // no scheduler from 10:00:30 until now
	e.start(t)
	missed := map[string]store.Run{}
	for range 2 {
		r := e.next(t, status(store.RunSkipped))
		missed[r.Job] = r
	}
	if m := missed["tick"]; m.Missed != 10 || !m.Scheduled.Equal(at("10:10:00")) ||
		!strings.Contains(m.Reason, "missed 10 scheduled run(s) from 2026-03-06T10:01:00Z to 2026-03-06T10:10:00Z") {
		t.Fatalf("tick's missed record = %+v, want 10 runs from 10:01 to 10:10", m)
	}
	if m := missed["off"]; m.Missed != 5 || !strings.Contains(m.Reason, "from 2026-03-06T10:06:00Z") {
		t.Fatalf("off's missed record = %+v, want 5 (10:06 to 10:10: it was enabled at 10:05:40)", m)
	}
	e.waiters(t, 3)
	e.advanceTo(at("10:11:00"))
	for range 2 {
		if r := e.next(t, final); r.Status != store.RunSucceeded || !r.Scheduled.Equal(at("10:11:00")) {
			t.Fatalf("first run after start = %+v, want the one due at 10:11, not a replay", r)
		}
	}
	if runs := e.runs(t, "tick"); len(runs) != 2 {
		t.Errorf("tick has %d runs, want the missed record and one run", len(runs))
	}

	// Down again from 10:11 to 10:15:30: the count starts after the last
	// due time dealt with, not at the job's creation.
	if err := e.s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.advanceTo(at("10:15:30"))
	s2 := New(Options{DB: e.db, Clock: e.clock})
	s2.onEvent = func(r store.Run) { e.events <- r }
	if err := s2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s2.Stop(context.Background())
	if r := e.next(t, func(r store.Run) bool { return r.Job == "tick" }); r.Missed != 4 || !strings.Contains(r.Reason, "from 2026-03-06T10:12:00Z to 2026-03-06T10:15:00Z") {
		t.Errorf("second missed record = %+v, want 4 from 10:12 to 10:15", r)
	}
}

// When a due time comes too late (the machine slept) or several passed
// without firing, they are recorded as missed and at most the latest runs.
func TestLateOrStalledTriggers(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		nextDue   string
		now       string
		wantMiss  int
		wantRange string
		wantRun   string // due time of the run that happens, "" for none
		wantNext  string
	}{
		{"stalled: latest runs", "@every 1m", "10:01:00", "10:05:20", 4, "from 2026-03-06T10:01:00Z to 2026-03-06T10:04:00Z", "10:05:00", "10:06:00"},
		{"on time", "@every 1m", "10:01:00", "10:01:00", 0, "", "10:01:00", "10:02:00"},
		{"a little early", "@every 1m", "10:01:00", "10:00:59.5", 0, "", "10:01:00", "10:02:00"},
		{"too early: ignored", "@every 1m", "10:01:00", "10:00:40", 0, "", "", "10:01:00"},
		{"slept: too late to run", "0 0 1 1 *", "10:01:00", "10:30:00", 1, "due 2026-03-06T10:01:00Z", "", "2027-01-01T00:00:00Z"},
		{"slept through many", "@every 10m", "10:10:00", "12:05:00", 12, "from 2026-03-06T10:10:00Z to 2026-03-06T12:00:00Z", "", "12:10:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A scheduler that is not started has no gocron: fire is called
			// by hand with the clock where the test wants it.
			e := newEnv(t, t0, nil)
			j := e.put(t, job("j", tt.spec, "console.log(1)"))
			sched := mustSchedule(t, tt.spec, "")
			e.s.entries["j"] = &entry{name: "j", job: j, sched: sched, gid: uuid.New(), gen: 1, nextDue: at(tt.nextDue)}
			e.advanceTo(at(tt.now))
			e.s.fire("j", 1)
			if tt.wantMiss > 0 {
				r := e.next(t, status(store.RunSkipped))
				if r.Missed != tt.wantMiss || !strings.Contains(r.Reason, tt.wantRange) {
					t.Errorf("missed record = %d runs, %q; want %d, %q", r.Missed, r.Reason, tt.wantMiss, tt.wantRange)
				}
			}
			if tt.wantRun != "" {
				if r := e.next(t, final); r.Status != store.RunSucceeded || !r.Scheduled.Equal(at(tt.wantRun)) {
					t.Errorf("run = %+v, want one due at %s", r, tt.wantRun)
				}
			}
			want := tt.wantNext
			if !strings.Contains(want, "T") {
				want = "2026-03-06T" + want + "Z"
			}
			if got := e.entry("j").nextDue; !got.Equal(utc(want)) {
				t.Errorf("next due = %s, want %s", got, want)
			}
			if tt.wantRun == "" {
				if n, want := len(e.runs(t, "j")), min(tt.wantMiss, 1); n != want {
					t.Errorf("%d records, want %d", n, want)
				}
			}
			// A trigger of an earlier scheduling of the job does nothing.
			e.s.fire("j", 0)
			if got := e.entry("j").nextDue; !got.Equal(utc(want)) {
				t.Errorf("a stale trigger moved the next due time to %s", got)
			}
		})
	}
}

func TestHistoryIsBounded(t *testing.T) {
	e := newEnv(t, t0, nil)
	j := job("tick", "@every 1m", "console.log('x'.repeat(1000))")
	j.History = 3
	e.put(t, j)
	e.start(t)
	for i := 1; i <= 6; i++ {
		e.waiters(t, 2)
		e.advanceTo(at(fmt.Sprintf("10:%02d:00", i)))
		e.next(t, final)
	}
	runs := e.runs(t, "tick")
	if len(runs) != 3 || !runs[0].Scheduled.Equal(at("10:06:00")) || !runs[2].Scheduled.Equal(at("10:04:00")) {
		t.Errorf("history = %d runs (newest %v), want the 3 newest", len(runs), runs[0].Scheduled)
	}
}

// Jobs added, changed, disabled and removed through another DB (another
// process) reach a running scheduler at its next poll.
func TestChangesFromAnotherProcess(t *testing.T) {
	e := newEnv(t, t0, nil)
	polled := make(chan struct{}, 16)
	e.s.afterPoll = func() { polled <- struct{}{} }
	e.start(t)
	poll := func() {
		t.Helper()
		e.waiters(t, 1)
		e.clock.Advance(time.Second)
		select {
		case <-polled:
		case <-time.After(waitLimit):
			t.Fatal("the change was not picked up")
		}
	}
	e.put(t, job("late", "@every 1m", "console.log(1)"))
	poll()
	if en := e.entry("late"); en == nil || en.gid == uuid.Nil || !en.nextDue.Equal(at("10:01:00")) {
		t.Fatalf("after add: %+v, want it scheduled for 10:01", en)
	}
	e.waiters(t, 2)
	e.advanceTo(at("10:01:00"))
	e.next(t, final)

	if err := e.other.Update(func(tx *store.Tx) error { _, err := tx.SetJobEnabled("late", false); return err }); err != nil {
		t.Fatal(err)
	}
	poll()
	if en := e.entry("late"); en.gid != uuid.Nil || en.job.Enabled {
		t.Fatalf("after disable: %+v, want it unscheduled", en)
	}
	e.advanceTo(at("10:03:30"))
	if n := len(e.runs(t, "late")); n != 1 {
		t.Errorf("%d runs after disabling, want 1", n)
	}

	j := e.job(t, "late")
	j.Enabled, j.Schedule = true, "*/5 * * * *"
	e.put(t, j)
	poll()
	if en := e.entry("late"); en.gid == uuid.Nil || !en.nextDue.Equal(at("10:05:00")) {
		t.Fatalf("after enable with a new schedule: next %s, want 10:05", en.nextDue)
	}
	// Sync applies a change at once (the console edits in serve's process).
	if err := e.db.Update(func(tx *store.Tx) error { return tx.DeleteJob("late") }); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-polled
	if en := e.entry("late"); en != nil {
		t.Fatalf("after rm: the scheduler still has %+v", en)
	}
	e.advanceTo(at("10:06:00"))
	if n := len(e.runs(t, "late")); n != 0 {
		t.Errorf("%d runs after rm", n)
	}
}

func TestRemovingAJobCancelsItsRun(t *testing.T) {
	e := newEnv(t, t0, nil)
	polled := make(chan struct{}, 16)
	e.s.afterPoll = func() { polled <- struct{}{} }
	e.put(t, job("slow", "@every 1m", gateScript))
	e.start(t)
	e.waiters(t, 2)
	e.advanceTo(at("10:01:00"))
	e.gate.wait(t)
	if err := e.other.Update(func(tx *store.Tx) error { return tx.DeleteJob("slow") }); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	<-polled
	if r := e.next(t, final); r.Status != store.RunCancelled || r.Reason != errRemoved.Error() {
		t.Errorf("run of a removed job = %+v, want cancelled because it was removed", r)
	}
}

func TestShutdown(t *testing.T) {
	for _, finishInGrace := range []bool{false, true} {
		t.Run(fmt.Sprintf("finishes in grace %v", finishInGrace), func(t *testing.T) {
			graced := make(chan struct{})
			e := newEnv(t, t0, func(o *Options) { o.GracePeriod = 30 * time.Second })
			e.s.onGrace = func() { close(graced) }
			j := job("slow", "@every 1m", gateScript)
			j.Overlap = store.OverlapQueue
			e.put(t, j)
			e.start(t)
			e.waiters(t, 2)
			e.advanceTo(at("10:01:00"))
			a := e.gate.wait(t)
			e.waiters(t, 2)
			e.advanceTo(at("10:02:00"))
			queued := e.next(t, status(store.RunQueued))

			stopped := make(chan error, 1)
			go func() { stopped <- e.s.Stop(context.Background()) }()
			if r := e.next(t, final); r.ID != queued.ID || r.Status != store.RunCancelled || !strings.Contains(r.Reason, "stopped before it started") {
				t.Errorf("queued run at shutdown = %+v, want cancelled", r)
			}
			<-graced
			want := store.RunCancelled
			if finishInGrace {
				a.release <- errors.New("released")
				want = store.RunSucceeded
			} else {
				e.clock.Advance(30 * time.Second)
			}
			r := e.next(t, final)
			if r.Status != want || (want == store.RunCancelled && r.Reason != errShutdown.Error()) {
				t.Errorf("running run at shutdown = %+v, want %s", r, want)
			}
			if err := <-stopped; err != nil {
				t.Errorf("Stop: %v", err)
			}
			var active []store.Run
			if err := e.db.View(func(tx *store.Tx) (err error) { active, err = tx.ActiveRuns(); return err }); err != nil || len(active) != 0 {
				t.Errorf("runs still recorded as active after Stop: %v %v", active, err)
			}
			if runs := e.runs(t, "slow"); len(runs) != 2 || !strings.Contains(e.output(t, runs[1].ID), "start") {
				t.Errorf("history after shutdown: %+v, want both runs with the first one's output", runs)
			}
			if _, err := e.s.RunNow(context.Background(), "slow"); !errors.Is(err, ErrStopped) {
				t.Errorf("RunNow after Stop: %v, want ErrStopped", err)
			}
		})
	}
}

// A Scheduler that is not started runs jobs on demand: `scriptrun cron run`.
func TestRunNow(t *testing.T) {
	tests := []struct {
		name, script string
		timeout      time.Duration
		status       store.RunStatus
		errWant      []string
		outWant      string
	}{
		{"succeeds", "console.log('hi', args.length)", time.Minute, store.RunSucceeded, nil, "hi 2\n"},
		{"throws with a stack", "function f() {\n  throw new Error('boom');\n}\nf();", time.Minute, store.RunFailed,
			[]string{"Error: boom", "at f (job.js:2:9)"}, ""},
		{"syntax error", "let x = ;", time.Minute, store.RunFailed, []string{"job.js:1:9: SyntaxError"}, ""},
		{"times out", "console.log('looping'); while (true) {}", 200 * time.Millisecond, store.RunTimedOut,
			[]string{"timed out after 200ms", "job.js:1:"}, "looping\n"},
		{"output capped", "for (let i = 0; i < 100; i++) console.log('é'.repeat(20))", time.Minute, store.RunSucceeded, nil,
			"[output truncated: kept the first"},
		{"token problems reach the script", "http.get('https://example.com').apiTokenAuth('gate').send()", time.Minute, store.RunFailed,
			[]string{"no such token"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, t0, func(o *Options) {
				o.MaxOutputBytes = 100
				o.Signer = fakeSigner{SignFn: func(context.Context, string, *http.Request) error { return errors.New("no such token") }}
			})
			j := job("job", "@daily", tt.script)
			j.Timeout = tt.timeout
			e.put(t, j)
			r, err := e.s.RunNow(context.Background(), "job")
			if err != nil || r.ID == 0 || r.Trigger != store.TriggerManual {
				t.Fatalf("RunNow = %+v, %v", r, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			r, err = e.s.Wait(ctx, r.ID)
			if err != nil || r.Status != tt.status {
				t.Fatalf("Wait = %+v, %v; want status %s", r, err, tt.status)
			}
			for _, w := range tt.errWant {
				if !strings.Contains(r.Error, w) {
					t.Errorf("error %q does not contain %q", r.Error, w)
				}
			}
			out := e.output(t, r.ID)
			if !strings.Contains(out, tt.outWant) {
				t.Errorf("output %q does not contain %q", out, tt.outWant)
			}
			if tt.name == "output capped" && (!r.Truncated || r.OutputBytes != 4100 || len(out) > 200) {
				t.Errorf("capped run: truncated %v, %d bytes written, %d kept", r.Truncated, r.OutputBytes, len(out))
			}
		})
	}
}

func TestWithoutDB(t *testing.T) {
	s := New(Options{})
	ctx := context.Background()
	if err := s.Start(ctx); err == nil {
		t.Error("Start without a DB succeeded")
	}
	if _, err := s.RunNow(ctx, "x"); err == nil {
		t.Error("RunNow without a DB succeeded")
	}
	if _, err := s.Jobs(ctx); err == nil {
		t.Error("Jobs without a DB succeeded")
	}
	if _, err := s.Wait(ctx, 1); err == nil {
		t.Error("Wait without a DB succeeded")
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestRunNowRefusals(t *testing.T) {
	e := newEnv(t, t0, nil)
	if _, err := e.s.RunNow(context.Background(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RunNow of a missing job: %v, want ErrNotFound", err)
	}
	// The job runs in another process (its lock is held): skipped.
	e.put(t, job("busy", "@daily", "console.log(1)"))
	unlock, err := e.other.TryLockJob("busy")
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.s.RunNow(context.Background(), "busy")
	unlock()
	if err != nil || r.Status != store.RunSkipped || !strings.Contains(r.Reason, "another process") {
		t.Errorf("RunNow while another process runs the job = %+v, %v; want skipped", r, err)
	}
	// A disabled job can be run by hand.
	off := job("off", "@daily", "console.log(1)")
	off.Enabled = false
	e.put(t, off)
	if r, err := e.s.RunNow(context.Background(), "off"); err != nil || r.Status != store.RunRunning {
		t.Errorf("RunNow of a disabled job = %+v, %v", r, err)
	} else if r, _ = e.s.Wait(context.Background(), r.ID); r.Status != store.RunSucceeded {
		t.Errorf("disabled job's manual run = %+v", r)
	}
}

func TestStartClosesStaleRunsAndRefusesASecondScheduler(t *testing.T) {
	e := newEnv(t, t0, nil)
	e.put(t, job("dead", "@daily", "console.log(1)"))
	e.put(t, job("alive", "@daily", "console.log(1)"))
	var dead, alive store.Run
	if err := e.other.Update(func(tx *store.Tx) (err error) {
		if dead, err = tx.AddRun(store.Run{Job: "dead", Trigger: store.TriggerSchedule, Status: store.RunRunning, RunBy: "pid 1"}, nil); err != nil {
			return err
		}
		alive, err = tx.AddRun(store.Run{Job: "alive", Trigger: store.TriggerManual, Status: store.RunRunning, RunBy: "pid 2"}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	unlock, err := e.other.TryLockJob("alive") // still running in "another process"
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	e.start(t)
	var gotDead, gotAlive store.Run
	if err := e.db.View(func(tx *store.Tx) (err error) {
		if gotDead, err = tx.Run(dead.ID); err != nil {
			return err
		}
		gotAlive, err = tx.Run(alive.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if gotDead.Status != store.RunCancelled || !strings.Contains(gotDead.Reason, "pid 1") || gotDead.Finished.IsZero() {
		t.Errorf("stale run = %+v, want cancelled naming its process", gotDead)
	}
	if gotAlive.Status != store.RunRunning {
		t.Errorf("run of a live process = %+v, want it left running", gotAlive)
	}

	s2 := New(Options{DB: e.other, Clock: e.clock})
	if err := s2.Start(context.Background()); !errors.Is(err, ErrSchedulerRunning) {
		t.Errorf("second scheduler: %v, want ErrSchedulerRunning", err)
	}
	if !Running(e.other) {
		t.Error("Running = false while a scheduler runs")
	}
}

// RequestRun goes through a scheduler running in "another process"; with
// none, it withdraws its request.
func TestRequestRun(t *testing.T) {
	e := newEnv(t, t0, func(o *Options) { o.Clock = nil; o.PollInterval = 20 * time.Millisecond })
	e.put(t, job("hello", "@daily", "console.log('via serve')"))
	ctx := context.Background()
	if _, err := RequestRun(ctx, e.other, "hello", 150*time.Millisecond); !errors.Is(err, ErrNoScheduler) {
		t.Fatalf("RequestRun without a scheduler: %v, want ErrNoScheduler", err)
	}
	e.start(t)
	r, err := RequestRun(ctx, e.other, "hello", 5*time.Second)
	if err != nil || r.ID == 0 || r.Trigger != store.TriggerManual {
		t.Fatalf("RequestRun = %+v, %v", r, err)
	}
	r, err = FollowRun(ctx, e.other, r.ID, 10*time.Millisecond)
	if err != nil || r.Status != store.RunSucceeded || e.output(t, r.ID) != "via serve\n" {
		t.Errorf("followed run = %+v, %v", r, err)
	}
	if _, err := RequestRun(ctx, e.other, "nope", time.Second); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RequestRun of a missing job: %v", err)
	}
	var reqs []store.RunRequest
	e.db.View(func(tx *store.Tx) (err error) { reqs, err = tx.RunRequests(); return err })
	if len(reqs) != 0 {
		t.Errorf("requests left behind: %+v", reqs)
	}
}

// An unusable schedule in the store (written by another version, say) is
// reported, not run and not fatal.
func TestUnusableScheduleInStore(t *testing.T) {
	e := newEnv(t, t0, nil)
	e.put(t, job("bad", "61 * * * *", "console.log(1)"))
	e.put(t, job("good", "@every 1m", "console.log(1)"))
	e.start(t)
	list, err := ListJobs(e.db, e.clock.Now())
	if err != nil || len(list) != 2 {
		t.Fatal(list, err)
	}
	if list[0].ScheduleError == "" || !list[0].Next.IsZero() || list[1].Next.IsZero() {
		t.Errorf("ListJobs = %+v, want the bad one with an error and no next run", list)
	}
	e.waiters(t, 2)
	e.advanceTo(at("10:01:00"))
	if r := e.next(t, final); r.Job != "good" {
		t.Errorf("run = %+v", r)
	}
}
