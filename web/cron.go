package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/store"
)

// Scheduler is what the cron pages act through: the cron scheduler of the
// serve process, which also knows the way to the process that schedules the
// home's jobs when that is another one. cmd/scriptrun implements it around
// *cron.Scheduler.
type Scheduler interface {
	// Status says where the home's jobs are scheduled.
	Status() cron.Where
	// RunNow starts a run of the named job now, through its overlap policy,
	// where the jobs are scheduled, and returns its record (running, queued
	// or skipped) without waiting for the run to end.
	RunNow(ctx context.Context, name string) (store.Run, error)
	// CancelRun cancels run id if it is queued or running in this process;
	// it ends recorded as cancelled with reason. It reports whether it was.
	CancelRun(id uint64, reason string) bool
	// Sync applies changes to jobs now instead of at the next poll.
	Sync(ctx context.Context) error
}

func (s *Server) cronSection() section {
	return section{label: "Cron jobs", path: "/cron", routes: func(mux *http.ServeMux) {
		mux.HandleFunc("GET /cron", s.signedIn(s.cronList))
		mux.HandleFunc("GET /cron/-/new", s.signedIn(s.cronNew))
		mux.HandleFunc("POST /cron/-/new", s.signedInForm(maxJobForm, s.cronCreate))
		mux.HandleFunc("GET /cron/{name}", s.signedIn(s.cronShow))
		mux.HandleFunc("GET /cron/{name}/edit", s.signedIn(s.cronEdit))
		mux.HandleFunc("POST /cron/{name}/edit", s.signedInForm(maxJobForm, s.cronUpdate))
		mux.HandleFunc("GET /cron/{name}/delete", s.signedIn(s.cronDeleteConfirm))
		mux.HandleFunc("POST /cron/{name}/delete", s.signedIn(s.cronDelete))
		mux.HandleFunc("POST /cron/{name}/enable", s.signedIn(s.cronSetEnabled(true)))
		mux.HandleFunc("POST /cron/{name}/disable", s.signedIn(s.cronSetEnabled(false)))
		mux.HandleFunc("POST /cron/{name}/run", s.signedIn(s.cronRunNow))
		mux.HandleFunc("GET /cron/{name}/runs/{id}", s.signedIn(s.cronRunPage))
		mux.HandleFunc("GET /cron/{name}/runs/{id}/output", s.signedIn(s.cronRunOutput))
		mux.HandleFunc("POST /cron/{name}/runs/{id}/cancel", s.signedIn(s.cronRunCancel))
	}}
}

// schedulerStatus is where jobs run, as far as the console knows.
func (s *Server) schedulerStatus() cron.Where {
	if s.cron == nil {
		return cron.Nowhere
	}
	return s.cron.Status()
}

// notice is a callout the cron pages show about where jobs run.
type notice struct{ Kind, Text string }

// schedulerNotice says, when jobs do not run in this serve, where they do.
func (s *Server) schedulerNotice() *notice {
	switch s.schedulerStatus() {
	case cron.Here:
		return nil
	case cron.Elsewhere:
		return &notice{"warn", "Another scriptrun serve on this home runs the jobs (it holds the scheduler). " +
			"This console shows and changes them from the store; that serve applies changes within a second or two, " +
			"and Run now is handed to it. Runs it is running can be cancelled from its own console. " +
			"This serve takes the jobs over if that one stops."}
	}
	if s.cron == nil {
		return &notice{"error", "This console runs without a scheduler: jobs can be changed here, but nothing runs them."}
	}
	return &notice{"error", "No scheduler is running on this home, so jobs do not run on their schedules. " +
		"This serve takes the jobs over as soon as it can; its log says why it has not yet."}
}

// runView is what pages show of a run.
type runView struct {
	ID                              uint64
	Job, Status, Trigger            string
	Scheduled, Created              time.Time
	Started, Finished               time.Time
	Duration                        time.Duration
	Error, Reason, RunBy, ScriptSHA string
	Missed                          int
	OutputBytes                     int64
	Truncated                       bool
}

func viewRun(r store.Run) runView {
	return runView{
		ID: r.ID, Job: r.Job, Status: string(r.Status), Trigger: string(r.Trigger),
		Scheduled: r.Scheduled, Created: r.Created, Started: r.Started, Finished: r.Finished, Duration: r.Duration(),
		Error: r.Error, Reason: r.Reason, RunBy: r.RunBy, ScriptSHA: r.ScriptSHA256,
		Missed: r.Missed, OutputBytes: r.OutputBytes, Truncated: r.Truncated,
	}
}

// Active reports whether the run is queued or running.
func (v runView) Active() bool { return !store.RunStatus(v.Status).Final() }

// StatusLabel is the status in words.
func (v runView) StatusLabel() string {
	if v.Status == string(store.RunTimedOut) {
		return "timed out"
	}
	return v.Status
}

// Ran reports whether the script started (a skipped run never did).
func (v runView) Ran() bool { return !v.Started.IsZero() }

// DurationText is how long the script ran, as a person reads it; "" while
// it runs or when it never did.
func (v runView) DurationText() string {
	if v.Finished.IsZero() || v.Started.IsZero() {
		return ""
	}
	return durationText(v.Duration)
}

// Note is the first line of the error, else the reason, shortened.
func (v runView) Note() string {
	n := v.Error
	if n == "" {
		n = v.Reason
	}
	n, _, _ = strings.Cut(n, "\n")
	if r := []rune(n); len(r) > 140 {
		n = string(r[:139]) + "…"
	}
	return n
}

// durationText: "840 ms", "4.2 s", "3 min 12 s", "5 min", "1 h 4 min".
func durationText(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		if s := int(d.Seconds()) % 60; s != 0 {
			return fmt.Sprintf("%d min %d s", int(d.Minutes()), s)
		}
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	d = d.Round(time.Minute)
	if m := int(d.Minutes()) % 60; m != 0 {
		return fmt.Sprintf("%d h %d min", int(d.Hours()), m)
	}
	return fmt.Sprintf("%d h", int(d.Hours()))
}

// shortDuration is a duration as a form field shows it: "5m", not "5m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// jobView is what pages show of a job.
type jobView struct {
	Name, Schedule, TimeZone, Overlap string
	Timeout                           time.Duration
	MaxMemory                         int64
	History                           int
	Args                              []string
	ScriptName, ScriptPath, ScriptSHA string
	Enabled                           bool
	Next                              time.Time
	ScheduleError                     string
	Created, Updated                  time.Time
	Last                              *runView
}

func viewJob(j store.Job, now time.Time) jobView {
	v := jobView{
		Name: j.Name, Schedule: j.Schedule, TimeZone: j.TimeZone, Overlap: string(j.Overlap), Timeout: j.Timeout,
		MaxMemory: j.MemoryLimit(), History: j.KeepRuns(), Args: j.Args, ScriptName: j.ScriptName, ScriptPath: j.ScriptPath, ScriptSHA: j.ScriptSHA256,
		Enabled: j.Enabled, Created: j.Created, Updated: j.Updated,
	}
	sched, err := cron.ParseSchedule(j.Schedule, j.TimeZone)
	if err != nil {
		v.ScheduleError = err.Error()
	} else if j.Enabled {
		v.Next = sched.Next(now)
	}
	return v
}

// ShortSHA is the start of the script's SHA-256, enough to tell scripts apart.
func (v jobView) ShortSHA() string { return shortSHA(v.ScriptSHA) }

// MemoryText is the memory limit as a person reads it.
func (v jobView) MemoryText() string { return store.FormatBytes(v.MaxMemory) }

// TimeoutText is the timeout as a person reads it.
func (v jobView) TimeoutText() string { return durationText(v.Timeout) }

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// lastRun fills the job's latest run, whatever its status.
func lastRun(tx *store.Tx, v *jobView) error {
	runs, err := tx.Runs(v.Name, 1)
	if err != nil || len(runs) == 0 {
		return err
	}
	last := viewRun(runs[0])
	v.Last = &last
	return nil
}

type cronListData struct {
	Jobs    []jobView
	Notice  *notice
	CanRun  bool
	Damaged []damagedView
}

func (s *Server) cronList(w http.ResponseWriter, r *http.Request, sess *session) error {
	d := cronListData{Notice: s.schedulerNotice(), CanRun: s.canRun()}
	now := s.now()
	err := s.db.View(func(tx *store.Tx) error {
		jobs, err := tx.Jobs()
		if d.Damaged, err = splitDamaged(err); err != nil {
			return err
		}
		for _, j := range jobs {
			v := viewJob(j, now)
			if err := lastRun(tx, &v); err != nil {
				return err
			}
			d.Jobs = append(d.Jobs, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.render(w, r, sess, http.StatusOK, "cron_jobs", view{Title: "Cron jobs", Data: d})
	return nil
}

// canRun reports whether "Run now" can reach a scheduler.
func (s *Server) canRun() bool {
	st := s.schedulerStatus()
	return st == cron.Here || st == cron.Elsewhere
}

// historyPage is how many runs the job page shows unless asked for all.
const historyPage = 50

type cronJobData struct {
	Job        jobView
	NextRuns   []nextRun
	Source     string
	ScriptFile store.ScriptFileState // "changed" or "missing" when ScriptPath no longer holds the captured source
	Runs       []runView
	MoreRuns   bool
	AllRuns    bool
	Notice     *notice
	CanRun     bool
	Active     bool // a run is queued or running: the page refreshes itself
}

// nextRun is a due time in the job's zone and in UTC.
type nextRun struct {
	At    time.Time
	Local string
}

// nextRuns lists the next n due times of a schedule after now.
func nextRuns(sched *cron.Schedule, now time.Time, n int) []nextRun {
	var out []nextRun
	for t := now; len(out) < n; {
		if t = sched.Next(t); t.IsZero() {
			break
		}
		out = append(out, nextRun{At: t, Local: t.In(sched.Location()).Format("Mon 2006-01-02 15:04:05 MST")})
	}
	return out
}

func (s *Server) cronShow(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	d := cronJobData{Notice: s.schedulerNotice(), CanRun: s.canRun(), AllRuns: r.URL.Query().Get("runs") == "all"}
	var j store.Job
	now := s.now()
	err := s.db.View(func(tx *store.Tx) error {
		var err error
		if j, err = tx.Job(name); err != nil {
			return err
		}
		d.Job = viewJob(j, now)
		limit := historyPage + 1
		if d.AllRuns {
			limit = 0
		}
		runs, err := tx.Runs(name, limit)
		if err != nil {
			return err
		}
		if !d.AllRuns && len(runs) > historyPage {
			runs, d.MoreRuns = runs[:historyPage], true
		}
		for _, run := range runs {
			d.Runs = append(d.Runs, viewRun(run))
			d.Active = d.Active || !run.Status.Final()
		}
		return lastRun(tx, &d.Job)
	})
	if err != nil {
		return recordError("job", name, err)
	}
	d.Source = j.Script
	if sched, err := cron.ParseSchedule(j.Schedule, j.TimeZone); err == nil && j.Enabled {
		d.NextRuns = nextRuns(sched, now, 3)
	}
	d.ScriptFile = j.ScriptFile()
	if d.Active {
		// Follow the run without JavaScript: the browser reloads the page.
		w.Header().Set("Refresh", "3")
	}
	s.render(w, r, sess, http.StatusOK, "cron_job", view{Title: "Cron job " + name, Data: d})
	return nil
}

func (s *Server) cronSetEnabled(enable bool) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, sess *session) error {
		name := r.PathValue("name")
		var j store.Job
		if err := s.db.Update(func(tx *store.Tx) (err error) { j, err = tx.SetJobEnabled(name, enable); return err }); err != nil {
			return recordError("job", name, err)
		}
		s.sync(r.Context())
		if !enable {
			s.log.Info("cron job disabled", "job", name, "session", sess.logID(), "remote", clientAddr(r))
			s.sessions.addFlash(sess, "ok", "Job "+name+" disabled: it runs no more on its schedule (a run in progress finishes). Run now still works.")
			return seeOther(w, r, "/cron/"+name)
		}
		s.log.Info("cron job enabled", "job", name, "session", sess.logID(), "remote", clientAddr(r))
		msg := "Job " + name + " enabled."
		if v := viewJob(j, s.now()); !v.Next.IsZero() {
			msg += " Next run " + relative(v.Next, s.now()) + "."
		}
		s.sessions.addFlash(sess, "ok", msg)
		return seeOther(w, r, "/cron/"+name)
	}
}

// sync applies a change to jobs in this serve's scheduler at once. Another
// serve notices it within its poll interval; a failure here only delays it.
func (s *Server) sync(ctx context.Context) {
	if s.cron == nil {
		return
	}
	if err := s.cron.Sync(ctx); err != nil {
		s.log.Warn("cron: applying a change now failed; the scheduler applies it at its next poll", "err", err)
	}
}

func (s *Server) cronRunNow(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	if err := s.db.View(func(tx *store.Tx) error { _, err := tx.Job(name); return err }); err != nil {
		return recordError("job", name, err)
	}
	if !s.canRun() {
		s.sessions.addFlash(sess, "error", "Job "+name+" was not run: no scheduler is running on this home. Run it from a terminal with `"+s.command+" cron run "+name+"`.")
		return seeOther(w, r, "/cron/"+name)
	}
	run, err := s.cron.RunNow(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return recordError("job", name, err)
	}
	if err != nil {
		s.log.Warn("cron: run now from the console failed", "job", name, "err", err, "session", sess.logID(), "remote", clientAddr(r))
		s.sessions.addFlash(sess, "error", "Job "+name+" was not run: "+err.Error())
		return seeOther(w, r, "/cron/"+name)
	}
	s.log.Info("cron job run from the console", "job", name, "run", run.ID, "status", run.Status, "session", sess.logID(), "remote", clientAddr(r))
	run = s.awaitRun(r.Context(), run, runNowWait)
	switch run.Status {
	case store.RunSkipped:
		s.sessions.addFlash(sess, "warn", fmt.Sprintf("Run %d of %s was skipped: %s.", run.ID, name, strings.TrimSuffix(run.Reason, ".")))
	case store.RunQueued:
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("Run %d of %s is queued: %s.", run.ID, name, strings.TrimSuffix(run.Reason, ".")))
	case store.RunRunning:
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("Run %d of %s started.", run.ID, name))
	default:
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("Run %d of %s %s.", run.ID, name, viewRun(run).StatusLabel()))
	}
	return seeOther(w, r, fmt.Sprintf("/cron/%s/runs/%d", name, run.ID))
}

// runNowWait is how long Run now waits for the run to end, so that a quick
// script's page shows its outcome at once instead of reloading.
const runNowWait = time.Second

// awaitRun follows a run in the store until it has ended or wait is over,
// and returns its latest record.
func (s *Server) awaitRun(ctx context.Context, run store.Run, wait time.Duration) store.Run {
	if run.Status.Final() {
		return run
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return run
		case <-tick.C:
		}
		var cur store.Run
		if err := s.db.View(func(tx *store.Tx) (err error) { cur, err = tx.Run(run.ID); return err }); err != nil {
			return run
		}
		if run = cur; run.Status.Final() {
			return run
		}
	}
}

// cronDeleteData is what cron_delete.html shows.
type cronDeleteData struct {
	Name   string
	Runs   int
	Active bool
}

func (s *Server) cronDeleteConfirm(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	d := cronDeleteData{Name: name}
	err := s.db.View(func(tx *store.Tx) error {
		// A damaged job can be deleted: that is how it is re-created.
		if _, err := tx.Job(name); err != nil && damagedRecord(err) == nil {
			return err
		}
		runs, err := tx.Runs(name, 0)
		d.Runs = len(runs)
		for _, run := range runs {
			d.Active = d.Active || !run.Status.Final()
		}
		return err
	})
	if err != nil {
		return recordError("job", name, err)
	}
	s.render(w, r, sess, http.StatusOK, "cron_delete", view{Title: "Delete cron job " + name, Data: d})
	return nil
}

func (s *Server) cronDelete(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	if err := s.db.Update(func(tx *store.Tx) error { return tx.DeleteJob(name) }); err != nil {
		return recordError("job", name, err)
	}
	s.sync(r.Context())
	s.log.Info("cron job deleted", "job", name, "session", sess.logID(), "remote", clientAddr(r))
	s.sessions.addFlash(sess, "ok", "Job "+name+" deleted, with its run history.")
	return seeOther(w, r, "/cron")
}
