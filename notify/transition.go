package notify

import (
	"strconv"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// Conditions of a watched token or job (store.WatchState.Condition).
const (
	condOK      = "ok"
	condFailing = "failing" // token: refreshes failing; job: its last counted run failed or was lost
	condReauth  = "reauth"  // token: reauth_required
	condIdle    = "idle"    // token: not authorized (never, or revoked)
)

// runLost is the status of a run whose node went away (recorded by a
// surviving node, cron/cluster.go).
const runLost = store.RunLost

// tokenCondition is where a token stands, for notifications.
func tokenCondition(t store.Token) string {
	switch {
	case t.State == store.StateReauthRequired:
		return condReauth
	case t.State != store.StateAuthorized:
		return condIdle
	case t.RefreshFailures > 0:
		return condFailing
	}
	return condOK
}

// tokenLimits are the time-based thresholds of token events.
type tokenLimits struct {
	failingAfter   time.Duration // refresh failing this long → token.refresh_failing
	expiringWithin time.Duration // static expiry this close → token.expiring
}

// tokenStep compares token t with what was last seen of it (st, zero when
// never) at now, and returns the new state and the events to announce.
func tokenStep(t store.Token, st store.WatchState, now time.Time, lim tokenLimits) (store.WatchState, []Event) {
	subject := "token:" + t.Name
	next := st
	next.Subject = subject
	var evs []Event
	add := func(typ, episode string, at time.Time) {
		evs = append(evs, Event{ID: eventID(typ, subject, episode), Type: typ, Time: at, Data: tokenData(t)})
	}
	announced := st.Condition == condReauth || (st.Condition == condFailing && st.Notified)
	switch cond := tokenCondition(t); cond {
	case condReauth:
		if st.Condition != condReauth {
			since := orNow(t.RefreshFailed, now)
			next = store.WatchState{Subject: subject, Condition: condReauth, Since: since, Notified: true, Expiring: st.Expiring}
			add(store.EventTokenReauthRequired, stamp(since), now)
		}
	case condFailing:
		if st.Condition != condFailing {
			next.Condition, next.Since, next.Notified = condFailing, orNow(t.RefreshFailed, now), false
		}
		if !next.Notified && now.Sub(next.Since) >= lim.failingAfter {
			next.Notified = true
			add(store.EventTokenRefreshFailing, stamp(next.Since), now)
		}
	case condOK:
		if announced {
			add(store.EventTokenRecovered, stamp(orNow(t.LastRefreshed, now)), now)
		}
		next.Condition, next.Since, next.Notified = condOK, time.Time{}, false
	case condIdle:
		if !announced { // a revoked token that was announced stays so: its next authorization recovers it
			next.Condition, next.Since, next.Notified = condIdle, time.Time{}, false
		}
	}
	if t.Static() && !t.Expires.IsZero() && t.Expires.Sub(now) <= lim.expiringWithin && !st.Expiring.Equal(t.Expires) {
		next.Expiring = t.Expires
		ev := Event{ID: eventID(store.EventTokenExpiring, subject, stamp(t.Expires)), Type: store.EventTokenExpiring, Time: now, Data: tokenData(t)}
		ev.Data["expires"] = stamp(t.Expires)
		evs = append(evs, ev)
	}
	return next, evs
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() || t.After(now) {
		return now
	}
	return t
}

// Outcomes of a run, for notifications.
type outcome int

const (
	outPending outcome = iota // not over yet: later runs wait for it
	outNeutral                // skipped or cancelled: says nothing of the job's health
	outSuccess
	outFailure
	outLost
)

// runOutcome maps a run's status to what it says of its job.
func runOutcome(s store.RunStatus) outcome {
	switch s {
	case store.RunQueued, store.RunRunning:
		return outPending
	case store.RunSucceeded:
		return outSuccess
	case store.RunFailed, store.RunTimedOut:
		return outFailure
	case runLost:
		return outLost
	}
	return outNeutral
}

// firstSight is how far back runs count for a job seen for the first time.
const firstSight = 10 * time.Minute

// jobStep walks a job's runs (oldest first) past what was last seen of it
// (st, zero when never) and returns the new state and the events to
// announce: cron.failed when a run fails after a success, cron.lost for
// every lost run, cron.recovered at the first success after either.
func jobStep(job string, runs []store.Run, st store.WatchState, known bool, now time.Time) (store.WatchState, []Event) {
	subject := "job:" + job
	next := st
	next.Subject = subject
	if !known {
		next.Condition = condOK
	}
	var evs []Event
	for _, r := range runs {
		if r.ID <= next.LastRun {
			continue
		}
		o := runOutcome(r.Status)
		if o == outPending {
			break
		}
		next.LastRun = r.ID
		if !known && r.Finished.Before(now.Add(-firstSight)) {
			o = outNeutral // history from before anyone watched
		}
		typ := ""
		switch {
		case o == outSuccess && next.Condition == condFailing:
			typ, next.Condition = store.EventCronRecovered, condOK
		case o == outFailure && next.Condition != condFailing:
			typ, next.Condition = store.EventCronFailed, condFailing
		case o == outLost:
			typ, next.Condition = store.EventCronLost, condFailing
		}
		if typ != "" {
			evs = append(evs, Event{ID: eventID(typ, subject, strconv.FormatUint(r.ID, 10)), Type: typ, Time: orNow(r.Finished, now), Data: runData(r)})
		}
	}
	return next, evs
}
