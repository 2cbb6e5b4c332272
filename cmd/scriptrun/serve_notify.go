package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scriptrun/scriptrun/notify"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// serveNotify runs notifications in serve: the token manager's events (its
// own and its runs') and the scheduler's finished runs make it check at
// once; it also checks every minute and delivers what it finds (package
// notify). It exists before the store is open, since the token manager's
// listener is set before the manager is made; events before start are
// caught by the first check.
type serveNotify struct {
	logger       *slog.Logger
	failingAfter time.Duration
	svc          atomic.Pointer[notify.Service]
}

func newServeNotify(logger *slog.Logger, failingAfter time.Duration) *serveNotify {
	return &serveNotify{logger: logger, failingAfter: failingAfter}
}

// tokenEvents returns a token-manager listener that tells next, then
// notifications.
func (n *serveNotify) tokenEvents(next func(tokens.Event)) func(tokens.Event) {
	return func(ev tokens.Event) {
		if next != nil {
			next(ev)
		}
		if s := n.svc.Load(); s != nil {
			s.TokenEvent(ev)
		}
	}
}

// runFinished is the scheduler's cron.Options.OnRunFinished.
func (n *serveNotify) runFinished(r store.Run) {
	if s := n.svc.Load(); s != nil {
		s.RunFinished(r)
	}
}

// service is the running notification service, nil before start.
func (n *serveNotify) service() *notify.Service { return n.svc.Load() }

// start runs the service on db until the returned stop is called.
func (n *serveNotify) start(db *store.DB) (stop func()) {
	s := notify.New(notify.Options{DB: db, Logger: n.logger, FailingAfter: n.failingAfter})
	n.svc.Store(s)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	return func() { cancel(); wg.Wait() }
}
