package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/web"
)

// takeOverInterval is how often a serve whose home's scheduler is held by
// another process checks whether that process has stopped, to take over.
const takeOverInterval = 5 * time.Second

// cronHost is the cron scheduler serve hosts. It starts with serve or, while
// another process (another serve) holds the home's scheduler, once that one
// stops. It is what the console's cron pages act through (web.Scheduler):
// runs start here when this serve schedules the jobs, and are handed to the
// process that does otherwise, as `scriptrun cron run` hands them.
type cronHost struct {
	db    *store.DB
	sched *cron.Scheduler
	log   *slog.Logger

	started atomic.Bool
	lastErr string // the last failure to start, so that retries log it once

	stopLoop context.CancelFunc
	loop     sync.WaitGroup
}

var _ web.Scheduler = (*cronHost)(nil)

// start starts the scheduler, or, when it cannot, keeps trying every
// interval in the background (until stop) and says so: serve keeps serving
// the console either way. It reports whether the scheduler started now.
func (h *cronHost) start(ctx context.Context, interval time.Duration) bool {
	if h.tryStart(ctx) {
		return true
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	h.stopLoop = cancel
	h.loop.Go(func() { h.takeOver(loopCtx, interval) })
	return false
}

// tryStart starts the scheduler once, logging why it could not.
func (h *cronHost) tryStart(ctx context.Context) bool {
	err := h.sched.Start(ctx)
	if err == nil {
		h.started.Store(true)
		return true
	}
	if msg := err.Error(); msg != h.lastErr {
		h.lastErr = msg
		if errors.Is(err, cron.ErrSchedulerRunning) {
			h.log.Warn("cron: another scriptrun serve runs this home's jobs; this one serves the console and takes the jobs over when that one stops", "err", err)
		} else {
			h.log.Error("cron: the scheduler did not start; retrying", "err", err)
		}
	}
	return false
}

// takeOver starts the scheduler as soon as no other process holds it.
func (h *cronHost) takeOver(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if h.db.SchedulerRunning() {
			continue // still held: the cheap probe saves Start's wait for the lock
		}
		if h.tryStart(ctx) {
			h.log.Info("cron: took over this home's jobs")
			return
		}
	}
}

// stop ends the take-over loop, then stops the scheduler: queued runs are
// cancelled, running ones get the grace period, and all end recorded.
func (h *cronHost) stop(ctx context.Context) error {
	if h.stopLoop != nil {
		h.stopLoop()
		h.loop.Wait()
	}
	return h.sched.Stop(ctx)
}

// Status says where the home's jobs are scheduled.
func (h *cronHost) Status() web.SchedulerStatus {
	switch {
	case h.started.Load():
		return web.SchedulerHere
	case h.db.SchedulerRunning():
		return web.SchedulerElsewhere
	}
	return web.SchedulerNone
}

// errNoScheduler: "Run now" while no process schedules the home's jobs.
var errNoScheduler = errors.New("no scheduler is running on this home, so the job cannot be run from the console now; run it with `scriptrun cron run NAME`, or wait for this serve to take the jobs over")

// RunNow starts a run of the job in the process that schedules the jobs:
// here, or in another serve through a run request.
func (h *cronHost) RunNow(ctx context.Context, name string) (store.Run, error) {
	if h.started.Load() {
		return h.sched.RunNow(ctx, name)
	}
	if !h.db.SchedulerRunning() {
		return store.Run{}, errNoScheduler
	}
	r, err := cron.RequestRun(ctx, h.db, name, serveAnswerWait)
	if errors.Is(err, cron.ErrNoScheduler) {
		return store.Run{}, fmt.Errorf("the serve that runs this home's jobs did not take the run within %s", serveAnswerWait)
	}
	return r, err
}

// CancelRun cancels a run queued or running in this serve.
func (h *cronHost) CancelRun(id uint64, reason string) bool {
	return h.started.Load() && h.sched.CancelRun(id, reason)
}

// Sync applies job changes now; a serve that does not schedule has none to apply.
func (h *cronHost) Sync(ctx context.Context) error {
	if !h.started.Load() {
		return nil
	}
	return h.sched.Sync(ctx)
}
