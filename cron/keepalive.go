package cron

import (
	"context"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// keepAliveRetry is how long the keep-alive leaves a token alone after a
// refresh of it failed (the failure is in the token's lastMessage).
const keepAliveRetry = time.Hour

// keepAliveLoop refreshes idle tokens now and every KeepAliveInterval.
func (s *Scheduler) keepAliveLoop(ctx context.Context) {
	defer s.loops.Done()
	t := s.clock.NewTicker(s.o.KeepAliveInterval)
	defer t.Stop()
	for {
		s.keepAlive(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
		}
	}
}

// idleToken reports whether t should be refreshed to keep its refresh token
// from going stale: it can be refreshed (active, authorized, has a refresh
// token), nothing used or refreshed it for idle, and no refresh of it failed
// in the last keepAliveRetry.
func idleToken(t store.Token, now time.Time, idle time.Duration) bool {
	if !t.Active || t.State != store.StateAuthorized || t.Secret.RefreshToken == "" {
		return false
	}
	if t.RefreshFailures > 0 && now.Sub(t.RefreshFailed) < keepAliveRetry {
		return false
	}
	return now.Sub(lastActivity(t)) >= idle
}

// lastActivity is when the token was last used or refreshed (authorizing
// counts as refreshing).
func lastActivity(t store.Token) time.Time {
	if t.LastUsed.After(t.LastRefreshed) {
		return t.LastUsed
	}
	return t.LastRefreshed
}

// keepAlive refreshes every idle token once. Failures are recorded in the
// token's lastMessage by the refresher (the token manager) and counted.
func (s *Scheduler) keepAlive(ctx context.Context) (refreshed, failed int) {
	var toks []store.Token
	if err := s.db.View(func(tx *store.Tx) (err error) {
		toks, err = tx.Tokens()
		_, err = store.DamagedRecords(err) // damaged tokens are not refreshed
		return err
	}); err != nil {
		s.log.Warn("cron keep-alive: reading tokens failed", "err", err)
		return 0, 0
	}
	now := s.clock.Now()
	for _, t := range toks {
		if ctx.Err() != nil {
			return refreshed, failed
		}
		if !idleToken(t, now, s.o.KeepAliveIdle) {
			continue
		}
		if _, err := s.o.Refresher.Refresh(ctx, t.Name); err != nil {
			failed++
			s.metrics.keepAliveRefresh(t.Name, false)
			s.log.Warn("cron keep-alive: refreshing an idle token failed", "token", t.Name, "err", err)
			continue
		}
		refreshed++
		s.metrics.keepAliveRefresh(t.Name, true)
		s.log.Info("cron keep-alive: refreshed an idle token", "token", t.Name, "idle_for", now.Sub(lastActivity(t)).Round(time.Minute))
	}
	return refreshed, failed
}
