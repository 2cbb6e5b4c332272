package cron

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// Where says which process schedules a home's jobs, as a Host sees it.
type Where int

// Where a home's jobs are scheduled.
const (
	Nowhere   Where = iota // no process schedules them: they do not run
	Here                   // this process does
	Elsewhere              // another process (another `scriptrun serve`) does
)

// String names the place: "nowhere", "here" or "elsewhere".
func (w Where) String() string {
	switch w {
	case Here:
		return "here"
	case Elsewhere:
		return "elsewhere"
	}
	return "nowhere"
}

// ErrNotScheduled: no process schedules the home's jobs, so a Host without
// RunAlone cannot run one now.
var ErrNotScheduled = errors.New("cron: no scheduler is running on this home")

// Defaults of HostOptions.
const (
	DefaultTakeOverInterval = 5 * time.Second
	DefaultAnswerWait       = 5 * time.Second
)

// HostOptions configure a Host; zero values mean the defaults.
type HostOptions struct {
	// TakeOverInterval is how often a Host whose home's scheduler is held
	// by another process checks whether that process has stopped (default
	// 5 s).
	TakeOverInterval time.Duration
	// AnswerWait is how long RunNow waits for the process that schedules
	// the jobs to take a run request (default 5 s).
	AnswerWait time.Duration
	// RunAlone makes RunNow run the job in this process, unscheduled, when
	// no process schedules the jobs or the one that does not answer (what
	// `scriptrun cron run` does). Without it RunNow fails with
	// ErrNotScheduled or an error wrapping ErrNoScheduler: a serve waiting
	// to take the jobs over does not run them behind the back of the one
	// that will.
	RunAlone bool
	// Logger receives the take-over's events (default: discard).
	Logger *slog.Logger
}

// Host is where a process meets the home's one scheduler: it starts its
// Scheduler if no other process schedules the home's jobs and, while one
// does, takes the jobs over once that one stops (Start); and it runs a job
// now in whichever process schedules the jobs: here, or there through a run
// request in the store (RunNow). `scriptrun serve` hosts its scheduler in
// one; `scriptrun cron run` routes its run through one that never starts.
// Methods are safe for concurrent use.
type Host struct {
	sched *Scheduler
	o     HostOptions
	log   *slog.Logger

	started  atomic.Bool
	lastErr  string // the last failure to start, logged once; touched by Start, then only by the loop
	stopLoop context.CancelFunc
	loop     sync.WaitGroup
}

// NewHost returns a Host for s, which must have a DB and not be started.
func NewHost(s *Scheduler, o HostOptions) *Host {
	if o.TakeOverInterval <= 0 {
		o.TakeOverInterval = DefaultTakeOverInterval
	}
	if o.AnswerWait <= 0 {
		o.AnswerWait = DefaultAnswerWait
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Host{sched: s, o: o, log: log}
}

// Start starts the scheduler or, when it cannot (another process holds
// the home's scheduler), keeps trying every TakeOverInterval in the
// background until Stop, and says so in the log. It reports whether the
// scheduler started now. Call it once.
func (h *Host) Start(ctx context.Context) bool {
	if h.tryStart(ctx) {
		return true
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	h.stopLoop = cancel
	h.loop.Go(func() { h.takeOver(loopCtx) })
	return false
}

// tryStart starts the scheduler once, logging why it could not.
func (h *Host) tryStart(ctx context.Context) bool {
	err := h.sched.Start(ctx)
	if err == nil {
		h.started.Store(true)
		return true
	}
	if msg := err.Error(); msg != h.lastErr {
		h.lastErr = msg
		if errors.Is(err, ErrSchedulerRunning) {
			h.log.Warn("cron: another scriptrun serve runs this home's jobs; this one serves the console and takes the jobs over when that one stops", "err", err)
		} else {
			h.log.Error("cron: the scheduler did not start; retrying", "err", err)
		}
	}
	return false
}

// takeOver starts the scheduler as soon as no other process holds it.
func (h *Host) takeOver(ctx context.Context) {
	t := h.sched.clock.NewTicker(h.o.TakeOverInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
		}
		if h.sched.db.SchedulerRunning() {
			continue // still held: the cheap probe saves Start's wait for the lock
		}
		if h.tryStart(ctx) {
			h.log.Info("cron: took over this home's jobs")
			return
		}
	}
}

// Stop ends the take-over loop, then stops the scheduler: queued runs are
// cancelled, running ones get the grace period, and all end recorded.
func (h *Host) Stop(ctx context.Context) error {
	if h.stopLoop != nil {
		h.stopLoop()
		h.loop.Wait()
	}
	return h.sched.Stop(ctx)
}

// Status says where the home's jobs are scheduled.
func (h *Host) Status() Where {
	switch {
	case h.started.Load():
		return Here
	case h.sched.db.SchedulerRunning():
		return Elsewhere
	}
	return Nowhere
}

// RunNow starts a run of the named job, through its overlap policy, in the
// process that schedules the jobs, and returns its record (running, queued
// or skipped) without waiting for it to end. See Run.
func (h *Host) RunNow(ctx context.Context, name string) (store.Run, error) {
	r, _, err := h.Run(ctx, name)
	return r, err
}

// Run is RunNow that also says where the run happens: Here when this
// Host's scheduler runs the jobs (or, with RunAlone, none answers),
// Elsewhere when the process that does took the request.
func (h *Host) Run(ctx context.Context, name string) (store.Run, Where, error) {
	if h.started.Load() {
		r, err := h.sched.RunNow(ctx, name)
		return r, Here, err
	}
	if h.sched.db.SchedulerRunning() {
		r, err := RequestRun(ctx, h.sched.db, name, h.o.AnswerWait)
		switch {
		case err == nil:
			return r, Elsewhere, nil
		case !errors.Is(err, ErrNoScheduler):
			return store.Run{}, Elsewhere, err
		case !h.o.RunAlone:
			return store.Run{}, Elsewhere, fmt.Errorf("%w: the process that schedules this home's jobs did not take the run within %s", err, h.o.AnswerWait)
		}
		h.log.Warn("cron: the process that schedules the jobs did not answer; running the job here", "job", name, "wait", h.o.AnswerWait)
	} else if !h.o.RunAlone {
		return store.Run{}, Nowhere, ErrNotScheduled
	}
	r, err := h.sched.RunNow(ctx, name)
	return r, Here, err
}

// Wait waits until run id has ended, wherever it runs, and returns its
// final record: a run of this process is waited for, one of another
// process followed in the store.
func (h *Host) Wait(ctx context.Context, id uint64) (store.Run, error) {
	if h.sched.findActive(id) != nil {
		return h.sched.Wait(ctx, id)
	}
	return FollowRun(ctx, h.sched.db, id, 200*time.Millisecond)
}

// CancelRun cancels run id if it is queued or running in this process or,
// on a clustered store, asks the node that runs it to; it ends recorded as
// cancelled with reason. It reports whether it was (or was asked to be).
func (h *Host) CancelRun(id uint64, reason string) bool {
	return h.sched.CancelAnywhere(id, reason)
}

// Sync applies job changes now; a Host that does not schedule has none to
// apply (the process that does notices them at its next poll).
func (h *Host) Sync(ctx context.Context) error {
	if !h.started.Load() {
		return nil
	}
	return h.sched.Sync(ctx)
}
