package runtime

import (
	"context"
	"time"
)

// deadlineHint is a context that reports the deadline a run's watch will
// enforce (Options.Timeout) without enforcing it itself: the watch cancels
// the context when the time comes, and says why. Bindings read the deadline
// to decide whether a retry's wait still fits in the run.
type deadlineHint struct {
	context.Context
	deadline time.Time
}

// Deadline reports when the run's watch stops the run, or the parent's
// deadline when that is sooner.
func (c deadlineHint) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// withDeadlineHint returns ctx reporting, when timeout is set, the deadline
// it ends at from now on.
func withDeadlineHint(ctx context.Context, timeout time.Duration) context.Context {
	if timeout <= 0 {
		return ctx
	}
	return deadlineHint{ctx, time.Now().Add(timeout)}
}
