package cron

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/scriptrun/scriptrun/store"
)

// requestTTL is how long a claimed run request is kept for the process that
// made it to read; after that the scheduler removes it.
const requestTTL = 10 * time.Minute

// pollLoop watches the store's cron version and applies changes.
func (s *Scheduler) pollLoop(ctx context.Context) {
	defer s.loops.Done()
	t := s.clock.NewTicker(s.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
			if err := s.poll(ctx); err != nil {
				s.log.Warn("cron: reading job changes failed; will retry", "err", err)
			}
		}
	}
}

// Sync applies changes made to the store's jobs now, instead of at the next
// poll: the console calls it after an edit. It does nothing before Start.
func (s *Scheduler) Sync(ctx context.Context) error {
	s.mu.Lock()
	running := s.started && !s.stopped
	s.mu.Unlock()
	if !running {
		return nil
	}
	return s.poll(ctx)
}

// poll reads the version and, when it moved, the jobs and run requests.
// Polls run one at a time, so that a run request is served once.
func (s *Scheduler) poll(ctx context.Context) error {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	var (
		version uint64
		jobs    []store.Job
		reqs    []store.RunRequest

		damagedJobs, damagedReqs []*store.RecordError
	)
	s.mu.Lock()
	known := s.version
	s.mu.Unlock()
	err := s.db.View(func(tx *store.Tx) error {
		version = tx.CronVersion()
		if version == known {
			return nil
		}
		var err error
		jobs, err = tx.Jobs()
		if damagedJobs, err = store.DamagedRecords(err); err != nil {
			return err
		}
		reqs, err = tx.RunRequests()
		damagedReqs, err = store.DamagedRecords(err)
		return err
	})
	if err != nil || version == known {
		return err
	}
	s.dropDamaged(damagedJobs, damagedReqs)
	s.reconcile(jobs, version)
	s.serveRequests(ctx, reqs)
	if s.afterPoll != nil {
		s.afterPoll()
	}
	return nil
}

// dropDamaged reports damaged jobs (reconcile then unschedules them, as
// they are not among the jobs read) and removes damaged run requests: a
// request that fails authentication may be forged and is never served.
func (s *Scheduler) dropDamaged(jobs, reqs []*store.RecordError) {
	for _, d := range jobs {
		s.log.Error("cron job is damaged and will not run", "job", d.Name, "err", d)
	}
	for _, d := range reqs {
		s.log.Warn("cron: a damaged run request was removed unserved", "err", d)
		id, err := strconv.ParseUint(d.Name, 10, 64)
		if err != nil {
			continue
		}
		_ = s.writer.do(func(tx *store.Tx) error {
			if err := tx.DeleteRunRequest(id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		})
	}
}

// reconcile makes the scheduled jobs match the store's.
func (s *Scheduler) reconcile(jobs []store.Job, version uint64) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.version = version
	seen := make(map[string]bool, len(jobs))
	var shas = map[string]bool{}
	for _, j := range jobs {
		seen[j.Name] = true
		shas[j.ScriptSHA256] = true
		e := s.entries[j.Name]
		if e == nil {
			s.addEntry(j, now, nil)
			s.log.Info("cron job added", "job", j.Name, "schedule", j.Schedule, "enabled", j.Enabled)
			continue
		}
		e.mu.Lock()
		if j.Updated.Equal(e.job.Updated) && j.Created.Equal(e.job.Created) {
			e.mu.Unlock()
			continue
		}
		old := e.job
		e.job = j
		if j.Schedule != old.Schedule || j.TimeZone != old.TimeZone || j.Enabled != old.Enabled || !j.Created.Equal(old.Created) {
			s.unscheduleLocked(e)
			e.sched, e.schedErr = ParseSchedule(j.Schedule, j.TimeZone)
			if e.schedErr != nil {
				s.log.Error("cron job has an unusable schedule and will not run", "job", j.Name, "err", e.schedErr)
			}
			if !j.Enabled && e.queued != nil {
				a := e.queued
				e.queued = nil
				s.finishUnstarted(a, store.RunCancelled, "the job was disabled before the run started")
			}
			s.scheduleLocked(e, now)
		}
		e.mu.Unlock()
		s.log.Info("cron job changed", "job", j.Name, "schedule", j.Schedule, "enabled", j.Enabled)
	}
	for name, e := range s.entries {
		if seen[name] {
			continue
		}
		e.mu.Lock()
		e.gone = true
		s.unscheduleLocked(e)
		if a := e.queued; a != nil {
			e.queued = nil
			s.finishUnstarted(a, store.RunCancelled, errRemoved.Error())
		}
		if e.running != nil {
			e.running.cancel(errRemoved)
		}
		e.mu.Unlock()
		delete(s.entries, name)
		s.log.Info("cron job removed", "job", name)
	}
	// Forget compiled scripts no job uses any more.
	if x, ok := s.exec.(*inProcess); ok {
		x.keepOnly(shas)
	}
}

// serveRequests runs the jobs other processes asked for (`scriptrun cron
// run` while serve is up) and tells them which run it is.
func (s *Scheduler) serveRequests(ctx context.Context, reqs []store.RunRequest) {
	now := s.clock.Now()
	for _, req := range reqs {
		if req.Cancel != 0 && req.Claimed.IsZero() {
			s.serveCancel(req)
			continue
		}
		if !req.Claimed.IsZero() {
			if now.Sub(req.Claimed) > requestTTL {
				_ = s.writer.do(func(tx *store.Tx) error {
					if err := tx.DeleteRunRequest(req.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					return nil
				})
			}
			continue
		}
		if req.Taker != "" && req.Taker != s.nodeName() && now.Sub(req.Requested) > requestTTL {
			s.deleteRequest(req.ID) // its taker died before answering, and its asker gave up
			continue
		}
		if !s.takeRequest(req) {
			continue // another node serves it
		}
		run, err := s.RunNow(ctx, req.Job)
		msg := ""
		if err != nil {
			msg = err.Error()
			s.log.Warn("cron: a requested run could not start", "job", req.Job, "err", err)
		}
		err = s.writer.do(func(tx *store.Tx) error { return tx.ClaimRunRequest(req.ID, run.ID, msg) })
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("cron: could not answer a run request", "job", req.Job, "err", err)
		}
	}
}

// JobStatus is a job with what a list of jobs shows about it.
type JobStatus struct {
	Job store.Job
	// Next is when the job is next due; zero when it is disabled or its
	// schedule is unusable.
	Next time.Time
	// ScheduleError says why the schedule cannot be used, if it cannot.
	ScheduleError string
	// Last is the job's most recent run (any status), nil when it has none.
	Last *store.Run
	// LastFinished is the most recent run that ran and ended (succeeded,
	// failed, timed out or cancelled), nil when there is none among the
	// kept runs.
	LastFinished *store.Run
}

// ListJobs reads every job with its next due time and latest runs, as of
// now. It needs no running scheduler (the command line uses it).
// Damaged jobs are left out and reported in the error as Tx.Jobs does
// (store.DamagedRecords).
func ListJobs(db *store.DB, now time.Time) ([]JobStatus, error) {
	var out []JobStatus
	var damaged error
	err := db.View(func(tx *store.Tx) error {
		jobs, err := tx.Jobs()
		if _, other := store.DamagedRecords(err); other != nil {
			return other
		}
		damaged = err
		for _, j := range jobs {
			st := JobStatus{Job: j}
			sched, err := ParseSchedule(j.Schedule, j.TimeZone)
			if err != nil {
				st.ScheduleError = err.Error()
			} else if j.Enabled {
				st.Next = sched.Next(now)
			}
			runs, err := tx.Runs(j.Name, 20)
			if err != nil {
				return err
			}
			for i := range runs {
				r := runs[i]
				if st.Last == nil {
					st.Last = &r
				}
				if st.LastFinished == nil && r.Status.Final() && r.Status != store.RunSkipped {
					st.LastFinished = &r
				}
			}
			out = append(out, st)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, damaged
}

// Jobs lists every job with its next due time (as scheduled by this
// scheduler) and latest runs: what the console's cron page shows.
func (s *Scheduler) Jobs(ctx context.Context) ([]JobStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.db == nil {
		return nil, errNoDB
	}
	list, err := ListJobs(s.db, s.clock.Now())
	if _, other := store.DamagedRecords(err); other != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range list {
		if e := s.entries[list[i].Job.Name]; e != nil && s.started {
			e.mu.Lock()
			if e.gid != uuid.Nil && e.job.Updated.Equal(list[i].Job.Updated) {
				list[i].Next = e.nextDue
			}
			e.mu.Unlock()
		}
	}
	return list, err // the damaged jobs, if any
}

// Running reports whether a scheduler (`scriptrun serve`) is running on the
// home of db, in this process or another.
func Running(db *store.DB) bool { return db.SchedulerRunning() }

// RequestRun asks the scheduler running in another process to run the named
// job now and returns the run it started (running, queued or skipped). It
// fails with ErrNoScheduler if no scheduler claims the request within wait,
// having withdrawn the request, so that the caller may run the job itself.
func RequestRun(ctx context.Context, db *store.DB, name string, wait time.Duration) (store.Run, error) {
	var req store.RunRequest
	if err := db.Update(func(tx *store.Tx) (err error) { req, err = tx.RequestRun(name); return err }); err != nil {
		return store.Run{}, err
	}
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var r store.RunRequest
		err := db.View(func(tx *store.Tx) (err error) { r, err = tx.RunRequest(req.ID); return err })
		if err != nil || !r.Claimed.IsZero() {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	// Take the answer, or withdraw the request: in one transaction, so a
	// scheduler cannot claim it in between.
	err := db.Update(func(tx *store.Tx) (err error) {
		if req, err = tx.RunRequest(req.ID); err != nil {
			return err
		}
		return tx.DeleteRunRequest(req.ID)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Run{}, fmt.Errorf("the scheduler dropped the request to run job %q (was the job removed?)", name)
	case err != nil:
		return store.Run{}, err
	case req.Claimed.IsZero() && ctx.Err() != nil:
		return store.Run{}, ctx.Err()
	case req.Claimed.IsZero():
		return store.Run{}, ErrNoScheduler
	case req.Error != "":
		return store.Run{}, fmt.Errorf("the scheduler could not run job %q: %s", name, req.Error)
	}
	var r store.Run
	err = db.View(func(tx *store.Tx) (err error) { r, err = tx.Run(req.RunID); return err })
	return r, err
}

// ErrNoScheduler: no scheduler answered a run request.
var ErrNoScheduler = errors.New("cron: no scheduler answered")

// FollowRun waits until run id has ended, reading the store every interval,
// and returns its final record. It is how a process follows a run that
// another process (serve) runs.
func FollowRun(ctx context.Context, db *store.DB, id uint64, interval time.Duration) (store.Run, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		var r store.Run
		if err := db.View(func(tx *store.Tx) (err error) { r, err = tx.Run(id); return err }); err != nil {
			return store.Run{}, err
		}
		if r.Status.Final() {
			return r, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}
}
