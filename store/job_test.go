package store

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// jobClock is a settable clock for record timestamps.
type jobClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *jobClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *jobClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openClockDB(t *testing.T) (*DB, *jobClock) {
	t.Helper()
	c := &jobClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	db, err := Open(filepath.Join(t.TempDir(), "scriptrun.db"), testKey(7), Options{LockTimeout: 2 * time.Second, Now: c.Now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("database check after test: %v", err)
		}
	})
	return db, c
}

func testJob(name string) Job {
	return Job{
		Name: name, Schedule: "*/5 * * * *", TimeZone: "Europe/Berlin", Script: "console.log('hi', args)",
		ScriptName: "sync.js", ScriptPath: "/srv/scripts/sync.js", Args: []string{"a", "b"},
		Timeout: time.Minute, Overlap: OverlapQueue, Enabled: true,
	}
}

func cronVersion(t *testing.T, db *DB) uint64 {
	t.Helper()
	var v uint64
	must(t, db.View(func(tx *Tx) error { v = tx.CronVersion(); return nil }))
	return v
}

// A database without any cron bucket reads as empty, without errors.
func TestCronReadsOnFreshDatabase(t *testing.T) {
	db := openTestDB(t)
	err := db.View(func(tx *Tx) error {
		if v := tx.CronVersion(); v != 0 {
			t.Errorf("CronVersion = %d, want 0", v)
		}
		if jobs, err := tx.Jobs(); err != nil || len(jobs) != 0 {
			t.Errorf("Jobs = %v, %v; want none", jobs, err)
		}
		if _, err := tx.Job("x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Job(x) error = %v, want ErrNotFound", err)
		}
		if runs, err := tx.Runs("x", 0); err != nil || len(runs) != 0 {
			t.Errorf("Runs = %v, %v", runs, err)
		}
		if _, err := tx.Run(1); !errors.Is(err, ErrNotFound) {
			t.Errorf("Run(1) error = %v, want ErrNotFound", err)
		}
		if runs, err := tx.ActiveRuns(); err != nil || len(runs) != 0 {
			t.Errorf("ActiveRuns = %v, %v", runs, err)
		}
		if reqs, err := tx.RunRequests(); err != nil || len(reqs) != 0 {
			t.Errorf("RunRequests = %v, %v", reqs, err)
		}
		if st, err := tx.JobState("x"); err != nil || !st.LastScheduled.IsZero() {
			t.Errorf("JobState = %v, %v", st, err)
		}
		return nil
	})
	must(t, err)
}

func TestJobLifecycle(t *testing.T) {
	db, clock := openClockDB(t)
	v0 := cronVersion(t, db)
	j := testJob("sync")
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(j) }))
	if v := cronVersion(t, db); v != v0+1 {
		t.Errorf("version after create = %d, want %d", v, v0+1)
	}
	var got Job
	must(t, db.View(func(tx *Tx) (err error) { got, err = tx.Job("sync"); return err }))
	created := clock.Now()
	if got.ScriptSHA256 != ScriptDigest(j.Script) || len(got.ScriptSHA256) != 64 {
		t.Errorf("ScriptSHA256 = %q, want the SHA-256 of the script", got.ScriptSHA256)
	}
	if !got.Created.Equal(created) || !got.Updated.Equal(created) || !got.Activated.Equal(created) {
		t.Errorf("timestamps created %v updated %v activated %v, want all %v", got.Created, got.Updated, got.Activated, created)
	}
	if got.Args[1] != "b" || got.Timeout != time.Minute || got.Overlap != OverlapQueue || got.TimeZone != "Europe/Berlin" || got.KeepRuns() != DefaultRunHistory {
		t.Errorf("job read back = %+v", got)
	}
	if err := db.Update(func(tx *Tx) error { return tx.CreateJob(j) }); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "cron update") {
		t.Errorf("second create: %v, want ErrExists saying how to change it", err)
	}

	tests := []struct {
		name         string
		change       func(*Job)
		reactivates  bool
		wantEnabled  bool
		wantSchedule string
	}{
		{"timeout change keeps activation", func(j *Job) { j.Timeout = 2 * time.Minute }, false, true, "*/5 * * * *"},
		{"disable keeps activation", func(j *Job) { j.Enabled = false }, false, false, "*/5 * * * *"},
		{"enable reactivates", func(j *Job) { j.Enabled = true }, true, true, "*/5 * * * *"},
		{"schedule change reactivates", func(j *Job) { j.Schedule = "@hourly" }, true, true, "@hourly"},
		{"zone change reactivates", func(j *Job) { j.TimeZone = "UTC" }, true, true, "@hourly"},
		{"script change keeps activation", func(j *Job) { j.Script = "console.log(2)" }, false, true, "@hourly"},
	}
	for _, tt := range tests {
		clock.Add(time.Minute)
		before := got
		v := cronVersion(t, db)
		must(t, db.Update(func(tx *Tx) error {
			cur, err := tx.Job("sync")
			if err != nil {
				return err
			}
			tt.change(&cur)
			return tx.PutJob(cur)
		}))
		must(t, db.View(func(tx *Tx) (err error) { got, err = tx.Job("sync"); return err }))
		if reactivated := !got.Activated.Equal(before.Activated); reactivated != tt.reactivates {
			t.Errorf("%s: activated moved = %v, want %v", tt.name, reactivated, tt.reactivates)
		}
		if got.Enabled != tt.wantEnabled || got.Schedule != tt.wantSchedule || !got.Created.Equal(created) || !got.Updated.Equal(clock.Now()) {
			t.Errorf("%s: job = %+v", tt.name, got)
		}
		if cronVersion(t, db) != v+1 {
			t.Errorf("%s: version did not move", tt.name)
		}
	}
	if got.ScriptSHA256 != ScriptDigest("console.log(2)") {
		t.Error("the digest did not follow the script")
	}

	must(t, db.Update(func(tx *Tx) error {
		_, err := tx.SetJobEnabled("sync", false)
		return err
	}))
	must(t, db.Update(func(tx *Tx) error { return tx.DeleteJob("sync") }))
	if err := db.View(func(tx *Tx) error { _, err := tx.Job("sync"); return err }); !errors.Is(err, ErrNotFound) {
		t.Errorf("job after delete: %v, want ErrNotFound", err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.DeleteJob("sync") }); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
}

func TestJobValidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Job)
		field  string
		want   string
	}{
		{"bad name", func(j *Job) { j.Name = "my job" }, "name", `job name: "my job" is not valid`},
		{"empty schedule", func(j *Job) { j.Schedule = "  " }, "schedule", "schedule: required"},
		{"long schedule", func(j *Job) { j.Schedule = strings.Repeat("*", 300) }, "schedule", "at most"},
		{"unknown zone", func(j *Job) { j.TimeZone = "Mars/Olympus" }, "timeZone", "Europe/Berlin"},
		{"local zone", func(j *Job) { j.TimeZone = "Local" }, "timeZone", "IANA"},
		{"empty script", func(j *Job) { j.Script = "\n" }, "script", "script: empty"},
		{"huge script", func(j *Job) { j.Script = strings.Repeat("x", MaxScriptBytes+1) }, "script", "at most 1 MiB"},
		{"binary script", func(j *Job) { j.Script = "\xff\xfe" }, "script", "UTF-8"},
		{"script name with folder", func(j *Job) { j.ScriptName = "../x.js" }, "scriptName", "file name"},
		{"no script name", func(j *Job) { j.ScriptName = "" }, "scriptName", "file name"},
		{"zero timeout", func(j *Job) { j.Timeout = 0 }, "timeout", "timeout: 0s is not valid"},
		{"long timeout", func(j *Job) { j.Timeout = 25 * time.Hour }, "timeout", "up to 24h"},
		{"bad overlap", func(j *Job) { j.Overlap = "never" }, "overlap", "skip (a run still going"},
		{"tiny memory cap", func(j *Job) { j.MaxMemory = 1 << 20 }, "maxMemory", "memory cap: 1 MiB is not valid"},
		{"negative memory cap", func(j *Job) { j.MaxMemory = -1 }, "maxMemory", "memory cap"},
		{"huge memory cap", func(j *Job) { j.MaxMemory = 2 << 40 }, "maxMemory", "memory cap: 2 TiB"},
		{"negative history", func(j *Job) { j.History = -1 }, "history", "history"},
		{"huge history", func(j *Job) { j.History = MaxRunHistory + 1 }, "history", "history"},
		{"too many args", func(j *Job) { j.Args = make([]string, MaxJobArgs+1) }, "args", "arguments"},
		{"long arg", func(j *Job) { j.Args = []string{strings.Repeat("a", MaxJobArgBytes+1)} }, "args", "argument 1"},
	}
	db := openTestDB(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := testJob("job")
			tt.change(&j)
			err := db.Update(func(tx *Tx) error { return tx.PutJob(j) })
			fes := AsFieldErrors(err)
			if len(fes) != 1 || fes[0].Field != tt.field || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("PutJob: %v (%+v), want one problem with %s saying %q", err, fes, tt.field, tt.want)
			}
		})
	}
	if v := cronVersion(t, db); v != 0 {
		t.Errorf("version after refused writes = %d, want 0", v)
	}
	// Defaults are filled in.
	j := testJob("defaults")
	j.TimeZone, j.Overlap = "", ""
	must(t, db.Update(func(tx *Tx) error { return tx.PutJob(j) }))
	must(t, db.View(func(tx *Tx) (err error) { j, err = tx.Job("defaults"); return err }))
	if j.TimeZone != "UTC" || j.Overlap != OverlapSkip {
		t.Errorf("defaults: zone %q overlap %q, want UTC and skip", j.TimeZone, j.Overlap)
	}
}

// Every problem of a job is reported at once, by field, and the checks
// handed in (schedule, script) run beside the store's own rules.
func TestJobCheckReportsEveryProblem(t *testing.T) {
	checks := JobChecks{
		Schedule: func(spec string, loc *time.Location) error {
			if spec == "never" {
				return errors.New(`"never" is not valid`)
			}
			return nil
		},
		Script: func(name, src string) error {
			if strings.Contains(src, "let = ;") {
				return errors.New(name + ":1:5: SyntaxError")
			}
			return nil
		},
	}
	tests := []struct {
		name   string
		change func(*Job)
		fields []string
	}{
		{"none", func(*Job) {}, nil},
		{"three", func(j *Job) { j.Schedule, j.TimeZone, j.Timeout = "never", "Mars/Base", 0 }, []string{"schedule", "timeZone", "timeout"}},
		{"script and more", func(j *Job) { j.Script, j.Overlap, j.History = "let = ;", "often", -1 }, []string{"script", "overlap", "history"}},
		{"unusable script not compiled", func(j *Job) { j.Script, j.ScriptName = "", "" }, []string{"script", "scriptName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := testJob("job")
			tt.change(&j)
			var got []string
			for _, fe := range AsFieldErrors(j.Check(checks)) {
				got = append(got, fe.Field)
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("fields with problems = %v, want %v", got, tt.fields)
			}
		})
	}
}

func TestParseJobFields(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) (any, error)
		in    string
		want  any
		field string // "" when valid
	}{
		{"timeout", func(s string) (any, error) { return ParseJobTimeout(s) }, "1h30m", 90 * time.Minute, ""},
		{"timeout word", func(s string) (any, error) { return ParseJobTimeout(s) }, "soon", time.Duration(0), "timeout"},
		{"timeout too long", func(s string) (any, error) { return ParseJobTimeout(s) }, "25h", time.Duration(0), "timeout"},
		{"memory", func(s string) (any, error) { return ParseJobMaxMemory(s) }, "512MiB", int64(512 << 20), ""},
		{"memory word", func(s string) (any, error) { return ParseJobMaxMemory(s) }, "lots", int64(0), "maxMemory"},
		{"memory tiny", func(s string) (any, error) { return ParseJobMaxMemory(s) }, "1MiB", int64(0), "maxMemory"},
		{"history", func(s string) (any, error) { return ParseJobHistory(s) }, "7", 7, ""},
		{"history zero", func(s string) (any, error) { return ParseJobHistory(s) }, "0", 0, "history"},
	}
	for _, tt := range tests {
		got, err := tt.parse(tt.in)
		fes := AsFieldErrors(err)
		if got != tt.want || (tt.field == "") != (err == nil) || (err != nil && (len(fes) != 1 || fes[0].Field != tt.field)) {
			t.Errorf("%s(%q) = %v, %v; want %v and a problem with %q", tt.name, tt.in, got, err, tt.want, tt.field)
		}
	}
}

func TestJoinJobFieldErrors(t *testing.T) {
	_, parseErr := ParseJobTimeout("soon")
	j := testJob("job")
	j.Timeout, j.Overlap = 0, "often"
	err := JoinJobFieldErrors(AsFieldErrors(parseErr), j.Validate())
	var got []string
	for _, fe := range AsFieldErrors(err) {
		got = append(got, fe.Field+": "+fe.Message)
	}
	if len(got) != 2 || !strings.Contains(got[0], `"soon"`) || !strings.HasPrefix(got[1], "overlap") {
		t.Errorf("joined = %q, want the parse error on timeout and the overlap, once each", got)
	}
	if err := JoinJobFieldErrors(nil, nil); err != nil {
		t.Errorf("nothing joined = %v", err)
	}
}

func TestRunRequests(t *testing.T) {
	db := openTestDB(t)
	if err := db.Update(func(tx *Tx) error { _, err := tx.RequestRun("nope"); return err }); !errors.Is(err, ErrNotFound) {
		t.Errorf("request for a missing job: %v, want ErrNotFound", err)
	}
	must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
	v := cronVersion(t, db)
	var req RunRequest
	must(t, db.Update(func(tx *Tx) (err error) { req, err = tx.RequestRun("sync"); return err }))
	if req.ID == 0 || req.Job != "sync" || req.Requested.IsZero() || cronVersion(t, db) != v+1 {
		t.Fatalf("request = %+v (version %d → %d), want an ID, the job, a time and a version bump", req, v, cronVersion(t, db))
	}
	must(t, db.Update(func(tx *Tx) error { return tx.ClaimRunRequest(req.ID, 42, "") }))
	if err := db.Update(func(tx *Tx) error { return tx.ClaimRunRequest(req.ID, 0, "no") }); err == nil {
		t.Error("a request was claimed twice")
	}
	must(t, db.View(func(tx *Tx) (err error) { req, err = tx.RunRequest(req.ID); return err }))
	if req.RunID != 42 || req.Claimed.IsZero() {
		t.Errorf("claimed request = %+v", req)
	}
	// Removing the job removes its requests.
	var other RunRequest
	must(t, db.Update(func(tx *Tx) (err error) { other, err = tx.RequestRun("sync"); return err }))
	must(t, db.Update(func(tx *Tx) error { return tx.DeleteJob("sync") }))
	must(t, db.View(func(tx *Tx) error {
		if reqs, _ := tx.RunRequests(); len(reqs) != 0 {
			t.Errorf("requests after the job was removed: %+v", reqs)
		}
		return nil
	}))
	if err := db.Update(func(tx *Tx) error { return tx.DeleteRunRequest(other.ID) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete of a removed request: %v", err)
	}
}

func TestSchedulerAndJobLocks(t *testing.T) {
	db := openTestDB(t)
	if db.SchedulerRunning() {
		t.Fatal("SchedulerRunning before anyone locked")
	}
	unlock, err := db.LockScheduler(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !db.SchedulerRunning() {
		t.Error("SchedulerRunning = false while the lock is held")
	}
	// Another process is simulated by another DB on the same file.
	other, err := Open(db.Path(), testKey(7), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.LockScheduler(50 * time.Millisecond); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "serve") {
		t.Errorf("second scheduler lock: %v, want ErrBusy naming serve", err)
	}
	unlock()
	if db.SchedulerRunning() {
		t.Error("SchedulerRunning after unlock")
	}

	u1, err := db.TryLockJob("sync")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.TryLockJob("sync"); !errors.Is(err, ErrBusy) {
		t.Errorf("job lock held elsewhere: %v, want ErrBusy", err)
	}
	if u2, err := other.TryLockJob("other"); err != nil {
		t.Errorf("another job's lock: %v", err)
	} else {
		u2()
	}
	u1()
	if u3, err := other.TryLockJob("sync"); err != nil {
		t.Errorf("job lock after release: %v", err)
	} else {
		u3()
	}
	if _, err := db.TryLockJob("../x"); err == nil {
		t.Error("a job lock with a path in its name was taken")
	}
}

func TestLoadZone(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "UTC", true},
		{"UTC", "UTC", true},
		{"Europe/Berlin", "Europe/Berlin", true},
		{"America/New_York", "America/New_York", true},
		{"Local", "", false},
		{"Berlin", "", false},
		{"../../etc/passwd", "", false},
		{"Europe/Berlin ", "", false},
	}
	for _, tt := range tests {
		loc, err := LoadZone(tt.in)
		if (err == nil) != tt.ok || (tt.ok && loc.String() != tt.want) {
			t.Errorf("LoadZone(%q) = %v, %v; want %q ok=%v", tt.in, loc, err, tt.want, tt.ok)
		}
	}
}

// JobNames lists every job by name from the keys alone: a damaged job,
// which Jobs leaves out, is listed.
func TestJobNames(t *testing.T) {
	db := openTestDB(t)
	allowDamaged(db) // one job forged on purpose
	must(t, db.Update(func(tx *Tx) error {
		for _, name := range []string{"b", "a", "c"} {
			if err := tx.CreateJob(testJob(name)); err != nil {
				return err
			}
		}
		return nil
	}))
	tamper(t, db.Path(), []byte(spaceCronJobs), []byte("b"), func(rec map[string]any) { rec["timeout"] = 1 })
	var names []string
	var jobs []Job
	var jobsErr error
	must(t, db.View(func(tx *Tx) (err error) {
		jobs, jobsErr = tx.Jobs()
		names, err = tx.JobNames()
		return err
	}))
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("JobNames = %v, want [a b c]", names)
	}
	if len(jobs) != 2 || !errors.Is(jobsErr, ErrDamaged) {
		t.Errorf("Jobs = %d jobs, %v; want 2 and the damaged one reported (else this test proves nothing)", len(jobs), jobsErr)
	}
}
