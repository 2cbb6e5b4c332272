package cron

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"github.com/scriptrun/scriptrun/bindings"
	"github.com/scriptrun/scriptrun/store"
)

// Defaults of Options.
const (
	DefaultPollInterval      = time.Second
	DefaultGracePeriod       = 10 * time.Second
	DefaultMaxOutputBytes    = 1 << 20
	DefaultMaxConcurrentRuns = 64
	DefaultLateLimit         = time.Minute
	DefaultKeepAliveIdle     = 24 * time.Hour
	DefaultKeepAliveInterval = 15 * time.Minute
)

// Errors callers branch on.
var (
	// ErrStopped: the scheduler is stopping or stopped and starts no runs.
	ErrStopped = errors.New("cron: the scheduler is stopping")
	// ErrSchedulerRunning: another process already schedules this home's jobs.
	ErrSchedulerRunning = errors.New("cron: another scheduler is running on this home")
)

var errNoDB = errors.New("cron: Options.DB is required")

// Causes of a run's cancellation, recorded as its reason.
var (
	errShutdown = errors.New("stopped by shutdown after the grace period")
	errRemoved  = errors.New("the job was removed")
)

// Refresher forces a token refresh; tokens.Manager implements it. The
// keep-alive uses it for tokens that have been idle for long.
type Refresher interface {
	Refresh(ctx context.Context, name string) (store.Token, error)
}

// Options configure a Scheduler. DB is required; zero values mean the
// defaults.
type Options struct {
	DB *store.DB
	// Signer signs requests of scripts that call apiTokenAuth (the token
	// manager); nil makes apiTokenAuth fail with TOKEN_NOT_FOUND.
	Signer bindings.Signer
	// Refresher refreshes idle tokens (the token manager); nil turns the
	// keep-alive off.
	Refresher Refresher
	// Logger receives scheduling and run events (default: discard).
	Logger *slog.Logger
	// Clock drives scheduling, polling and the keep-alive (default: the real
	// clock). Runs' timeouts always use real time.
	Clock clockwork.Clock
	// HTTPClient sends scripts' requests (default http.DefaultClient).
	HTTPClient *http.Client
	// Executor runs the scripts (default: in this process, with Signer and
	// HTTPClient, each in a fresh runtime). `scriptrun serve` runs each in
	// a child process instead, which also enforces the job's memory cap.
	Executor Executor
	// Metrics collects counters (default: a new Metrics, see Scheduler.Metrics).
	Metrics *Metrics
	// PollInterval is how often the store is checked for changes made by
	// other processes (default 1 s).
	PollInterval time.Duration
	// GracePeriod is how long Stop lets running runs finish before it
	// cancels them (default 10 s; a deadline on Stop's context shortens it).
	GracePeriod time.Duration
	// MaxOutputBytes caps the output kept per run (default 1 MiB).
	MaxOutputBytes int
	// MaxConcurrentRuns caps scripts running at once; runs beyond it wait
	// as queued (default 64). Each running script holds a JavaScript runtime;
	// a higher limit costs memory while many run, and saves latency when many
	// jobs are due at the same moment.
	MaxConcurrentRuns int
	// LateLimit: a scheduled run that comes due more than this late (the
	// machine slept, or the process stalled) is recorded as missed instead
	// of run (default 1 min).
	LateLimit time.Duration
	// KeepAliveIdle: tokens unused and unrefreshed for this long are
	// refreshed (default 24 h). KeepAliveInterval is how often they are
	// looked for (default 15 min).
	KeepAliveIdle     time.Duration
	KeepAliveInterval time.Duration
	// RunBy names this process in run records (default "pid N").
	RunBy string
	// OnRunFinished, when set, is told each run's final record once it is
	// stored (notifications compare it with the job's earlier runs).
	OnRunFinished func(store.Run)
	// Node is this process's registration on a clustered (etcd) store
	// (store.DB.RegisterNode); with it the scheduler is one node among
	// several: it takes no scheduler lock, claims each scheduled run
	// before running it, records its runs with the node, records runs of
	// nodes that went away as lost, and hears of changes by watch (see
	// cluster.go). Nil on a single machine.
	Node *store.Node
	// FlushInterval is how often a node saves a running run's output, so
	// that a run whose node dies keeps what it wrote (default 2 s; only
	// with Node).
	FlushInterval time.Duration
}

// Scheduler runs the store's cron jobs on their schedules, in the process
// that calls Start (`scriptrun serve`); it notices jobs added, changed or
// removed by other processes within PollInterval. A Scheduler that is not
// started runs jobs only on demand (RunNow), which is what
// `scriptrun cron run` does when no serve is up. Methods are safe for
// concurrent use.
type Scheduler struct {
	o Options
	// sweeps counts the lost-run sweeps done (cluster.go), so that a test
	// can wait for the next one instead of sleeping.
	sweeps  atomic.Int64
	db      *store.DB
	log     *slog.Logger
	clock   clockwork.Clock
	metrics *Metrics
	writer  *writer
	sem     chan struct{} // run slots

	runCtx    context.Context // parent of every run; cancelled at the end of the grace period
	runCancel context.CancelCauseFunc
	runs      sync.WaitGroup // run goroutines
	stopping  atomic.Bool
	active    atomic.Int64

	mu       sync.Mutex // guards the fields below; taken before an entry's mu, never after
	entries  map[string]*entry
	started  bool
	stopped  bool
	version  uint64
	gs       gocron.Scheduler
	unlock   func() // the scheduler lock
	loops    sync.WaitGroup
	stopLoop context.CancelFunc

	pollMu sync.Mutex // one poll at a time

	exec Executor

	// Test hooks: onEvent is told about each record written, onGrace that
	// Stop started the grace period, afterPoll that a change was applied.
	onEvent   func(store.Run)
	onGrace   func()
	afterPoll func()
}

// entry is one job as the scheduler knows it.
type entry struct {
	mu       sync.Mutex // serialises decisions about this job and their records
	name     string
	job      store.Job
	sched    *Schedule
	schedErr error
	gid      uuid.UUID // gocron's job, uuid.Nil when not scheduled
	gen      uint64    // counts schedulings; a trigger of an older one is stale
	nextDue  time.Time // the due time gocron fires next
	running  *activeRun
	queued   *activeRun
	gone     bool // removed from the store
}

// activeRun is a run that is queued or running. Once its goroutine runs,
// run belongs to that goroutine; others read only id.
type activeRun struct {
	id        uint64
	run       store.Run
	job       store.Job // as it was when the run was triggered
	ctx       context.Context
	cancel    context.CancelCauseFunc
	done      chan struct{} // closed once the final record is written
	slot      bool          // holds a run slot
	unlockJob func()        // the job's cross-process run lock, once taken
	// waiting: the run waits for the job's run on another node (cluster.go);
	// it counts as the one queued run.
	waiting bool
	// startWritten is closed once the record of a queued run's start is
	// written (recordStart); nil when none is being written.
	startWritten chan struct{}
}

// New returns a Scheduler over o.DB; it schedules nothing until Start.
func New(o Options) *Scheduler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.MaxConcurrentRuns <= 0 {
		o.MaxConcurrentRuns = DefaultMaxConcurrentRuns
	}
	if o.LateLimit <= 0 {
		o.LateLimit = DefaultLateLimit
	}
	if o.KeepAliveIdle <= 0 {
		o.KeepAliveIdle = DefaultKeepAliveIdle
	}
	if o.KeepAliveInterval <= 0 {
		o.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.RunBy == "" {
		o.RunBy = fmt.Sprintf("pid %d", os.Getpid())
	}
	s := &Scheduler{
		o: o, db: o.DB, log: o.Logger, clock: o.Clock, metrics: o.Metrics,
		writer:  newWriter(o.DB),
		sem:     make(chan struct{}, o.MaxConcurrentRuns),
		entries: map[string]*entry{},
		exec:    o.Executor,
	}
	if s.exec == nil {
		s.exec = newInProcess(o.Signer, o.HTTPClient)
	}
	s.runCtx, s.runCancel = context.WithCancelCause(context.Background())
	o.Metrics.setGauges(s.gauges)
	return s
}

// Metrics returns the scheduler's metrics.
func (s *Scheduler) Metrics() *Metrics { return s.metrics }

func (s *Scheduler) gauges() (jobs, enabled, active int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		jobs++
		if e.job.Enabled {
			enabled++
		}
	}
	return jobs, enabled, int(s.active.Load())
}

// Start takes the home's scheduler lock (failing with ErrSchedulerRunning if
// another process holds it), closes the records of runs whose process died,
// records runs missed while no scheduler was running (without running them),
// schedules every enabled job from its next due time on, and starts watching
// the store for changes and keeping idle tokens alive. The scheduler runs
// until Stop, whatever becomes of ctx (which Start only checks first).
func (s *Scheduler) Start(ctx context.Context) error {
	if s.db == nil {
		return errNoDB
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return errors.New("cron: a Scheduler can be started once")
	}
	unlock, err := s.lockScheduler()
	if err != nil {
		return err
	}
	fail := func(err error) error {
		unlock()
		return err
	}
	if !s.clustered() {
		// Among nodes, runs of a node that died are found by sweepLost.
		if err := s.closeStaleRuns(); err != nil {
			return fail(err)
		}
	} else {
		s.convertRunLayout()
	}
	gs, err := gocron.NewScheduler(
		gocron.WithClock(s.clock),
		// Schedules carry their own zones and return UTC; a UTC scheduler
		// keeps gocron's own DST adjustments from applying a second time.
		gocron.WithLocation(time.UTC),
		gocron.WithLogger(s.log.With("component", "gocron")),
		gocron.WithStopTimeout(5*time.Second),
	)
	if err != nil {
		return fail(fmt.Errorf("cron: create scheduler: %w", err))
	}
	var jobs []store.Job
	states := map[string]store.JobState{}
	err = s.db.View(func(tx *store.Tx) error {
		s.version = tx.CronVersion()
		var err error
		jobs, err = tx.Jobs()
		damaged, err := store.DamagedRecords(err)
		if err != nil {
			return err
		}
		for _, d := range damaged {
			s.log.Error("cron job is damaged and will not run", "job", d.Name, "err", d)
		}
		for _, j := range jobs {
			if states[j.Name], err = tx.JobState(j.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = gs.Shutdown()
		return fail(fmt.Errorf("cron: load jobs: %w", err))
	}
	s.gs, s.unlock, s.started = gs, unlock, true
	now := s.clock.Now()
	// Among nodes, a job was missed only if no other node was up.
	missed := !s.clustered() || !s.othersAlive()
	for _, j := range jobs {
		st := states[j.Name]
		if missed {
			s.addEntry(j, now, &st)
		} else {
			s.addEntry(j, now, nil)
		}
	}
	gs.Start()
	loopCtx, cancel := context.WithCancel(context.Background())
	s.stopLoop = cancel
	s.loops.Add(1)
	go s.pollLoop(loopCtx)
	s.startClusterLoops(loopCtx)
	if s.o.Refresher != nil {
		s.loops.Add(1)
		go s.keepAliveLoop(loopCtx)
	}
	s.log.Info("cron scheduler started", "jobs", len(jobs))
	return nil
}

// lockScheduler takes the home's scheduler lock; among nodes there is none
// to take (every node schedules).
func (s *Scheduler) lockScheduler() (unlock func(), err error) {
	if s.clustered() {
		return func() {}, nil
	}
	unlock, err = s.db.LockScheduler(2 * time.Second)
	if errors.Is(err, store.ErrBusy) {
		return nil, fmt.Errorf("%w: %v", ErrSchedulerRunning, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cron: %w", err)
	}
	return unlock, nil
}

// closeStaleRuns records as cancelled the runs left queued or running by a
// process that died: their job's run lock is free.
func (s *Scheduler) closeStaleRuns() error {
	var runs []store.Run
	if err := s.db.View(func(tx *store.Tx) (err error) { runs, err = tx.ActiveRuns(); return err }); err != nil {
		return fmt.Errorf("cron: read unfinished runs: %w", err)
	}
	for _, r := range runs {
		unlock, err := s.db.TryLockJob(r.Job)
		if err != nil {
			continue // still running in a live process, or unknowable
		}
		r.Status = store.RunCancelled
		r.Reason = "the process running it (" + r.RunBy + ") ended before the run finished"
		r.Finished = s.clock.Now().UTC()
		err = s.db.Update(func(tx *store.Tx) error { return tx.UpdateRun(r, nil) })
		unlock()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("cron: close unfinished run %d: %w", r.ID, err)
		}
		s.log.Warn("cron run was left unfinished by a process that ended", "job", r.Job, "run", r.ID)
	}
	return nil
}

// addEntry adds a job the scheduler did not know. With st (at Start), runs
// due since the job's last known due time are recorded as missed. s.mu is
// held.
func (s *Scheduler) addEntry(j store.Job, now time.Time, st *store.JobState) *entry {
	e := &entry{name: j.Name, job: j}
	e.sched, e.schedErr = ParseSchedule(j.Schedule, j.TimeZone)
	if e.schedErr != nil {
		s.log.Error("cron job has an unusable schedule and will not run", "job", j.Name, "err", e.schedErr)
	}
	s.entries[j.Name] = e
	e.mu.Lock()
	defer e.mu.Unlock()
	if st != nil && j.Enabled && e.sched != nil {
		ref := j.Activated
		if st.LastScheduled.After(ref) {
			ref = st.LastScheduled
		}
		if times, n := e.sched.Due(ref, now, 2); n > 0 && s.claim(e, times[len(times)-1]) {
			s.recordMissed(e, times[0], times[len(times)-1], n, "no scheduler was running")
		}
	}
	s.scheduleLocked(e, now)
	return e
}

// scheduleLocked hands an enabled job with a valid schedule to gocron,
// first due after now. e.mu is held.
func (s *Scheduler) scheduleLocked(e *entry, now time.Time) {
	if e.gid != uuid.Nil || !e.job.Enabled || e.sched == nil || s.gs == nil {
		return
	}
	e.gen++
	name, gen := e.name, e.gen
	for range 3 {
		first := e.sched.Next(now)
		if first.IsZero() {
			return
		}
		j, err := s.gs.NewJob(
			gocron.CronJob(e.job.Schedule, true),
			gocron.NewTask(func() { s.fire(name, gen) }),
			gocron.WithCronImplementation(gocronSchedule{e.sched}),
			gocron.WithName(name),
			gocron.WithStartAt(gocron.WithStartDateTime(first)),
		)
		if errors.Is(err, gocron.ErrWithStartDateTimePast) {
			now = s.clock.Now() // the first due time passed while adding: take the next
			continue
		}
		if err != nil {
			s.log.Error("cron job could not be scheduled", "job", name, "err", err)
			return
		}
		e.gid, e.nextDue = j.ID(), first
		return
	}
}

// unscheduleLocked takes a job out of gocron. e.mu is held.
func (s *Scheduler) unscheduleLocked(e *entry) {
	if e.gid == uuid.Nil {
		return
	}
	if err := s.gs.RemoveJob(e.gid); err != nil && !errors.Is(err, gocron.ErrJobNotFound) {
		s.log.Warn("cron job could not be unscheduled", "job", e.name, "err", err)
	}
	e.gid, e.nextDue = uuid.Nil, time.Time{}
}

// stopLimit bounds Stop's wait for cancelled runs to end.
const stopLimit = 10 * time.Second

// earlyLimit: a trigger this much before the due time is not the one
// expected (a clock stepped back); it is ignored.
const earlyLimit = time.Second

// fire is gocron's task: the job's gen-th scheduling is due.
func (s *Scheduler) fire(name string, gen uint64) {
	if s.stopping.Load() {
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	e := s.entries[name]
	s.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone || !e.job.Enabled || e.sched == nil || e.gid == uuid.Nil || e.nextDue.IsZero() || e.gen != gen {
		return // removed, disabled, or rescheduled since this timer was set
	}
	if early := e.nextDue.Sub(now); early > earlyLimit {
		s.log.Warn("cron: ignoring a trigger that came before its due time", "job", name, "due", e.nextDue, "early", early)
		return
	}
	// The due time is the latest one not after now. Due times before it
	// passed without firing (the process stalled or the machine slept):
	// they are recorded as missed, not replayed.
	const why = "the scheduler did not get to run it in time (the machine slept or the process stalled)"
	times, count := e.sched.Due(e.nextDue.Add(-time.Nanosecond), now, 2)
	due, first := e.nextDue, e.nextDue
	if count > 0 {
		due, first = times[len(times)-1], times[0]
	}
	e.nextDue = e.sched.Next(due)
	if count > 1 && s.clustered() {
		s.claimPassedOver(e, first, due, why)
	}
	if !s.claim(e, due) {
		return // another node has it
	}
	if late := now.Sub(due); late > s.o.LateLimit {
		s.recordMissed(e, first, due, max(count, 1), fmt.Sprintf("%s; it was %s late", why, late.Round(time.Second)))
		return
	}
	// Alone, the due times passed over were missed (among nodes,
	// claimPassedOver did this).
	if count > 1 && !s.clustered() {
		before, _ := e.sched.Due(first.Add(-time.Nanosecond), due.Add(-time.Nanosecond), 2)
		s.recordMissed(e, first, before[len(before)-1], count-1, why)
	}
	if _, err := s.dispatchLocked(e, store.TriggerSchedule, due); err != nil && !errors.Is(err, ErrStopped) {
		s.log.Error("cron run could not start", "job", name, "err", err)
	}
}

// recordMissed records n scheduled runs from first to last that did not
// happen. e.mu is held.
func (s *Scheduler) recordMissed(e *entry, first, last time.Time, n int, why string) {
	span := first.In(e.sched.Location()).Format(time.RFC3339)
	if n > 1 {
		span = "from " + span + " to " + last.In(e.sched.Location()).Format(time.RFC3339)
	} else {
		span = "due " + span
	}
	more := ""
	if n >= maxMissedCount {
		more = " or more"
	}
	r := store.Run{
		Job: e.name, Trigger: store.TriggerSchedule, Status: store.RunSkipped, Scheduled: last,
		Missed: n, ScriptSHA256: e.job.ScriptSHA256, RunBy: s.o.RunBy,
		Reason: fmt.Sprintf("missed %d scheduled run(s)%s %s: %s; missed runs are not replayed", n, more, span, why),
	}
	if n := s.o.Node; n != nil {
		r.Node, r.NodeID = n.Info.Name, n.Info.ID
	}
	if _, err := s.record(r); err != nil {
		s.log.Error("cron could not record missed runs", "job", e.name, "err", err)
	}
	s.log.Warn("cron job missed runs", "job", e.name, "missed", n, "why", why)
}

// record adds a run record and counts it when final.
func (s *Scheduler) record(r store.Run) (store.Run, error) {
	if r.Created.IsZero() {
		r.Created = s.clock.Now().UTC()
	}
	err := s.writer.do(func(tx *store.Tx) error {
		var err error
		rec := r
		if rec, err = tx.AddRun(r, nil); err == nil {
			r.ID = rec.ID
		}
		return err
	})
	if err != nil {
		return store.Run{}, err
	}
	if r.Status.Final() {
		s.metrics.run(r)
	}
	s.event(r)
	return r, nil
}

func (s *Scheduler) event(r store.Run) {
	if s.onEvent != nil {
		s.onEvent(r)
	}
	if r.Status.Final() && s.o.OnRunFinished != nil {
		s.o.OnRunFinished(r)
	}
}

// dispatchLocked applies the job's overlap policy to a new trigger and
// records the outcome: started, queued, or skipped. e.mu is held.
func (s *Scheduler) dispatchLocked(e *entry, trigger store.RunTrigger, due time.Time) (store.Run, error) {
	if s.stopping.Load() {
		return store.Run{}, ErrStopped
	}
	base := store.Run{
		Job: e.name, Trigger: trigger, Scheduled: due, ScriptSHA256: e.job.ScriptSHA256,
		RunBy: s.o.RunBy, Created: s.clock.Now().UTC(),
	}
	if n := s.o.Node; n != nil {
		base.Node, base.NodeID = n.Info.Name, n.Info.ID
	}
	if e.running == nil {
		return s.startLocked(e, base)
	}
	cur := e.running.id
	switch e.job.Overlap {
	case store.OverlapQueue:
		if e.queued == nil && !e.running.waiting {
			return s.queueLocked(e, base, fmt.Sprintf("waiting for run %d to finish", cur))
		}
		base.Status = store.RunSkipped
		if e.running.waiting {
			base.Reason = fmt.Sprintf("run %d is already waiting for the run on another node to end (the queue holds one)", cur)
		} else {
			base.Reason = fmt.Sprintf("run %d is still running and run %d is already waiting (the queue holds one)", cur, e.queued.id)
		}
		return s.record(base)
	case store.OverlapReplace:
		old := e.queued
		rec, err := s.queueLocked(e, base, fmt.Sprintf("waiting for run %d to stop", cur))
		if err != nil {
			return rec, err
		}
		if old != nil {
			s.finishUnstarted(old, store.RunCancelled, fmt.Sprintf("replaced by run %d before it started", rec.ID))
		}
		e.running.cancel(fmt.Errorf("replaced by run %d", rec.ID))
		return rec, nil
	default:
		base.Status = store.RunSkipped
		base.Reason = fmt.Sprintf("run %d was still running (overlap policy skip)", cur)
		return s.record(base)
	}
}

// startLocked records a run as running (or queued for a free slot) and
// starts it. e.mu is held.
func (s *Scheduler) startLocked(e *entry, base store.Run) (store.Run, error) {
	unlock, err := s.db.TryLockJob(e.name)
	if errors.Is(err, store.ErrBusy) && s.clustered() {
		return s.waitElsewhereLocked(e, base)
	}
	if errors.Is(err, store.ErrBusy) {
		base.Status = store.RunSkipped
		base.Reason = "the job was running in another process (a `scriptrun cron run`, or another scheduler)"
		return s.record(base)
	}
	if err != nil {
		return store.Run{}, err
	}
	a := s.newActive(e, base)
	a.unlockJob = unlock
	select {
	case s.sem <- struct{}{}:
		a.slot = true
		a.run.Status = store.RunRunning
		a.run.Started = s.clock.Now().UTC()
	default:
		a.run.Status = store.RunQueued
		a.run.Reason = fmt.Sprintf("waiting for a free slot (%d runs at a time)", s.o.MaxConcurrentRuns)
	}
	rec, err := s.record(a.run)
	if err != nil {
		a.cancel(err)
		unlock()
		s.releaseSlot(a)
		return store.Run{}, err
	}
	a.id, a.run.ID = rec.ID, rec.ID
	e.running = a
	s.active.Add(1)
	s.runs.Add(1)
	run := a.run
	go s.execute(e, a)
	return run, nil
}

// queueLocked records a run that waits for the running one. e.mu is held.
func (s *Scheduler) queueLocked(e *entry, base store.Run, why string) (store.Run, error) {
	a := s.newActive(e, base)
	a.run.Status = store.RunQueued
	a.run.Reason = why
	rec, err := s.record(a.run)
	if err != nil {
		a.cancel(err)
		return store.Run{}, err
	}
	a.id, a.run.ID = rec.ID, rec.ID
	e.queued = a
	s.active.Add(1)
	return a.run, nil
}

func (s *Scheduler) newActive(e *entry, base store.Run) *activeRun {
	ctx, cancel := context.WithCancelCause(s.runCtx)
	return &activeRun{run: base, job: e.job, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// finishUnstarted closes the record of a queued run that will not run.
func (s *Scheduler) finishUnstarted(a *activeRun, status store.RunStatus, reason string) {
	a.run.Status, a.run.Reason, a.run.Finished = status, reason, s.clock.Now().UTC()
	s.finish(a, nil)
	a.cancel(errors.New(reason))
	s.ended(a)
}

// finish writes a run's final record and releases what it held.
func (s *Scheduler) finish(a *activeRun, output []byte) {
	if a.startWritten != nil {
		<-a.startWritten
	}
	err := s.writer.do(func(tx *store.Tx) error { return tx.UpdateRun(a.run, output) })
	if errors.Is(err, store.ErrTooLarge) {
		err = s.finishTooLarge(a, output)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The job was removed, and its history with it.
	case err != nil:
		s.log.Error("cron could not record the end of a run", "job", a.run.Job, "run", a.run.ID, "status", a.run.Status, "err", err)
	}
	s.metrics.run(a.run)
	if a.unlockJob != nil {
		a.unlockJob()
		a.unlockJob = nil
	}
	s.releaseSlot(a)
	s.active.Add(-1)
}

// releaseSlot frees a's run slot, if it holds one.
func (s *Scheduler) releaseSlot(a *activeRun) {
	if a.slot {
		<-s.sem
		a.slot = false
	}
}

// ended tells waiters that a run is over; by then no entry holds it.
func (s *Scheduler) ended(a *activeRun) {
	s.event(a.run)
	close(a.done)
}

// execute runs a started run to its end, then starts the queued one.
func (s *Scheduler) execute(e *entry, a *activeRun) {
	defer s.runs.Done()
	if !a.slot {
		select {
		case s.sem <- struct{}{}:
			a.slot = true
		case <-a.ctx.Done():
			s.end(e, a, nil, context.Canceled)
			return
		}
		a.run.Status, a.run.Reason = store.RunRunning, ""
		a.run.Started = s.clock.Now().UTC()
		s.recordStart(a)
	} else {
		// Started is when the script begins, after its record was committed.
		a.run.Started = s.clock.Now().UTC()
	}
	if a.run.Trigger == store.TriggerSchedule && !a.run.Scheduled.IsZero() {
		s.metrics.started(a.run.Started.Sub(a.run.Scheduled))
	}
	out := &capture{max: s.o.MaxOutputBytes}
	stopFlush := s.flushOutput(a, out)
	err := s.exec.Execute(a.ctx, a.job, out)
	stopFlush()
	s.end(e, a, out, err)
}

// recordStart records that a queued run starts, without holding up its
// script: the run is already recorded (as queued), so the script begins as
// its new state is written, in the writer's next batch with the other runs
// starting. finish waits for this write before the final one, so the
// records of a run are written in order.
func (s *Scheduler) recordStart(a *activeRun) {
	run := a.run // a.run belongs to the run's goroutine; this is a copy
	done := make(chan struct{})
	a.startWritten = done
	queued := s.writer.start(func(tx *store.Tx) error { return tx.UpdateRun(run, nil) }, func(err error) {
		defer close(done)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("cron could not record the start of a run", "job", run.Job, "run", run.ID, "err", err)
		}
		s.event(run)
	})
	if !queued {
		close(done) // the scheduler stopped recording; so will the end
	}
}

// end records a run's outcome and starts the run waiting behind it.
func (s *Scheduler) end(e *entry, a *activeRun, out *capture, err error) {
	s.releaseSlot(a) // the script is done: another may start while this one is recorded
	status, errText, reason := outcome(a.ctx, err)
	a.run.Status, a.run.Error, a.run.Reason = status, errText, reason
	a.run.Finished = s.clock.Now().UTC()
	var output []byte
	if out != nil {
		output, a.run.OutputBytes, a.run.Truncated = out.output()
		if output == nil {
			output = []byte{}
		}
	}
	s.finish(a, output)
	a.cancel(errRunOver)
	s.log.Log(context.Background(), levelOf(status), "cron run finished", "job", a.run.Job, "run", a.run.ID,
		"status", status, "duration", a.run.Duration().Round(time.Millisecond))

	e.mu.Lock()
	if e.running == a {
		e.running = nil
	}
	s.promoteLocked(e)
	e.mu.Unlock()
	s.ended(a)
}

var errRunOver = errors.New("run over")

func levelOf(st store.RunStatus) slog.Level {
	if st == store.RunSucceeded {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// promoteLocked starts the queued run, if any. e.mu is held.
func (s *Scheduler) promoteLocked(e *entry) {
	a := e.queued
	if a == nil || e.running != nil {
		return
	}
	e.queued = nil
	switch {
	case s.stopping.Load():
		s.finishUnstarted(a, store.RunCancelled, "the scheduler stopped before it started")
		return
	case e.gone:
		s.finishUnstarted(a, store.RunCancelled, errRemoved.Error())
		return
	case a.ctx.Err() != nil:
		s.finishUnstarted(a, store.RunCancelled, context.Cause(a.ctx).Error())
		return
	}
	unlock, err := s.db.TryLockJob(e.name)
	if err != nil {
		s.finishUnstarted(a, store.RunSkipped, "the job was running in another process (a `scriptrun cron run`, or another scheduler)")
		return
	}
	a.unlockJob = unlock
	a.job = e.job // a queued run runs the job as it is when it starts
	a.run.ScriptSHA256 = e.job.ScriptSHA256
	e.running = a
	s.runs.Add(1)
	go s.execute(e, a)
}

// RunNow runs the named job now, through its overlap policy like a
// scheduled run, and returns its record: running, queued, or skipped. It
// does not wait for the run to end (see Wait). Disabled jobs can be run.
func (s *Scheduler) RunNow(ctx context.Context, name string) (store.Run, error) {
	if err := ctx.Err(); err != nil {
		return store.Run{}, err
	}
	e, err := s.entryFor(name)
	if err != nil {
		return store.Run{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		return store.Run{}, fmt.Errorf("job %q %w", name, store.ErrNotFound)
	}
	return s.dispatchLocked(e, store.TriggerManual, time.Time{})
}

// entryFor finds a job's entry, reading the store when the scheduler does
// not know the job yet (not started, or not polled since it was added).
func (s *Scheduler) entryFor(name string) (*entry, error) {
	if s.db == nil {
		return nil, errNoDB
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, ErrStopped
	}
	if e := s.entries[name]; e != nil {
		return e, nil
	}
	var j store.Job
	if err := s.db.View(func(tx *store.Tx) (err error) { j, err = tx.Job(name); return err }); err != nil {
		return nil, err
	}
	if s.started {
		return s.addEntry(j, s.clock.Now(), nil), nil
	}
	e := &entry{name: name, job: j}
	e.sched, e.schedErr = ParseSchedule(j.Schedule, j.TimeZone)
	s.entries[name] = e
	return e, nil
}

// Wait waits until the run id started by this scheduler has ended (or ctx
// is done) and returns its record from the store.
func (s *Scheduler) Wait(ctx context.Context, id uint64) (store.Run, error) {
	if s.db == nil {
		return store.Run{}, errNoDB
	}
	if a := s.findActive(id); a != nil {
		select {
		case <-a.done:
		case <-ctx.Done():
			return store.Run{}, ctx.Err()
		}
	}
	var r store.Run
	err := s.db.View(func(tx *store.Tx) (err error) { r, err = tx.Run(id); return err })
	return r, err
}

// CancelRun cancels run id if it is queued or running here; it ends
// recorded as cancelled with reason. It reports whether it found the run.
func (s *Scheduler) CancelRun(id uint64, reason string) bool {
	for _, e := range s.entryList() {
		e.mu.Lock()
		if a := e.running; a != nil && a.id == id {
			a.cancel(errors.New(reason))
			e.mu.Unlock()
			return true
		}
		if a := e.queued; a != nil && a.id == id {
			e.queued = nil
			s.finishUnstarted(a, store.RunCancelled, reason)
			e.mu.Unlock()
			return true
		}
		e.mu.Unlock()
	}
	return false
}

func (s *Scheduler) entryList() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := make([]*entry, 0, len(s.entries))
	for _, e := range s.entries {
		entries = append(entries, e)
	}
	return entries
}

func (s *Scheduler) findActive(id uint64) *activeRun {
	for _, e := range s.entryList() {
		e.mu.Lock()
		for _, a := range []*activeRun{e.running, e.queued} {
			if a != nil && a.id == id {
				e.mu.Unlock()
				return a
			}
		}
		e.mu.Unlock()
	}
	return nil
}

// Stop stops scheduling, cancels queued runs, gives running runs the grace
// period (cut short when ctx is done) to finish, then cancels them and waits
// for their records (at most stopLimit). Every run ends recorded: succeeded,
// failed or timed out if it finished in time, cancelled otherwise. A stopped
// Scheduler cannot be started again.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.stopping.Store(true)
	started := s.started
	s.mu.Unlock()

	if started {
		s.stopLoop()
		s.loops.Wait()
		if err := s.gs.Shutdown(); err != nil {
			s.log.Warn("cron: stopping gocron", "err", err)
		}
	}
	for _, e := range s.entryList() {
		e.mu.Lock()
		if a := e.queued; a != nil {
			e.queued = nil
			s.finishUnstarted(a, store.RunCancelled, "the scheduler stopped before it started")
		}
		e.mu.Unlock()
	}

	done := make(chan struct{})
	go func() { s.runs.Wait(); close(done) }()
	grace := s.o.GracePeriod
	if dl, ok := ctx.Deadline(); ok {
		grace = min(grace, time.Until(dl))
	}
	timer := s.clock.NewTimer(max(grace, 0))
	defer timer.Stop()
	if s.onGrace != nil {
		s.onGrace()
	}
	var err error
	select {
	case <-done:
	case <-timer.Chan():
	case <-ctx.Done():
	}
	select {
	case <-done:
	default:
		s.log.Warn("cron: cancelling runs still going after the grace period", "grace", grace, "runs", s.active.Load())
		s.runCancel(errShutdown)
		// Cancelled scripts stop within moments (JavaScript is interrupted,
		// requests aborted); their records are written before done.
		limit := time.NewTimer(stopLimit)
		defer limit.Stop()
		select {
		case <-done:
		case <-limit.C:
			err = fmt.Errorf("cron: %d run(s) did not stop within %s of being cancelled", s.active.Load(), stopLimit)
		}
	}
	s.runCancel(ErrStopped)
	s.writer.close()
	if started {
		s.unlock()
	}
	s.log.Info("cron scheduler stopped")
	return err
}
